"""The live console and the calendar: the console section of the event page (served alone
for the page's script to swap in while the event runs) and a month of events."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.views.generic import DetailView, TemplateView

from dispatch import console, event_calendar, selectors
from dispatch.models import Event
from enrollment.models import Program
from portal.roles import Cap
from portal.views import UtilityViewMixin


def console_context(request, event: Event, *, now) -> dict:
    """The live console's part of the event page, also served alone by ``EventLiveView``."""
    live_url = reverse("utility:event_live", args=[request.utility.slug, event.pk])
    report_url = reverse("utility:event_report", args=[request.utility.slug, event.pk])
    return {
        "console": console.console(event, now=now, tz=request.utility.tzinfo, query=request.GET),
        "live_url": live_url,
        "report_url": report_url,
        "can_view_devices": request.access.can(Cap.VIEW_DEVICES),
    }


class EventLiveView(UtilityViewMixin, DetailView):
    """The console section of the event page alone, as HTML: what the page's script swaps in
    every few seconds while the event is notified or running."""

    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/_event_live.html"
    context_object_name = "event"

    def get_queryset(self):
        return selectors.event_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        return {**ctx, **console_context(self.request, self.object, now=timezone.now())}

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        response["Cache-Control"] = "no-store"
        return response


class EventCalendarView(UtilityViewMixin, TemplateView):
    """A month of events (one program, or all) in the utility's time zone. A bad month or
    program says so and shows the current month or every program instead."""

    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/event_calendar.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        tz = self.request.utility.tzinfo
        now = timezone.now()
        problems = []
        programs = list(Program.objects.order_by("name", "id"))
        program = None
        if raw := self.request.GET.get("program", "").strip():
            try:
                program = event_calendar.parse_program(raw, programs)
            except event_calendar.BadCalendarParameter as exc:
                problems.append(f"{exc} Showing every program.")
        month = now.astimezone(tz).date().replace(day=1)
        if raw := self.request.GET.get("month", "").strip():
            try:
                month = event_calendar.parse_month(raw)
            except event_calendar.BadCalendarParameter as exc:
                problems.append(f"{exc} Showing the current month.")
        ctx.update(
            calendar=event_calendar.month_calendar(month=month, tz=tz, now=now, program=program),
            programs=programs,
            program=program,
            problems=problems,
            can_dispatch=self.request.access.can(Cap.DISPATCH_EVENTS),
        )
        return ctx

"""Event pages: list, schedule (with capacity preview and guardrails), detail and actions."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from dispatch import selectors, services
from dispatch.filters import EventFilter
from dispatch.forms import EventActionForm, EventForm
from dispatch.guardrails import RuleResult
from dispatch.models import Event
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin


class EventListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_EVENTS
    filterset_class = EventFilter
    template_name = "dispatch/event_list.html"
    context_object_name = "events"
    paginate_by = 50

    def base_queryset(self):
        return selectors.event_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        now = timezone.now()
        ctx["rows"] = [(e, Event.Status(e.status_at(now))) for e in ctx["events"]]
        ctx["can_dispatch"] = self.request.access.can(Cap.DISPATCH_EVENTS)
        return ctx


class EventCreateView(UtilityViewMixin, FormView):
    """ "Preview capacity" re-renders with the preview and the guardrail results; "Schedule"
    commits, or shows each failed rule with the form as entered."""

    required_capability = Cap.DISPATCH_EVENTS
    template_name = "dispatch/event_form.html"
    form_class = EventForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def form_valid(self, form):
        data = form.cleaned_data
        proposal = {
            "program": data["program"],
            "starts_at": data["starts_at"],
            "duration_minutes": data["duration_minutes"],
        }
        if "schedule" in self.request.POST:
            try:
                event = services.schedule_event(
                    utility=self.request.utility,
                    event_type=data["event_type"],
                    notification_lead_minutes=data["notification_lead_minutes"],
                    randomize_start_minutes=data["randomize_start_minutes"],
                    target_kw=data["target_kw"],
                    priority=data["priority"],
                    actor=self.request.user,
                    **proposal,
                )
            except services.GuardrailsFailed as exc:
                return self._preview(form, data, proposal, exc.results, refused=exc.message)
            except services.EventError as exc:
                return self._preview(form, data, proposal, None, refused=exc.message)
            messages.success(self.request, f"Scheduled {event}.")
            return HttpResponseRedirect(
                reverse("utility:event_detail", args=[self.request.utility.slug, event.pk])
            )
        return self._preview(form, data, proposal, None)

    def _preview(self, form, data, proposal, results: list[RuleResult] | None, refused=""):
        if results is None:
            results = services.evaluate(priority=data["priority"], now=timezone.now(), **proposal)
        capacity = selectors.capacity_preview(event_type=data["event_type"], **proposal)
        return self.render_to_response(
            self.get_context_data(form=form, results=results, capacity=capacity, refused=refused)
        )


class EventDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/event_detail.html"
    context_object_name = "event"

    def get_queryset(self):
        return selectors.event_list().prefetch_related("vehicles")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        event = self.object
        status = event.status_at(timezone.now())
        can_dispatch = self.request.access.can(Cap.DISPATCH_EVENTS)
        ctx.update(
            status=Event.Status(status),
            tz=self.request.utility.tzinfo,
            history=selectors.event_history(event),
            can_cancel=can_dispatch and status in Event.CANCELLABLE,
            can_end_early=can_dispatch and status in Event.ENDABLE,
            can_extend=can_dispatch and status in Event.EXTENDABLE,
        )
        ctx.setdefault("action_form", None)
        return ctx


class EventActionView(UtilityViewMixin, View):
    """One action (POST) from the event page. A page loaded before someone else changed the
    event (or a second click) changes nothing and says why; a bad form shows the page again."""

    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]
    done = ""

    def act(self, event, data):
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        event = get_object_or_404(selectors.event_list(), pk=kwargs["pk"])
        form = EventActionForm(request.POST)
        if not form.is_valid():
            detail = EventDetailView(request=request, kwargs=kwargs, object=event)
            detail.object = event
            return detail.render_to_response(
                detail.get_context_data(object=event, action_form=form)
            )
        try:
            self.act(event, form.cleaned_data)
        except services.EventError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.done)
        return HttpResponseRedirect(
            reverse("utility:event_detail", args=[request.utility.slug, event.pk])
        )

    def common(self, data) -> dict:
        return {
            "actor": self.request.user,
            "expected_modification": data["expected_modification"],
            "reason": data["reason"],
        }


class EventCancelView(EventActionView):
    done = "The event is cancelled."

    def act(self, event, data):
        services.cancel_event(event=event, **self.common(data))


class EventEndEarlyView(EventActionView):
    done = "The event has ended."

    def act(self, event, data):
        services.end_early(event=event, **self.common(data))


class EventExtendView(EventActionView):
    done = "The event is extended."

    def act(self, event, data):
        if not data["minutes"]:
            raise services.EventError("Say by how many minutes to extend the event.")
        services.extend(event=event, minutes=data["minutes"], **self.common(data))

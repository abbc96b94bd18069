"""Event pages: list, schedule (with capacity preview and guardrails), detail and actions; the
live console and the calendar are in ``console``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from dispatch import selectors
from dispatch.execution.commands import restore_stagger
from dispatch.filters import EventFilter
from dispatch.forms import EndEarlyForm, EventActionForm, EventForm, parse_vins
from dispatch.guardrails import RuleResult
from dispatch.models import Event
from dispatch.services import events as event_services
from dispatch.services.errors import EventError, GuardrailsFailed, TargetingError
from dispatch.views.console import console_context
from portal.identity.reauth import RecentAuthRequiredMixin
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
        # The calendar link keeps the list's program.
        form = self.filterset.form
        ctx["calendar_program"] = form.cleaned_data.get("program") if form.is_valid() else None
        return ctx


class EventCreateView(UtilityViewMixin, RecentAuthRequiredMixin, FormView):
    """ "Preview capacity" re-renders with the preview and the guardrail results; "Schedule"
    commits, or shows each failed rule with the form as entered. Scheduling anything but a
    test event needs a recent authentication."""

    required_capability = Cap.DISPATCH_EVENTS
    template_name = "dispatch/event_form.html"
    form_class = EventForm

    def needs_recent_authentication(self, request) -> bool:
        return "schedule" in request.POST and request.POST.get("event_type") != Event.Type.TEST

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def get_initial(self):
        # ?program=<id> opens the form on a program (its feeders are listed).
        initial = super().get_initial()
        if program := self.request.GET.get("program"):
            initial["program"] = program
        return initial

    def post(self, request, *args, **kwargs):
        if "find_vehicles" in request.POST or "add_vehicles" in request.POST:
            return self._vehicle_picker()
        return super().post(request, *args, **kwargs)

    def _vehicle_picker(self):
        """The vehicle picker without JavaScript: "Find" lists the chosen program's matching
        vehicles, "Add ticked" appends their VINs to the list; the form keeps what was typed
        and is not judged until previewed or scheduled."""
        post = self.request.POST
        vins = parse_vins(post.get("vins", ""))
        initial = {
            name: post.getlist(name)
            if getattr(field.widget, "allow_multiple_selected", False)
            else post.get(name)
            for name, field in self.form_class.base_fields.items()
        }
        if "add_vehicles" in post and (ticked := parse_vins(" ".join(post.getlist("pick")))):
            vins = list(dict.fromkeys([*vins, *ticked]))
            initial["targeting"] = Event.Targeting.NAMED_VEHICLES
        initial["vins"] = "\n".join(vins)
        form = self.form_class(utility=self.request.utility, initial=initial)
        query = post.get("vehicle_query", "").strip()[:40]
        program = form.program_given()
        matches = (
            selectors.search_dispatchable_vehicles(program=program, query=query)
            if program and query
            else []
        )
        return self.render_to_response(
            self.get_context_data(
                form=form,
                vehicle_query=query,
                vehicle_matches=matches,
                vehicle_limit=selectors.VEHICLE_SEARCH_LIMIT,
                searched=True,
            )
        )

    def form_valid(self, form):
        data = form.cleaned_data
        proposal = {
            "program": data["program"],
            "starts_at": data["starts_at"],
            "duration_minutes": data["duration_minutes"],
        }
        chosen = data["targets"]
        targets = {
            "targeting": chosen.targeting,
            "vehicle_ids": chosen.vehicle_ids,
            "group_ids": chosen.group_ids,
            "feeders": chosen.feeders,
        }
        if "schedule" in self.request.POST:
            try:
                event = event_services.schedule_event(
                    utility=self.request.utility,
                    event_type=data["event_type"],
                    notification_lead_minutes=data["notification_lead_minutes"],
                    randomize_start_minutes=data["randomize_start_minutes"],
                    target_kw=data["target_kw"],
                    priority=data["priority"],
                    actor=self.request.user,
                    **proposal,
                    **targets,
                )
            except GuardrailsFailed as exc:
                return self._preview(
                    form, data, proposal, targets, exc.results, refused=exc.message
                )
            except TargetingError as exc:  # changed since the form was checked
                form.add_target_error(exc)
                return self.form_invalid(form)
            except EventError as exc:
                return self._preview(form, data, proposal, targets, None, refused=exc.message)
            messages.success(self.request, f"Scheduled {event}.")
            return HttpResponseRedirect(
                reverse("utility:event_detail", args=[self.request.utility.slug, event.pk])
            )
        return self._preview(form, data, proposal, targets, None)

    def _preview(self, form, data, proposal, targets, results: list[RuleResult] | None, refused=""):
        if results is None:
            results = event_services.evaluate(
                priority=data["priority"],
                now=timezone.now(),
                event_type=data["event_type"],
                **proposal,
            )
        capacity = selectors.capacity_preview(event_type=data["event_type"], **proposal, **targets)
        targeted = selectors.targeted_vehicles(program=proposal["program"], **targets).count()
        return self.render_to_response(
            self.get_context_data(
                form=form, results=results, capacity=capacity, refused=refused, targeted=targeted
            )
        )


class EventDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/event_detail.html"
    context_object_name = "event"

    def get_queryset(self):
        return selectors.event_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        event = self.object
        now = timezone.now()
        status = event.status_at(now)
        can_dispatch = self.request.access.can(Cap.DISPATCH_EVENTS)
        ctx.update(
            status=Event.Status(status),
            tz=self.request.utility.tzinfo,
            history=selectors.event_history(event),
            targets=selectors.targets_display(event),
            grid_signal=(
                event.grid_signals.select_related("source").order_by("-modification_number").first()
                if event.source == Event.Source.GRID_PROTOCOL
                else None
            ),
            can_cancel=can_dispatch and status in Event.CANCELLABLE,
            can_end_early=can_dispatch and status in Event.ENDABLE,
            can_extend=can_dispatch and status in Event.EXTENDABLE,
            **console_context(self.request, event, now=now),
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
        except EventError as exc:
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
        event_services.cancel_event(event=event, **self.common(data))


class EventEndEarlyView(EventActionView):
    """Ends a running event once confirmed with a reason; anything less shows the
    confirmation page again, saying what is missing (no JavaScript needed)."""

    done = "The event has ended."

    def post(self, request, *args, **kwargs):
        event = get_object_or_404(selectors.event_list(), pk=kwargs["pk"])
        form = EndEarlyForm(request.POST)
        if not form.is_valid():
            return render_end_early_confirm(request, event, form)
        try:
            event_services.end_early(event=event, **self.common(form.cleaned_data))
        except EventError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.done)
        return HttpResponseRedirect(
            reverse("utility:event_detail", args=[request.utility.slug, event.pk])
        )


def render_end_early_confirm(request, event: Event, form: EndEarlyForm):
    return TemplateResponse(
        request,
        "dispatch/event_end_early_confirm.html",
        {
            "event": event,
            "form": form,
            "status": Event.Status(event.status_at(timezone.now())),
            "stagger_minutes": int(restore_stagger().total_seconds() // 60),
        },
    )


class EventEndEarlyConfirmView(UtilityViewMixin, View):
    """The confirmation step of "End now": what ending does, and the reason it needs."""

    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        event = get_object_or_404(selectors.event_list(), pk=kwargs["pk"])
        form = EndEarlyForm(
            initial={"expected_modification": event.modification_number, "confirm": True}
        )
        return render_end_early_confirm(request, event, form)


class EventExtendView(EventActionView):
    done = "The event is extended."

    def act(self, event, data):
        if not data["minutes"]:
            raise EventError("Say by how many minutes to extend the event.")
        event_services.extend(event=event, minutes=data["minutes"], **self.common(data))

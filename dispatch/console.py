"""Reads for the live event console (the event page and its ``live/`` fragment): counters,
re-plans, the per-vehicle table and the chart's intervals. Every read is a fixed number of
queries whatever the number of participants, so the page can be re-fetched every few
seconds during an event with thousands of vehicles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from devices.models import DeviceCommand, OptOut
from devices.selectors import LatestState, latest_states
from dispatch.charts import EventChart, event_chart
from dispatch.measurement.intervals import IntervalSummary, interval_summary
from dispatch.models import Event, EventParticipant, EventPlanRun

COMMAND_SOURCE = "dispatch.event"
# The console is live while the event can still change on its own; it opens once planned.
CONSOLE_STATUSES = {Event.Status.NOTIFIED, Event.Status.ACTIVE, Event.Status.COMPLETED}
LIVE_STATUSES = {Event.Status.NOTIFIED, Event.Status.ACTIVE}
PARTICIPANTS_PER_PAGE = 50
# The command-status filter's value for vehicles that got no command for this event.
NO_COMMAND = "none"
Role = EventParticipant.Role
Status = DeviceCommand.Status
# Dispatched vehicles first, then the ones that could still step in, then the rest.
ROLE_ORDER = [Role.SELECTED, Role.RESERVE, Role.DROPPED, Role.EXCLUDED]


def refresh_seconds() -> int:
    """How often the page re-fetches a live console."""
    seconds = settings.DISPATCH_CONSOLE_REFRESH_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        raise ValueError(
            f"DISPATCH_CONSOLE_REFRESH_SECONDS must be a whole number ≥ 1, not {seconds!r}."
        )
    return seconds


def event_commands(event: Event) -> QuerySet[DeviceCommand]:
    return DeviceCommand.objects.filter(source_type=COMMAND_SOURCE, source_id=str(event.pk))


@dataclass(frozen=True)
class Counters:
    roles: dict[str, int]  # participant role → vehicles
    commands: dict[str, int]  # command status → commands, every status present
    opt_outs: int  # vehicles that opted out of this event (for it, or for a range covering it)
    excluded_reasons: list[tuple[str, int]]  # most common first
    dropped_reasons: list[tuple[str, int]]

    @property
    def participants(self) -> int:
        return sum(self.roles.values())

    @property
    def failures(self) -> int:
        """Commands the vehicle's cloud refused or could not carry out."""
        return self.commands[Status.FAILED] + self.commands[Status.REJECTED]

    @property
    def role_rows(self) -> list[tuple[str, str, int]]:
        return [(role.value, role.label, self.roles.get(role, 0)) for role in ROLE_ORDER]

    @property
    def command_rows(self) -> list[tuple[str, str, int]]:
        return [(s.value, s.label, self.commands[s]) for s in Status]

    @property
    def command_total(self) -> int:
        return sum(self.commands.values())


def _by_count(counter: Counter) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def counters(event: Event) -> Counters:
    """Three queries: participants by role and reason, commands by status, opt-outs."""
    roles: Counter = Counter()
    reasons: dict[str, Counter] = {Role.EXCLUDED: Counter(), Role.DROPPED: Counter()}
    rows = (
        EventParticipant.objects.filter(event=event)
        .order_by()
        .values_list("role", "reason")
        .annotate(n=Count("id"))
    )
    for role, reason, n in rows:
        roles[role] += n
        if role in reasons:
            reasons[role][reason or "No reason given"] += n
    commands = dict.fromkeys(Status, 0)
    for status, n in event_commands(event).order_by().values_list("status").annotate(n=Count("id")):
        commands[Status(status)] = n
    opt_outs = (
        OptOut.objects.filter(
            Q(event_ref=str(event.pk))
            | Q(
                starts_at__lt=event.ends_at,
                ends_at__gt=event.starts_at,
                vehicle_id__in=EventParticipant.objects.filter(event=event).values("vehicle_id"),
            )
        )
        .order_by()
        .values("vehicle_id")
        .distinct()
        .count()
    )
    return Counters(
        roles=dict(roles),
        commands=commands,
        opt_outs=opt_outs,
        excluded_reasons=_by_count(reasons[Role.EXCLUDED]),
        dropped_reasons=_by_count(reasons[Role.DROPPED]),
    )


def plan_runs(event: Event) -> list[EventPlanRun]:
    return list(EventPlanRun.objects.filter(event=event).order_by("created_at", "id"))


@dataclass(frozen=True)
class ParticipantFilter:
    role: str = ""
    command_status: str = ""
    errors: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.role or self.command_status)

    @classmethod
    def from_query(cls, query) -> ParticipantFilter:
        """The table's filters from the query string; an unknown value is named in an error
        and ignored, so a stale or hand-edited link still shows the console."""
        role, command_status, errors = query.get("role", ""), query.get("command", ""), []
        if role and role not in Role.values:
            errors.append(f"Unknown role “{role}”: showing every role.")
            role = ""
        if command_status and command_status not in [*Status.values, NO_COMMAND]:
            errors.append(f"Unknown command status “{command_status}”: showing every status.")
            command_status = ""
        return cls(role=role, command_status=command_status, errors=tuple(errors))


ROLE_CHOICES = Role.choices
COMMAND_CHOICES = [*Status.choices, (NO_COMMAND, "No command")]


def participants(event: Event, *, filters: ParticipantFilter) -> QuerySet[EventParticipant]:
    """The event's participants with their vehicle and their latest command for this event
    (status and reason, as ``command_status`` / ``command_reason``), in one query."""
    latest = (
        event_commands(event)
        .filter(vehicle_id=OuterRef("vehicle_id"))
        .order_by("-created_at", "-id")
    )
    query = (
        EventParticipant.objects.filter(event=event)
        .select_related("vehicle")
        .annotate(
            command_status=Subquery(latest.values("status")[:1]),
            command_reason=Subquery(latest.values("status_reason")[:1]),
            role_rank=Case(
                *[When(role=role, then=Value(i)) for i, role in enumerate(ROLE_ORDER)],
                output_field=IntegerField(),
            ),
        )
        .order_by("role_rank", "vehicle__vin", "id")
    )
    if filters.role:
        query = query.filter(role=filters.role)
    if filters.command_status == NO_COMMAND:
        query = query.filter(command_status__isnull=True)
    elif filters.command_status:
        query = query.filter(command_status=filters.command_status)
    return query


@dataclass(frozen=True)
class ParticipantRow:
    participant: EventParticipant
    state: LatestState | None

    @property
    def command_status_label(self) -> str:
        status = self.participant.command_status
        return Status(status).label if status else ""


def participant_page(
    event: Event, *, filters: ParticipantFilter, page_number
) -> tuple[Page, list[ParticipantRow]]:
    """One page of the table (a count, the rows, their vehicles' latest states: 3 queries).
    A page number past the end or not a number shows the nearest page."""
    page = Paginator(participants(event, filters=filters), PARTICIPANTS_PER_PAGE).get_page(
        page_number
    )
    rows = list(page.object_list)
    states = latest_states(vehicle_ids=[p.vehicle_id for p in rows]) if rows else {}
    return page, [ParticipantRow(p, states.get(p.vehicle_id)) for p in rows]


@dataclass(frozen=True)
class Replan:
    at: datetime
    revision: int
    selected: int
    added: int
    dropped: int
    commands: int
    reasons: list[tuple[str, int]]


def replans(runs: Sequence[EventPlanRun]) -> list[Replan]:
    return [
        Replan(
            at=run.created_at,
            revision=run.revision,
            selected=run.selected,
            added=run.added,
            dropped=run.dropped,
            commands=run.commands,
            reasons=_by_count(Counter(run.reasons or {})),
        )
        for run in runs
        if run.kind == EventPlanRun.Kind.REPLAN
    ]


@dataclass(frozen=True)
class Console:
    """Everything the console section shows (``templates/dispatch/_event_live.html``)."""

    status: Event.Status
    live: bool  # re-fetched every refresh_seconds() while true
    updated_at: datetime
    counters: Counters
    replans: list[Replan]
    chart: EventChart | None
    intervals: list[IntervalSummary]
    filters: ParticipantFilter
    page: Page
    rows: list[ParticipantRow]
    refresh_seconds: int
    role_choices = ROLE_CHOICES
    command_choices = COMMAND_CHOICES


def shows_console(event: Event, status: str) -> bool:
    """Planned events: notified, running or over (a cancelled one only if it was planned)."""
    return status in CONSOLE_STATUSES or (
        status == Event.Status.CANCELLED and event.plan_runs.exists()
    )


def console(event: Event, *, now: datetime, tz: tzinfo, query) -> Console | None:
    """The console of ``event`` at ``now``, or None before it is planned. ``query`` is the
    request's query string (the table's filters and page)."""
    status = Event.Status(event.status_at(now))
    if not shows_console(event, status):
        return None
    filters = ParticipantFilter.from_query(query)
    page, rows = participant_page(event, filters=filters, page_number=query.get("page"))
    intervals = list(interval_summary(event, now=now)) if status in CONSOLE_STATUSES else []
    return Console(
        status=status,
        live=status in LIVE_STATUSES,
        updated_at=now,
        counters=counters(event),
        replans=replans(plan_runs(event)),
        chart=event_chart(intervals=intervals, tz=tz, now=now, subject=str(event)),
        intervals=intervals,
        filters=filters,
        page=page,
        rows=rows,
        refresh_seconds=refresh_seconds(),
    )

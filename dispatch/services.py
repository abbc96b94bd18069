"""Writes on events: scheduling behind the guardrails, and the actions on a scheduled event.
Each locks the row it changes, checks the derived status, bumps the modification number and
records an audit row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from dispatch import guardrails, selectors
from dispatch.guardrails import RuleResult
from dispatch.models import Event
from enrollment.models import Enrollment, Program
from portal import audit
from portal.errors import DomainError
from portal.models import User, Utility
from portal.tasking import enqueue_on_commit


class EventError(DomainError):
    code = "event_refused"


class GuardrailsFailed(EventError):
    code = "event_guardrails_failed"

    def __init__(self, results: Sequence[RuleResult]):
        self.results = list(results)
        failed = guardrails.failures(self.results)
        super().__init__(
            "The event breaks the program's rules: " + " ".join(r.message for r in failed),
            rules=[r.rule for r in failed],
        )


class StaleEvent(EventError):
    code = "event_stale"


def _as_json(results: Sequence[RuleResult]) -> list[dict]:
    return [r._asdict() for r in results]


def evaluate(
    *,
    program: Program,
    starts_at: datetime,
    duration_minutes: int,
    priority: int,
    now: datetime,
    exclude_pk: int | None = None,
) -> list[RuleResult]:
    return guardrails.check_event(
        program,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        priority=priority,
        now=now,
        tz=program.utility.tzinfo,
        others=selectors.other_events(program=program, exclude_pk=exclude_pk),
    )


@transaction.atomic
def schedule_event(
    *,
    utility: Utility,
    program: Program,
    event_type: str,
    starts_at: datetime,
    duration_minutes: int,
    notification_lead_minutes: int = 60,
    randomize_start_minutes: int = 0,
    target_kw: float | None = None,
    vehicle_ids: Sequence[int] = (),
    priority: int = 0,
    source: str = Event.Source.STAFF,
    actor: User | None = None,
    now: datetime | None = None,
) -> Event:
    """Commit an event if every guardrail passes; raise ``GuardrailsFailed`` otherwise."""
    now = now or timezone.now()
    # Serialize scheduling per program so two operators cannot both take the last slot.
    program = Program.objects.select_for_update(of=("self",)).get(pk=program.pk)
    results = evaluate(
        program=program,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        priority=priority,
        now=now,
    )
    if guardrails.failures(results):
        raise GuardrailsFailed(results)
    vehicle_ids = sorted(set(vehicle_ids))
    if vehicle_ids:
        enrolled = set(
            Enrollment.objects.filter(
                program=program, vehicle_id__in=vehicle_ids, status=Enrollment.Status.ACTIVE
            ).values_list("vehicle_id", flat=True)
        )
        if missing := [pk for pk in vehicle_ids if pk not in enrolled]:
            raise EventError(
                f"{len(missing)} named vehicle(s) are not actively enrolled in {program}.",
                vehicle_ids=missing,
            )
    event = Event(
        utility=utility,
        program=program,
        event_type=event_type,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        notification_lead_minutes=notification_lead_minutes,
        randomize_start_minutes=randomize_start_minutes,
        target_kw=target_kw,
        targeting=Event.Targeting.NAMED_VEHICLES if vehicle_ids else Event.Targeting.WHOLE_PROGRAM,
        priority=priority,
        source=source,
        scheduled_at=now,
        guardrail_results=_as_json(results),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    event.refresh_times()
    event.save()
    if vehicle_ids:
        event.vehicles.set(vehicle_ids)
    audit.record(
        action="event.scheduled",
        utility=utility,
        obj=event,
        actor=actor,
        to_state=event.status_at(now),
        changes={"starts_at": starts_at.isoformat(), "duration_minutes": duration_minutes},
    )
    return event


def _locked(event: Event, *, expected_modification: int | None, allowed: set, verb: str, now):
    """The event row, locked, after checking nobody changed it since the page was loaded and
    that its status allows ``verb``."""
    locked = Event.objects.select_for_update(of=("self",)).get(pk=event.pk)
    status = locked.status_at(now)
    if expected_modification is not None and locked.modification_number != expected_modification:
        raise StaleEvent(
            f"The event changed since you loaded the page (it is now "
            f"{Event.Status(status).label.lower()}, modification {locked.modification_number}). "
            "Nothing was done; check it and try again.",
            status=status,
        )
    if status not in allowed:
        raise StaleEvent(
            f"A {Event.Status(status).label.lower()} event cannot be {verb}. Nothing was done.",
            status=status,
        )
    return locked, status


def _save_action(event: Event, *, fields: list[str], action: str, from_state, actor, now, **kw):
    event.modification_number += 1
    event.refresh_times()
    event.save(update_fields=[*fields, "modification_number", "notify_at", "ends_at"])
    audit.record(
        action=action,
        utility=event.utility,
        obj=event,
        actor=actor,
        from_state=from_state,
        to_state=event.status_at(now),
        **kw,
    )
    return event


@transaction.atomic
def cancel_event(
    *, event: Event, actor: User | None, expected_modification: int | None = None,
    reason: str = "", now: datetime | None = None,
) -> Event:  # fmt: skip
    now = now or timezone.now()
    event, status = _locked(
        event, expected_modification=expected_modification, allowed=Event.CANCELLABLE,
        verb="cancelled", now=now,
    )  # fmt: skip
    event.cancelled_at = now
    event = _save_action(
        event, fields=["cancelled_at"], action="event.cancelled", from_state=status,
        actor=actor, now=now, comment=reason,
    )  # fmt: skip
    _restore_on_commit(event)
    return event


@transaction.atomic
def end_early(
    *, event: Event, actor: User | None, expected_modification: int | None = None,
    reason: str = "", now: datetime | None = None,
) -> Event:  # fmt: skip
    now = now or timezone.now()
    event, status = _locked(
        event, expected_modification=expected_modification, allowed=Event.ENDABLE,
        verb="ended early", now=now,
    )  # fmt: skip
    event.ended_early_at = now
    event = _save_action(
        event, fields=["ended_early_at"], action="event.ended_early", from_state=status,
        actor=actor, now=now, comment=reason,
    )  # fmt: skip
    _restore_on_commit(event)
    return event


def _restore_on_commit(event: Event) -> None:
    """Vehicles already commanded go back to normal charging once the change commits."""
    from dispatch.tasks import restore_event  # the tasks module imports this one

    enqueue_on_commit(restore_event, utility_id=event.utility_id, event_id=event.pk)


@transaction.atomic
def extend(
    *, event: Event, minutes: int, actor: User | None, expected_modification: int | None = None,
    reason: str = "", now: datetime | None = None,
) -> Event:  # fmt: skip
    """Lengthen a scheduled or running event, within the program's hours per event and
    without running into an event of equal or higher priority."""
    now = now or timezone.now()
    if minutes <= 0:
        raise EventError("Extend by a positive number of minutes.")
    event, status = _locked(
        event, expected_modification=expected_modification, allowed=Event.EXTENDABLE,
        verb="extended", now=now,
    )  # fmt: skip
    total = event.duration_minutes + event.extended_minutes + minutes
    end = event.starts_at + timedelta(minutes=total)
    results = [
        guardrails.check_hours(event.program, duration_minutes=total),
        guardrails.check_overlap(
            starts_at=event.starts_at, ends_at=end, priority=event.priority,
            others=selectors.other_events(program=event.program, exclude_pk=event.pk),
        ),
    ]  # fmt: skip
    if guardrails.failures(results):
        raise GuardrailsFailed(results)
    event.extended_minutes += minutes
    return _save_action(
        event, fields=["extended_minutes"], action="event.extended", from_state=status,
        actor=actor, now=now, comment=reason, changes={"extended_by_minutes": minutes},
    )  # fmt: skip

"""Writes on events: scheduling behind the guardrails (with its targets checked), and the
actions on a scheduled event. Each locks the row it changes, checks the derived status, bumps
the modification number and records an audit row."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from dispatch import guardrails, selectors
from dispatch.guardrails import RuleResult
from dispatch.models import EMERGENCY_LEVEL, DispatchGroup, Event
from dispatch.services.errors import EventError, GuardrailsFailed, StaleEvent, TargetingError
from enrollment.models import Program
from portal import audit
from portal.models import User, Utility
from portal.tasking import enqueue_on_commit

# --- Targets --------------------------------------------------------------------------------

MAX_VEHICLES_IN_MESSAGE = 20
AUDITED_VINS = 200  # the event's vehicles M2M keeps the full list


@dataclass(frozen=True)
class Targets:
    """Validated targets: only those of ``targeting`` are filled, sorted and de-duplicated."""

    targeting: str
    vehicle_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    group_names: tuple[str, ...] = ()
    feeders: tuple[str, ...] = ()


def validate_targets(
    *,
    utility: Utility,
    program: Program,
    targeting: str,
    vehicle_ids: Iterable[int] = (),
    group_ids: Iterable[int] = (),
    feeders: Iterable[str] = (),
) -> Targets:
    """Check an event's targets against the program (call inside the utility's scope): groups
    must be the utility's and have members, feeders must serve accounts enrolled in the
    program, named vehicles must be actively enrolled and dispatchable. Raises
    ``TargetingError`` saying what is wrong; targets of another mode are refused too, so an
    operator never believes a choice applies that does not."""
    if targeting not in Event.Targeting.values:
        raise TargetingError(f"“{targeting}” is not a kind of targeting.", field="targeting")
    vehicle_ids = tuple(sorted(set(vehicle_ids)))
    group_ids = tuple(sorted(set(group_ids)))
    feeders = tuple(sorted({f.strip() for f in feeders if f and f.strip()}))
    given = {
        Event.Targeting.GROUPS: group_ids,
        Event.Targeting.FEEDERS: feeders,
        Event.Targeting.NAMED_VEHICLES: vehicle_ids,
    }
    stray = [
        Event.Targeting(mode).label.lower() for mode, v in given.items() if v and mode != targeting
    ]
    if stray:
        raise TargetingError(
            f"The event targets “{Event.Targeting(targeting).label}”, but "
            f"{' and '.join(stray)} were also given. Clear them, or choose that targeting.",
            field="targeting",
        )
    if targeting == Event.Targeting.GROUPS:
        return _group_targets(utility=utility, group_ids=group_ids)
    if targeting == Event.Targeting.FEEDERS:
        return _feeder_targets(program=program, feeders=feeders)
    if targeting == Event.Targeting.NAMED_VEHICLES:
        return _vehicle_targets(program=program, vehicle_ids=vehicle_ids)
    return Targets(targeting=targeting)


def _group_targets(*, utility: Utility, group_ids: tuple[int, ...]) -> Targets:
    if not group_ids:
        raise TargetingError("Choose at least one dispatch group.", field="groups")
    groups = {
        g.pk: g
        for g in DispatchGroup.objects.filter(pk__in=group_ids, utility=utility).annotate(
            vehicle_count=Count("vehicles")
        )
    }
    if unknown := [pk for pk in group_ids if pk not in groups]:
        raise TargetingError(
            f"Unknown dispatch group{'s' if len(unknown) > 1 else ''}: "
            f"{', '.join(f'#{pk}' for pk in unknown)}.",
            field="groups",
        )
    if empty := sorted(groups[pk].name for pk in group_ids if not groups[pk].vehicle_count):
        raise TargetingError(
            f"These groups have no vehicles: {', '.join(empty)}. Add vehicles first.",
            field="groups",
        )
    names = tuple(sorted(g.name for g in groups.values()))
    return Targets(Event.Targeting.GROUPS, group_ids=group_ids, group_names=names)


def _feeder_targets(*, program: Program, feeders: tuple[str, ...]) -> Targets:
    if not feeders:
        raise TargetingError("Choose at least one feeder.", field="feeders")
    known = selectors.known_feeders(program=program, feeders=feeders)
    if unknown := [f for f in feeders if f not in known]:
        raise TargetingError(
            f"No account actively enrolled in {program} is on "
            f"feeder{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}.",
            field="feeders",
        )
    return Targets(Event.Targeting.FEEDERS, feeders=feeders)


def _vehicle_targets(*, program: Program, vehicle_ids: tuple[int, ...]) -> Targets:
    if not vehicle_ids:
        raise TargetingError("Name at least one vehicle.", field="vehicles")
    problems = selectors.named_vehicle_problems(program=program, vehicle_ids=vehicle_ids)
    if problems:
        vins = selectors.vins_of(problems)
        listed = sorted(f"{vins.get(pk, f'vehicle #{pk}')} ({why})" for pk, why in problems.items())
        more = len(listed) - MAX_VEHICLES_IN_MESSAGE
        raise TargetingError(
            f"{len(listed)} named vehicle{'s' if len(listed) > 1 else ''} cannot be dispatched "
            f"in {program}: {'; '.join(listed[:MAX_VEHICLES_IN_MESSAGE])}"
            + (f"; and {more} more." if more > 0 else "."),
            field="vehicles",
            vins=sorted(vins.get(pk, str(pk)) for pk in problems),
        )
    return Targets(Event.Targeting.NAMED_VEHICLES, vehicle_ids=vehicle_ids)


def _targets_audit(targets: Targets) -> dict:
    audit_row: dict = {"targeting": targets.targeting}
    if targets.group_ids:
        audit_row.update(group_ids=list(targets.group_ids), groups=list(targets.group_names))
    if targets.feeders:
        audit_row["feeders"] = list(targets.feeders)
    if targets.vehicle_ids:
        vins = sorted(selectors.vins_of(targets.vehicle_ids).values())
        audit_row.update(vehicles=len(vins), vins=vins[:AUDITED_VINS])
        if len(vins) > AUDITED_VINS:
            audit_row["vins_truncated"] = True
    return audit_row


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
    event_type: str | None = None,
) -> list[RuleResult]:
    """The guardrails for a proposed event (an emergency waives the window, the notice and
    the seasons: ``guardrails.EMERGENCY_EXEMPT``)."""
    return guardrails.check_event(
        program,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        priority=priority,
        now=now,
        tz=program.utility.tzinfo,
        others=selectors.other_events(program=program, exclude_pk=exclude_pk),
        emergency=event_type == Event.Type.EMERGENCY,
    )


# What a replacement keeps of the event it replaces (the rest is checked afresh).
CARRIED_OVER = {"notice", "events_per_month", "events_per_season"}


def _carried_over(result: RuleResult, replaced: Event, starts_at: datetime) -> RuleResult:
    if result.ok or result.rule not in CARRIED_OVER:
        return result
    if result.rule == "notice" and starts_at < replaced.starts_at:
        return result  # moved earlier: customers were told a later time
    return RuleResult(result.rule, True, f"Carried over from event #{replaced.pk}.")


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
    target_profile: Iterable[Mapping] = (),
    targeting: str | None = None,
    vehicle_ids: Iterable[int] = (),
    group_ids: Iterable[int] = (),
    feeders: Iterable[str] = (),
    priority: int = 0,
    source: str = Event.Source.STAFF,
    actor: User | None = None,
    now: datetime | None = None,
    replaces: Event | None = None,
) -> Event:
    """Commit an event if its targets are valid (``validate_targets``; ``TargetingError``
    otherwise) and every guardrail passes (``GuardrailsFailed`` otherwise). Without
    ``targeting``, named vehicles if ``vehicle_ids`` are given, else the whole program.
    ``replaces``: the event (just cancelled or ended) whose new terms this is — a grid
    operator's change of an event customers were already told about keeps its place in the
    monthly and seasonal counts and, unless it moves earlier, its notice (``CARRIED_OVER``)."""
    now = now or timezone.now()
    vehicle_ids = list(vehicle_ids)
    profile = _checked_profile(target_profile, duration_minutes=duration_minutes)
    if targeting is None:
        targeting = Event.Targeting.NAMED_VEHICLES if vehicle_ids else Event.Targeting.WHOLE_PROGRAM
    # Serialize scheduling per program so two operators cannot both take the last slot.
    program = Program.objects.select_for_update(of=("self",)).get(pk=program.pk)
    targets = validate_targets(
        utility=utility,
        program=program,
        targeting=targeting,
        vehicle_ids=vehicle_ids,
        group_ids=group_ids,
        feeders=feeders,
    )
    results = evaluate(
        program=program,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        priority=priority,
        now=now,
        # An emergency interval waives what an emergency waives: the guardrails decide
        # whether the event is scheduled at all (``Event.emergency_at``).
        event_type=Event.Type.EMERGENCY
        if any((row["level"] or 0) >= EMERGENCY_LEVEL for row in profile)
        else event_type,
    )
    if replaces is not None:
        results = [_carried_over(r, replaces, starts_at) for r in results]
    if guardrails.failures(results):
        raise GuardrailsFailed(results)
    event = Event(
        utility=utility,
        program=program,
        event_type=event_type,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        notification_lead_minutes=notification_lead_minutes,
        randomize_start_minutes=randomize_start_minutes,
        target_kw=target_kw,
        target_profile=profile,
        targeting=targets.targeting,
        feeders=list(targets.feeders),
        priority=priority,
        source=source,
        scheduled_at=now,
        guardrail_results=_as_json(results),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    event.refresh_times()
    event.save()
    if targets.group_ids:
        event.groups.set(targets.group_ids)
    if targets.vehicle_ids:
        Named = Event.vehicles.through
        Named.objects.bulk_create(
            [Named(event_id=event.pk, vehicle_id=pk) for pk in targets.vehicle_ids],
            batch_size=5000,
        )
    audit.record(
        action="event.scheduled",
        utility=utility,
        obj=event,
        actor=actor,
        to_state=event.status_at(now),
        changes={
            "starts_at": starts_at.isoformat(),
            "duration_minutes": duration_minutes,
            "targets": _targets_audit(targets),
            **({"replaces": replaces.pk} if replaces is not None else {}),
        },
    )
    return event


def _checked_profile(rows: Iterable[Mapping], *, duration_minutes: int) -> list[dict]:
    """``Event.target_profile`` rows, in order, back to back from the start and within the
    event; ``ValueError`` otherwise (a caller's bug, not a user's input)."""
    profile, at = [], 0
    for row in rows:
        offset, minutes = int(row["offset_minutes"]), int(row["duration_minutes"])
        target, level = row.get("target_kw"), row.get("level")
        if offset != at or minutes <= 0 or offset + minutes > duration_minutes:
            raise ValueError(f"Target profile row {row!r} is not the next part of the event.")
        if target is not None and (not math.isfinite(target) or target < 0):
            raise ValueError(f"Target profile row {row!r} has no usable target.")
        profile.append({"offset_minutes": offset, "duration_minutes": minutes,
                        "target_kw": target, "level": level})  # fmt: skip
        at = offset + minutes
    return profile


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


@transaction.atomic
def retarget(
    *, event: Event, target_kw: float | None, actor: User | None, reason: str = "",
    now: datetime | None = None,
) -> Event:  # fmt: skip
    """Change the kW a scheduled, notified or running event asks for (None: all available),
    e.g. at the boundary of a grid operator's interval. The new modification number makes
    ``activate_due_events`` plan the event again (the earlier revision's commands withdrawn)."""
    now = now or timezone.now()
    if target_kw is not None and target_kw < 0:
        raise EventError("A target is a positive number of kW, or none for all available.")
    event, status = _locked(
        event, expected_modification=None, allowed=Event.EXTENDABLE, verb="retargeted", now=now
    )
    before = event.target_kw
    event.target_kw = target_kw
    return _save_action(
        event, fields=["target_kw"], action="event.retargeted", from_state=status, actor=actor,
        now=now, comment=reason, changes={"target_kw": [before, target_kw]},
    )  # fmt: skip

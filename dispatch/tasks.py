"""Celery tasks that execute events: plan and issue commands once an event is notified.

Beat runs ``dispatch.activate_due_events`` every minute; it enqueues one
``dispatch.activate_event`` per due, unplanned event. Both are idempotent: an event already
planned for its modification number issues nothing new. Beat also runs
``dispatch.replan_live_events`` every minute, and an opt-out or a rejected / failed command
re-plans its event at once (``replan_after_command_outcomes``). Daily, it pays the monthly
participation credits of the month just ended (``dispatch.measurement.participation``).
"""

from __future__ import annotations

from datetime import date

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.execution import activation, replanning, restores
from dispatch.execution.base import UnknownEvent
from dispatch.measurement import incentives, participation
from dispatch.measurement import run as measurement_run
from dispatch.measurement.baselines import MeasurementError
from dispatch.models import Event, EventPlanRun
from enrollment.incentives.models import IncentiveOffer
from enrollment.models import Program
from portal.celery import app
from portal.tasking import PlatformTask, TenantTask, enqueue_on_commit

DUE_BATCH_SIZE = 500


@app.task(bind=True, base=TenantTask, name="dispatch.activate_event")
def activate_event(self, *, utility_id: int, event_id: int) -> dict:
    try:
        result = activation.activate_event(utility_id=utility_id, event_id=event_id)
    except UnknownEvent as exc:  # final: another utility's event is never ours
        return {"status": "refused", "code": exc.code, "message": exc.message}
    return {"status": result.status, "created": result.created, "vehicles": result.vehicles}


@app.task(bind=True, base=TenantTask, name="dispatch.restore_event")
def restore_event(self, *, utility_id: int, event_id: int) -> int:
    """Send restore commands to every vehicle of a cancelled or ended-early event."""
    try:
        return restores.cancel_or_end(utility_id=utility_id, event_id=event_id).created
    except UnknownEvent:
        return 0


@app.task(bind=True, base=TenantTask, name="dispatch.replan_event")
def replan_event(self, *, utility_id: int, event_id: int) -> dict:
    """Replace dispatched vehicles that opted out, failed, went offline or under-deliver."""
    try:
        result = replanning.replan_event(utility_id=utility_id, event_id=event_id)
    except UnknownEvent as exc:
        return {"status": "refused", "code": exc.code, "message": exc.message}
    return {"status": result.status, "added": result.added, "dropped": result.dropped}


@app.task(bind=True, base=PlatformTask, name="dispatch.activate_due_events")
def activate_due_events(self, *, batch_size: int = DUE_BATCH_SIZE) -> int:
    """Enqueue ``dispatch.activate_event`` for up to ``batch_size`` notified or active events
    of any utility not planned yet for their current modification number (the rest go on the
    next run, oldest notice first)."""
    now = timezone.now()
    # A platform fan-out: it reads ids across utilities, explicitly, and acts in none.
    with scopes_disabled():
        planned = EventPlanRun.objects.filter(
            event_id=OuterRef("pk"), revision=OuterRef("modification_number")
        )
        due = list(
            _live(now)
            .exclude(event_type=Event.Type.PRICE_SIGNAL)
            .filter(~Exists(planned))
            .order_by("notify_at", "pk")
            .values_list("utility_id", "pk")[:batch_size]
        )
    for utility_id, event_id in due:
        activate_event.delay(utility_id=utility_id, event_id=event_id)
    return len(due)


@app.task(bind=True, base=PlatformTask, name="dispatch.replan_live_events")
def replan_live_events(self, *, batch_size: int = DUE_BATCH_SIZE) -> int:
    """Enqueue ``dispatch.replan_event`` for every notified or active event already planned
    for its modification number (each run changes nothing unless something happened)."""
    now = timezone.now()
    with scopes_disabled():
        planned = EventPlanRun.objects.filter(
            event_id=OuterRef("pk"), revision=OuterRef("modification_number")
        )
        live = list(
            _live(now)
            .exclude(event_type=Event.Type.PRICE_SIGNAL)
            .filter(Exists(planned))
            .order_by("starts_at", "pk")
            .values_list("utility_id", "pk")[:batch_size]
        )
    for utility_id, event_id in live:
        replan_event.delay(utility_id=utility_id, event_id=event_id)
    return len(live)


def _live(now):
    return Event.objects.filter(
        Event.status_q(Event.Status.NOTIFIED, now) | Event.status_q(Event.Status.ACTIVE, now)
    )


def replan_after_command_outcomes(*, utility_id: int, source_ids) -> None:
    """Re-plan, once the transaction commits, the live events whose commands were just
    opted out of, rejected or failed (``devices.signals.command_outcomes``)."""
    event_ids = sorted({int(s) for s in source_ids if str(s).isdigit()})
    if not event_ids:
        return
    now = timezone.now()
    with scopes_disabled():
        live = list(
            _live(now).filter(utility_id=utility_id, pk__in=event_ids).values_list("pk", flat=True)
        )
    for event_id in live:
        enqueue_on_commit(replan_event, utility_id=utility_id, event_id=event_id)


@app.task(bind=True, base=TenantTask, name="dispatch.measure_event")
def measure_event(self, *, utility_id: int, event_id: int) -> dict:
    """Measure an ended event and award its performance incentives (idempotent). A refusal
    (not ended, cancelled, gone) is final, so it is returned, not retried."""
    try:
        result = measurement_run.measure_event(event_id)
    except MeasurementError as exc:
        return {"status": "refused", "code": exc.code, "message": exc.message}
    return {
        "status": "measured",
        "participants": result.participants,
        "delivered_kwh": result.delivered_kwh,
        "incentives_awarded": result.incentives_awarded,
        "incentive_errors": len(result.incentive_errors),
    }


@app.task(bind=True, base=TenantTask, name="dispatch.award_event_incentives")
def award_event_incentives(self, *, utility_id: int, event_id: int) -> dict:
    """Award a measured event's performance incentives (after "Measure now"; idempotent)."""
    event = Event.objects.select_related("program", "utility").get(pk=event_id)
    try:
        awarded, errors = incentives.award_event_incentives(event=event)
    except MeasurementError as exc:
        return {"status": "refused", "code": exc.code, "message": exc.message}
    return {"status": "awarded", "awarded": awarded, "errors": len(errors)}


@app.task(bind=True, base=PlatformTask, name="dispatch.measure_completed_events")
def measure_completed_events(self, *, batch_size: int = DUE_BATCH_SIZE) -> int:
    """Enqueue ``dispatch.measure_event`` for up to ``batch_size`` completed, unmeasured events
    of any utility that ended at least ``measure_delay()`` ago (late telemetry
    has arrived by then), oldest end first."""
    cutoff = timezone.now() - measurement_run.measure_delay()
    # A platform fan-out: it reads ids across utilities, explicitly, and acts in none.
    with scopes_disabled():
        due = list(
            Event.objects.filter(Event.status_q(Event.Status.COMPLETED, cutoff))
            .filter(measured_at__isnull=True)
            .order_by("ends_at", "pk")
            .values_list("utility_id", "pk")[:batch_size]
        )
    for utility_id, event_id in due:
        measure_event.delay(utility_id=utility_id, event_id=event_id)
    return len(due)


@app.task(bind=True, base=TenantTask, name="dispatch.award_monthly_credits")
def award_monthly_credits(self, *, utility_id: int, program_id: int, month: str) -> dict:
    """The program's monthly participation credits for ``month`` ("2026-10"; idempotent)."""
    program = Program.objects.select_related("utility").get(pk=program_id)
    first = date.fromisoformat(f"{month}-01")
    return participation.award_monthly_credits(program=program, month=first).as_dict()


@app.task(bind=True, base=PlatformTask, name="dispatch.award_monthly_credits_everywhere")
def award_monthly_credits_everywhere(self) -> int:
    """For every program with an active monthly credit offer: award the month that has just
    ended in its utility's zone (run daily by beat; months already paid cost little)."""
    now = timezone.now()
    # A platform fan-out: it reads ids across utilities, explicitly, and acts in none.
    with scopes_disabled():
        programs = list(
            Program.objects.filter(
                incentive_offers__kind=IncentiveOffer.Kind.MONTHLY_CREDIT,
                incentive_offers__active=True,
            )
            .select_related("utility")
            .distinct()
            .order_by("pk")
        )
    for program in programs:
        local_today = timezone.localtime(now, program.utility.tzinfo).date()
        month = participation.previous_month(local_today)
        award_monthly_credits.delay(
            utility_id=program.utility_id, program_id=program.pk, month=f"{month:%Y-%m}"
        )
    return len(programs)

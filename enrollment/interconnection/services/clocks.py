"""SLA clocks: the stage each state's clock measures, the utility's targets, and the clock
moves a transition makes. Clocks count business days of the utility's holiday calendar
(``portal.business_days``) and pause while the applicant owes an answer; ``due_on`` moves
out by the paused days."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

from enrollment.interconnection.models import (
    DEFAULT_SLA_BUSINESS_DAYS,
    ApplicationTransition,
    InterconnectionApplication,
    InterconnectionPolicy,
    SlaClock,
)
from portal.business_days import add_business_days, business_days_between, holiday_calendar

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
Track = ApplicationTransition.Track
Stage = SlaClock.Stage


CLOCK_STAGE = {
    (Track.UTILITY, Status.SUBMITTED): Stage.ACKNOWLEDGEMENT,
    (Track.UTILITY, Status.COMPLETENESS_REVIEW): Stage.COMPLETENESS,
    (Track.UTILITY, Status.TECHNICAL_REVIEW): Stage.TECHNICAL_REVIEW,
    (Track.UTILITY, Status.INSTALLED): Stage.PTO,
    (Track.AHJ, Permit.PERMIT_REVIEW): Stage.PERMIT,
    (Track.AHJ, Permit.INSPECTION_REQUESTED): Stage.INSPECTION,
    (Track.AHJ, Permit.INSPECTION_SCHEDULED): Stage.INSPECTION,
}
# States in which the applicant owes an answer: the stage's clock pauses.
WAITING_ON_APPLICANT = {Status.NEEDS_INFO, Permit.CORRECTIONS, Permit.INSPECTION_FAILED}


def sla_targets(utility_id: int) -> dict[str, int]:
    policy = InterconnectionPolicy.objects.filter(utility_id=utility_id).first()
    if policy is None:
        return dict(DEFAULT_SLA_BUSINESS_DAYS)
    return {stage: policy.target_business_days(stage) for stage in DEFAULT_SLA_BUSINESS_DAYS}


def move_clock(app: Application, *, track: str, old: str, new: str, now: datetime) -> None:
    calendar = holiday_calendar(app.utility)
    today = timezone.localdate(now, app.utility.tzinfo)
    clock = SlaClock.objects.filter(application=app, track=track, stopped_on__isnull=True).first()
    stage = CLOCK_STAGE.get((track, new))
    if new in WAITING_ON_APPLICANT:
        if clock is not None:
            pause_clock(clock, today=today)
        return
    if clock is not None and clock.stage == stage:
        if old in WAITING_ON_APPLICANT:
            resume_clock(clock, today=today, calendar=calendar)
        return
    if clock is not None:
        stop_clock(clock, today=today, calendar=calendar)
    if stage is not None:
        start_clock(
            application=app,
            track=track,
            stage=stage,
            today=today,
            target=sla_targets(app.utility_id)[stage],
            calendar=calendar,
        )


def start_clock(*, application, track: str, stage: str, today: date, target: int, calendar):
    return SlaClock.objects.create(
        utility_id=application.utility_id,
        application=application,
        track=track,
        stage=stage,
        started_on=today,
        target_business_days=target,
        due_on=add_business_days(today, target, calendar),
    )


def pause_clock(clock, *, today: date) -> None:
    if clock.paused_since is None:
        clock.paused_since = today
        clock.save(update_fields=["paused_since"])


def resume_clock(clock, *, today: date, calendar) -> None:
    """The applicant answered: the paused business days do not count, and the due date moves
    out by as many."""
    if clock.paused_since is None:
        return
    paused = business_days_between(clock.paused_since, today, calendar)
    clock.paused_business_days += paused
    clock.due_on = add_business_days(clock.due_on, paused, calendar)
    clock.paused_since = None
    clock.save(update_fields=["paused_business_days", "due_on", "paused_since"])


def stop_clock(clock, *, today: date, calendar) -> None:
    resume_clock(clock, today=today, calendar=calendar)
    clock.stopped_on = today
    clock.elapsed_business_days = max(
        business_days_between(clock.started_on, today, calendar) - clock.paused_business_days, 0
    )
    clock.breached = today > clock.due_on
    clock.save(update_fields=["stopped_on", "elapsed_business_days", "breached"])

"""The incentives measured performance earns: the per-event $/kWh payment and the seasonal
$/kW capacity payment, awarded through ``enrollment.incentives`` on the M&V figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from dispatch.measurement.baselines import DIGITS, DISPATCHED, MeasurementError
from dispatch.models import Event, EventParticipant
from enrollment.incentives import services as incentives
from enrollment.incentives.models import IncentiveOffer
from enrollment.incentives.selectors import active_offer
from enrollment.models import Enrollment, Program
from portal.models import User


def award_event_incentives(*, event: Event, actor: User | None = None) -> tuple[int, list[str]]:
    """The program's per-event performance payment for each measured, enrolled participant
    who delivered energy (once per event: the incentive service returns the same incentive
    for the same figures). A refusal for one participant (e.g. figures changed since an
    earlier award, which only a dispute may correct) is reported and the others still get
    theirs. The outcome is kept in ``Event.measurement["incentives"]``."""
    if event.measured_at is None:
        raise MeasurementError(f"{event} has not been measured yet.")
    awarded, errors = 0, []
    if active_offer(program=event.program, kind=IncentiveOffer.Kind.EVENT_PERFORMANCE):
        rows = EventParticipant.objects.filter(
            event=event, role__in=DISPATCHED, enrollment__isnull=False, delivered_kwh__gt=0
        ).select_related("enrollment__service_account", "vehicle")
        event_date = timezone.localtime(event.starts_at, event.utility.tzinfo).date()
        for participant in rows.order_by("pk"):
            try:
                incentive = incentives.award_event_performance(
                    program=event.program,
                    enrollment=participant.enrollment,
                    event_ref=str(event.pk),
                    measured_kwh=Decimal(str(participant.delivered_kwh)),
                    event_date=event_date,
                    actor=actor,
                )
            except incentives.IncentiveError as exc:
                errors.append(f"{participant.vehicle.vin}: {exc.message}")
                continue
            if incentive is not None:
                awarded += 1
    outcome = {"awarded": awarded, "errors": errors}
    measured = {**event.measurement, "incentives": outcome}
    Event.objects.filter(pk=event.pk, measured_at=event.measured_at).update(measurement=measured)
    event.measurement = measured
    return awarded, errors


@dataclass(frozen=True)
class SeasonAward:
    enrollment_id: int
    events: int
    average_kw: float
    incentive_id: int | None
    error: str = ""


def season_performance(*, program: Program, season: str) -> dict[int, tuple[int, float]]:
    """enrollment id → (measured events of ``season`` it was dispatched in, average delivered
    kW over them). Each event's kW is its delivered kWh ÷ the hours it ran (its measured span)."""
    tz = program.utility.tzinfo
    rows = EventParticipant.objects.filter(
        event__program=program,
        event__measured_at__isnull=False,
        event__cancelled_at__isnull=True,
        role__in=DISPATCHED,
        enrollment__isnull=False,
    ).values_list("enrollment_id", "delivered_kwh", "event__starts_at", "event__ends_at")
    per_enrollment: dict[int, list[float]] = defaultdict(list)
    for enrollment_id, kwh, starts_at, ends_at in rows:
        label = incentives.season_label(seasons=program.seasons, on=starts_at.astimezone(tz).date())
        hours = (ends_at - starts_at).total_seconds() / 3600
        if label == season and hours > 0:
            per_enrollment[enrollment_id].append((kwh or 0.0) / hours)
    return {
        enrollment_id: (len(values), round(sum(values) / len(values), DIGITS))
        for enrollment_id, values in per_enrollment.items()
    }


def award_season_capacity(
    *, program: Program, season: str, actor: User | None = None
) -> list[SeasonAward]:
    """The program's $/kW-season capacity payment for every enrollment dispatched in the
    season's measured events, on its average delivered kW (once per season: the incentive
    service returns the same incentive for the same figures). Refuses a program without a
    capacity offer, a blank season, and a season with no measured events."""
    season = season.strip()
    if not season:
        raise MeasurementError("Name the season, e.g. “Summer 2026”.")
    if active_offer(program=program, kind=IncentiveOffer.Kind.CAPACITY_PAYMENT) is None:
        raise MeasurementError(f"{program} has no active capacity payment offer.")
    performance = season_performance(program=program, season=season)
    if not performance:
        raise MeasurementError(
            f"{program} has no measured events in {season} with dispatched enrollments."
        )
    enrollments = Enrollment.objects.select_related("service_account").in_bulk(list(performance))
    awards = []
    for enrollment_id in sorted(performance):
        events, average_kw = performance[enrollment_id]
        try:
            incentive = incentives.award_capacity(
                program=program,
                enrollment=enrollments[enrollment_id],
                season=season,
                measured_kw=Decimal(str(average_kw)),
                actor=actor,
            )
        except incentives.IncentiveError as exc:
            awards.append(SeasonAward(enrollment_id, events, average_kw, None, exc.message))
            continue
        awards.append(
            SeasonAward(enrollment_id, events, average_kw, incentive.pk if incentive else None)
        )
    return awards

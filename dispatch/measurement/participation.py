"""The monthly participation credit, paid from what dispatch recorded: each enrollment that
took part in the program for a whole month earns the program's credit for that month, unless
its customer opted out of the month's events as often as the offer forfeits it at.

Who counts: enrollments active since the month began (activated before its first local
midnight) and not ended before its last; one that joined mid-month earns from the next
month. Opt-outs counted: the enrollment's vehicle left out of a program event that started in
the month (not cancelled) because its customer opted out — before the plan ("opted out") or
during the event ("opted out during the event").

``award_monthly_credits`` runs per program and month, through the incentive service (budget,
review and waitlist as for any incentive; once per enrollment and month). Beat runs
``dispatch.award_monthly_credits_everywhere`` daily for the month just ended; an enrollment
already holding the month's credit is skipped, so the daily runs after the first cost little.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from dispatch.models import EventParticipant
from dispatch.planning.planner import Exclusion
from enrollment.incentives import services as incentives
from enrollment.incentives.models import Incentive, IncentiveOffer
from enrollment.incentives.selectors import active_offer
from enrollment.models import Enrollment, Program
from portal.models import User

OPTED_OUT_REASONS = (str(Exclusion.OPTED_OUT), str(Exclusion.OPTED_OUT_DURING_EVENT))


def month_of(day: date) -> date:
    return day.replace(day=1)


def previous_month(day: date) -> date:
    return month_of(month_of(day) - timedelta(days=1))


def month_span(program: Program, month: date) -> tuple[datetime, datetime]:
    """The month's [start, end) in the utility's zone."""
    tz = program.utility.tzinfo
    first = month_of(month)
    after = month_of(first + timedelta(days=32))
    return datetime.combine(first, time(0), tzinfo=tz), datetime.combine(after, time(0), tzinfo=tz)


def whole_month_enrollments(program: Program, month: date) -> QuerySet[Enrollment]:
    """The program's enrollments that took part for all of ``month``."""
    start, end = month_span(program, month)
    return Enrollment.objects.filter(
        program=program, activated_at__isnull=False, activated_at__lte=start
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=end))


def opt_out_counts(program: Program, month: date) -> Counter[int]:
    """enrollment id → events of the program starting in ``month`` its customer opted out of."""
    start, end = month_span(program, month)
    rows = (
        EventParticipant.objects.filter(
            event__program=program,
            event__cancelled_at__isnull=True,
            event__starts_at__gte=start,
            event__starts_at__lt=end,
            enrollment__isnull=False,
            reason__in=OPTED_OUT_REASONS,
        )
        .values_list("enrollment_id", "event_id")
        .distinct()
    )
    return Counter(enrollment_id for enrollment_id, _ in rows)


@dataclass
class MonthlyAwards:
    month: date
    offered: bool = True  # False: the program has no active monthly credit offer
    awarded: int = 0  # incentives made (a forfeited month is one of $0)
    forfeited: int = 0
    already: int = 0  # enrollments that held the month's credit before this run
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "month": f"{self.month:%Y-%m}",
            "offered": self.offered,
            "awarded": self.awarded,
            "forfeited": self.forfeited,
            "already": self.already,
            "errors": len(self.errors),
        }


def award_monthly_credits(
    *, program: Program, month: date, actor: User | None = None
) -> MonthlyAwards:
    """The monthly participation credit of ``month`` for each enrollment that took part all
    month, with its opt-out count. Call inside the program's utility scope, after the month
    has ended. A refusal for one enrollment is reported; the others still get theirs."""
    month = month_of(month)
    result = MonthlyAwards(month=month)
    offer = active_offer(program=program, kind=IncentiveOffer.Kind.MONTHLY_CREDIT)
    if offer is None:
        result.offered = False
        return result
    enrollments = whole_month_enrollments(program, month)
    held = Incentive.objects.filter(offer=offer, period_key=incentives.month_period(month)).exclude(
        status=Incentive.Status.REJECTED
    )
    result.already = held.filter(enrollment__in=enrollments).count()
    counts = opt_out_counts(program, month)
    forfeit_at = offer.forfeit_after_opt_outs
    todo = (
        enrollments.exclude(pk__in=held.values("enrollment_id"))
        .select_related("service_account", "vehicle")
        .order_by("pk")
    )
    for enrollment in todo.iterator(chunk_size=500):
        opted_out = counts.get(enrollment.pk, 0)
        try:
            incentive = incentives.award_monthly_credit(
                program=program,
                enrollment=enrollment,
                month=month,
                opt_out_count=opted_out,
                actor=actor,
            )
        except incentives.IncentiveError as exc:
            result.errors.append(f"{enrollment.vehicle.vin}: {exc.message}")
            continue
        if incentive is None:
            continue
        result.awarded += 1
        if forfeit_at is not None and opted_out >= forfeit_at:
            result.forfeited += 1
    return result

"""Monthly participation credits from dispatch's record: who took part all month, how many of
the month's events each customer opted out of, the credit (or its forfeit) through the
incentive service, once per enrollment and month — by the service, the beat task and the
management command."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch import tasks
from dispatch.measurement import participation
from dispatch.models import EventParticipant
from dispatch.planning.planner import Exclusion
from enrollment.incentives.models import Incentive
from tests.dispatch.mv_support import add_participant, local, mv_event
from tests.incentives.support import funded_program, monthly_offer, participant

pytestmark = pytest.mark.django_db

OCTOBER = date(2026, 10, 1)
Role = EventParticipant.Role


def before_october(utility) -> datetime:
    return local(utility, date(2026, 9, 20), 9)


@pytest.fixture
def program(utility_a):
    program = funded_program(utility_a, status="open")
    monthly_offer(program, amount=D("10.00"), forfeit_after_opt_outs=2)
    return program


def october_event(program, day: int, **fields):
    return mv_event(
        program.utility,
        program=program,
        starts_at=local(program.utility, date(2026, 10, day), 17),
        **fields,
    )


def opted_out(event, enrollment, *, during: bool = True):
    reason = Exclusion.OPTED_OUT_DURING_EVENT if during else Exclusion.OPTED_OUT
    add_participant(
        event,
        enrollment.vehicle,
        role=Role.DROPPED if during else Role.EXCLUDED,
        reason=str(reason),
        enrollment=enrollment,
    )


def credits(program, month=OCTOBER) -> dict[int, tuple[D, str]]:
    with scopes_disabled():
        return {
            i.enrollment_id: (i.amount, i.status)
            for i in Incentive.objects.filter(program=program, period_key=f"month:{month:%Y-%m}")
        }


def award(program, month=OCTOBER):
    with scope(utility=program.utility_id):
        return participation.award_monthly_credits(program=program, month=month)


def test_each_whole_month_participant_earns_the_credit_unless_it_opted_out_enough(program):
    utility = program.utility
    steady = participant(program, activated_at=before_october(utility))
    once = participant(program, activated_at=before_october(utility))
    twice = participant(program, activated_at=before_october(utility))
    late = participant(program, activated_at=local(utility, date(2026, 10, 12), 9))
    left = participant(
        program,
        activated_at=before_october(utility),
        ended_at=local(utility, date(2026, 10, 20), 9),
        status="withdrawn",
    )
    stayed_until_november = participant(
        program,
        activated_at=before_october(utility),
        ended_at=local(utility, date(2026, 11, 3), 9),
        status="withdrawn",
    )
    first, second = october_event(program, 6), october_event(program, 14)
    opted_out(first, once)
    opted_out(first, twice, during=False)  # before the plan: counts too
    opted_out(second, twice)
    # Not counted: a cancelled event, an event of September, a reason other than an opt-out.
    cancelled = october_event(program, 21, cancelled_at=local(utility, date(2026, 10, 20), 9))
    opted_out(cancelled, steady)
    september = mv_event(utility, program=program, starts_at=local(utility, date(2026, 9, 29), 17))
    opted_out(september, steady)
    add_participant(
        second, steady.vehicle, role=Role.DROPPED, reason=str(Exclusion.OFFLINE), enrollment=steady
    )

    result = award(program)

    assert (result.awarded, result.forfeited, result.already, result.errors) == (4, 1, 0, [])
    paid = credits(program)
    assert paid == {
        steady.pk: (D("10.00"), Incentive.Status.APPROVED),
        once.pk: (D("10.00"), Incentive.Status.APPROVED),
        twice.pk: (D("0.00"), Incentive.Status.APPROVED),
        stayed_until_november.pk: (D("10.00"), Incentive.Status.APPROVED),
    }
    assert late.pk not in paid and left.pk not in paid  # not enrolled all month
    with scopes_disabled():
        forfeited = Incentive.objects.get(enrollment=twice, period_key="month:2026-10")
        kept = Incentive.objects.get(enrollment=once, period_key="month:2026-10")
    assert forfeited.calculation == ["2 opt-outs this month; the credit is forfeited at 2."]
    assert kept.opt_out_count == 1


def test_running_again_pays_nothing_twice(program):
    enrollments = [
        participant(program, activated_at=before_october(program.utility)) for _ in range(3)
    ]
    assert award(program).awarded == 3

    again = award(program)

    assert (again.awarded, again.already) == (0, 3)
    with scopes_disabled():
        assert Incentive.objects.filter(enrollment__in=enrollments).count() == 3


def test_a_program_without_the_offer_awards_nothing(utility_a):
    program = funded_program(utility_a, status="open")
    participant(program, activated_at=before_october(utility_a))

    result = award(program)

    assert not result.offered and result.awarded == 0
    assert credits(program) == {}


def test_another_utilitys_program_is_left_alone(program, utility_b):
    other = funded_program(utility_b, status="open")
    monthly_offer(other, amount=D("5.00"))
    mine = participant(program, activated_at=before_october(program.utility))
    participant(other, activated_at=before_october(utility_b))

    award(program)

    assert set(credits(program)) == {mine.pk}
    assert credits(other) == {}


def test_beat_awards_the_month_just_ended_in_each_utility(program, utility_b, monkeypatch):
    other = funded_program(utility_b, status="open")
    monthly_offer(other, amount=D("5.00"))
    without_offer = funded_program(utility_b, status="open")
    participant(without_offer, activated_at=before_october(utility_b))
    sent = []
    monkeypatch.setattr(tasks.award_monthly_credits, "delay", lambda **kwargs: sent.append(kwargs))
    # 2 November, 07:00 in UTC: still 1 November in the utilities' zones.
    clock = SimpleNamespace(
        now=lambda: datetime(2026, 11, 2, 7, tzinfo=UTC), localtime=timezone.localtime
    )
    monkeypatch.setattr(tasks, "timezone", clock)

    assert tasks.award_monthly_credits_everywhere.apply().get() == 2

    assert sorted(sent, key=lambda k: k["program_id"]) == [
        {"utility_id": program.utility_id, "program_id": program.pk, "month": "2026-10"},
        {"utility_id": utility_b.pk, "program_id": other.pk, "month": "2026-10"},
    ]


def test_the_award_task_pays_the_month_it_is_given(program):
    enrollment = participant(program, activated_at=before_october(program.utility))

    result = tasks.award_monthly_credits.apply(
        kwargs={"utility_id": program.utility_id, "program_id": program.pk, "month": "2026-10"}
    ).get()

    assert result == {
        "month": "2026-10", "offered": True, "awarded": 1, "forfeited": 0, "already": 0,
        "errors": 0,
    }  # fmt: skip
    assert credits(program) == {enrollment.pk: (D("10.00"), Incentive.Status.APPROVED)}


def test_the_command_awards_a_past_month_and_refuses_one_not_over(program):
    enrollment = participant(program, activated_at=before_october(program.utility))
    out = StringIO()

    call_command(
        "award_monthly_credits",
        utility=program.utility.slug,
        program=program.slug,
        month="2026-10",
        stdout=out,
    )

    assert "October 2026: 1 awarded (0 forfeited), 0 already paid, 0 refused." in out.getvalue()
    assert enrollment.pk in credits(program)
    next_month = (date.today().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    with pytest.raises(CommandError, match="has not ended yet"):
        call_command(
            "award_monthly_credits",
            utility=program.utility.slug,
            program=program.slug,
            month=next_month,
        )
    with pytest.raises(CommandError, match="has no program 'nope'"):
        call_command(
            "award_monthly_credits", utility=program.utility.slug, program="nope", month="2026-10"
        )
    with pytest.raises(CommandError, match="is not YYYY-MM"):
        call_command(
            "award_monthly_credits", utility=program.utility.slug, program=program.slug, month="Oct"
        )

"""Applications and awards through the services: each amount is calculated from the offer
and the figures given, stored with its calculation, admitted against the budget, and keyed
by (offer, enrollment, period) so that the same figures again change nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django_scopes import scope, scopes_disabled

from enrollment.incentives import services
from enrollment.incentives.models import Incentive, LedgerEntry
from enrollment.models import Enrollment
from portal.models import AuditEvent
from tests.incentives.support import (
    apply_rebate,
    bonus_offer,
    capacity_offer,
    funded_program,
    media_root,  # noqa: F401 - fixture
    monthly_offer,
    participant,
    performance_offer,
    rebate_offer,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def ledger(incentive):
    with scopes_disabled():
        return list(LedgerEntry.objects.filter(incentive=incentive).values_list("kind", "amount"))


# --- Charger rebate -------------------------------------------------------------------------


def test_it_submits_a_300_dollar_rebate_for_approval(utility_a):
    program = funded_program(utility_a)
    incentive = apply_rebate(rebate_offer(program), participant(program), total="1200.00")

    assert (incentive.status, incentive.amount) == (Incentive.Status.SUBMITTED, D("300.00"))
    assert incentive.calculation == ["Standard rebate: $300.00."]
    assert incentive.invoice.content_type == "application/pdf"
    assert ledger(incentive) == []  # nothing is reserved before approval


def test_it_gives_an_income_qualified_customer_600_capped_by_the_invoice(utility_a):
    program = funded_program(utility_a)
    offer = rebate_offer(program)
    full = apply_rebate(offer, participant(program, income_qualified=True), total="1200.00")
    capped = apply_rebate(offer, participant(program, income_qualified=True), total="450.00")

    assert (full.amount, full.income_qualified) == (D("600.00"), True)
    assert capped.amount == D("450.00")
    assert capped.calculation[-1] == "Capped at the invoice total, $450.00."


def test_it_takes_one_rebate_per_enrollment_and_a_double_click_changes_nothing(utility_a):
    program = funded_program(utility_a)
    offer, enrollment = rebate_offer(program), participant(program)
    first = apply_rebate(offer, enrollment, total="800.00")
    again = apply_rebate(offer, enrollment, total="800.00")

    assert again.pk == first.pk
    with pytest.raises(services.AlreadyClaimed) as refused:
        apply_rebate(offer, enrollment, total="900.00")
    assert f"already incentive #{first.pk}" in refused.value.message
    with scopes_disabled():
        assert Incentive.objects.filter(enrollment=enrollment).count() == 1


def test_it_accepts_a_new_application_after_a_rejection(utility_a):
    program = funded_program(utility_a)
    offer, enrollment = rebate_offer(program), participant(program)
    first = apply_rebate(offer, enrollment)
    with scope(utility=utility_a.pk):
        services.reject_incentive(incentive_id=first.pk, reason="Invoice unreadable", actor=None)

    second = apply_rebate(offer, enrollment)

    assert second.pk != first.pk
    assert second.status == Incentive.Status.SUBMITTED


def test_it_refuses_an_enrollment_that_was_never_active(utility_a):
    program = funded_program(utility_a)
    enrollment = participant(
        program, status=Enrollment.Status.ELIGIBILITY_REVIEW, activated_at=None
    )
    with pytest.raises(services.NotEligible, match="never been active"):
        apply_rebate(rebate_offer(program), enrollment)


def test_it_refuses_an_enrollment_of_another_program(utility_a):
    program, other = funded_program(utility_a), funded_program(utility_a)
    with pytest.raises(services.NotEligible, match="is not in"):
        apply_rebate(rebate_offer(program), participant(other))


# --- Enrollment bonus -----------------------------------------------------------------------


def test_it_awards_the_enrollment_bonus_once_per_enrollment(utility_a):
    program = funded_program(utility_a)
    bonus_offer(program, amount=D("150.00"))
    enrollment = participant(program)
    with scope(utility=utility_a.pk):
        first = services.award_enrollment_bonus(program=program, enrollment=enrollment)
        second = services.award_enrollment_bonus(program=program, enrollment=enrollment)

    assert second.pk == first.pk
    assert (first.status, first.amount) == (Incentive.Status.APPROVED, D("150.00"))
    assert ledger(first) == [("reserve", D("150.00"))]


def test_it_awards_nothing_when_the_program_has_no_such_offer(utility_a):
    program = funded_program(utility_a)
    with scope(utility=utility_a.pk):
        assert (
            services.award_enrollment_bonus(program=program, enrollment=participant(program))
            is None
        )


# --- Monthly credit -------------------------------------------------------------------------


def test_it_forfeits_the_monthly_credit_after_two_opt_outs(utility_a):
    program = funded_program(utility_a)
    monthly_offer(program, amount=D("10.00"), forfeit_after_opt_outs=2)
    enrollment = participant(program)
    with scope(utility=utility_a.pk):
        july = services.award_monthly_credit(
            program=program, enrollment=enrollment, month=date(2026, 7, 1), opt_out_count=1
        )
        august = services.award_monthly_credit(
            program=program, enrollment=enrollment, month=date(2026, 8, 1), opt_out_count=2
        )

    assert (july.amount, july.period_key) == (D("10.00"), "month:2026-07")
    assert (august.amount, august.status) == (D("0.00"), Incentive.Status.APPROVED)
    assert august.calculation == ["2 opt-outs this month; the credit is forfeited at 2."]
    assert ledger(july) == [("reserve", D("10.00"))]
    assert ledger(august) == []  # nothing to pay, nothing reserved


# --- Event performance and capacity ---------------------------------------------------------


def test_it_pays_an_event_per_kwh_once_per_event(utility_a):
    program = funded_program(utility_a)
    performance_offer(program, rate_per_kwh=D("2.0000"), season_cap=None)
    enrollment = participant(program)
    award = dict(
        program=program, enrollment=enrollment, event_ref="evt-42", event_date=date(2026, 7, 20)
    )
    with scope(utility=utility_a.pk):
        first = services.award_event_performance(measured_kwh=12.3, **award)
        retry = services.award_event_performance(measured_kwh=D("12.300"), **award)
        with pytest.raises(services.AlreadyClaimed, match="measured_kwh"):
            services.award_event_performance(measured_kwh=D("15"), **award)

    assert retry.pk == first.pk
    assert (first.amount, first.measured_kwh, first.season) == (
        D("24.60"),
        D("12.300"),
        "Summer 2026",
    )
    assert first.period_key == "event:evt-42"
    assert ledger(first) == [("reserve", D("24.60"))]


def test_it_caps_a_customers_event_payments_per_season_across_vehicles(utility_a):
    program = funded_program(utility_a)
    performance_offer(program, rate_per_kwh=D("2.0000"), season_cap=D("100.00"))
    first_car = participant(program)
    second_car = participant(program, account=first_car.service_account)
    other_customer = participant(program)

    def award(enrollment, ref, kwh, day=date(2026, 7, 20)):
        return services.award_event_performance(
            program=program, enrollment=enrollment, event_ref=ref, measured_kwh=kwh, event_date=day
        )

    with scope(utility=utility_a.pk):
        a = award(first_car, "e1", 30)  # $60
        b = award(second_car, "e1", 30)  # $60 → $40 left under the cap
        c = award(first_car, "e2", 10)  # cap reached
        d = award(other_customer, "e2", 30)  # another customer: own cap
        e = award(first_car, "e3", 10, day=date(2026, 12, 1))  # Winter 2026: a new season

    assert [i.amount for i in (a, b, c, d, e)] == [
        D("60.00"),
        D("40.00"),
        D("0.00"),
        D("60.00"),
        D("20.00"),
    ]
    assert b.calculation[-1] == "Season cap $100.00, of which $60.00 is already earned: $40.00."
    assert e.season == "Winter 2026"


def test_it_pays_capacity_per_kw_once_a_season_within_the_cap(utility_a):
    program = funded_program(utility_a)
    capacity_offer(program, rate_per_kw=D("275.00"), season_cap=D("2000.00"))
    enrollment = participant(program)
    with scope(utility=utility_a.pk):
        summer = services.award_capacity(
            program=program, enrollment=enrollment, season="Summer 2026", measured_kw="9.6"
        )
        again = services.award_capacity(
            program=program, enrollment=enrollment, season="Summer 2026", measured_kw=9.6
        )

    assert again.pk == summer.pk
    assert (summer.amount, summer.measured_kw) == (D("2000.00"), D("9.600"))
    assert summer.period_key == "season:Summer 2026"


def test_it_audits_every_award(utility_a):
    program = funded_program(utility_a)
    bonus_offer(program)
    with scope(utility=utility_a.pk):
        incentive = services.award_enrollment_bonus(
            program=program, enrollment=participant(program)
        )
    with scopes_disabled():
        row = AuditEvent.objects.get(
            object_type="incentives.incentive", object_id=str(incentive.pk)
        )
    assert (row.action, row.to_state, row.actor_label) == (
        "incentive.approved",
        "approved",
        "system",
    )
    assert row.changes["amount"] == "100.00"

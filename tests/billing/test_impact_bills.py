"""Each enrollment's month: the bill with the program's behaviour against the counterfactual,
computed from telemetry, premise meter data and the tariff — checked against hand-worked
figures and against the engine's own interval path (``compute_bills``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django_scopes import scope, scopes_disabled

from billing.impact.counterfactual import Session, unmanaged_intervals
from billing.intervals import Interval
from billing.models import MeterInterval, SettlementLine
from billing.rates.engine import compute_bills
from devices.models import TelemetryRollup
from dispatch.models import Event, EventParticipant
from enrollment.models import Program
from tests.billing import settle_support as s

pytestmark = pytest.mark.django_db


def _line(run, enrollment) -> SettlementLine:
    with scope(utility=run.utility_id):
        return SettlementLine.objects.get(run=run, enrollment=enrollment)


def test_it_prices_the_shifted_session_against_unmanaged_charging_without_meter_data(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a)
    enrollment = s.enrolled(program)
    s.managed_session(enrollment.vehicle, 10)
    s.managed_session(enrollment.vehicle, 11)
    line = _line(s.settle(program), enrollment)
    assert line.basis == SettlementLine.Basis.EV_ONLY
    assert line.sessions == 2
    assert line.charged_kwh == Decimal("56.000")
    # Managed: 56 kWh off-peak at $0.10 + $10 fixed; unmanaged: 56 kWh at peak $0.40 + $10.
    assert line.bill_program == Decimal("15.60")
    assert line.bill_counterfactual == Decimal("32.40")
    assert line.bill_savings == Decimal("16.80")
    assert line.net_benefit == Decimal("16.80")
    assert line.energy_by_period["1"]["counterfactual_kwh"] == "56.000"
    assert line.energy_by_period["0"]["program_kwh"] == "56.000"


def test_it_values_v2h_discharge_at_the_tou_import_price(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a, kind=Program.Kind.V2H)
    enrollment = s.enrolled(program)
    # 1.5 kWh a quarter hour for an hour at 18:00 (peak) to the home, then the 28 kWh charge.
    s.managed_session(enrollment.vehicle, 10, discharge_kwh_per_quarter=1.5)
    line = _line(s.settle(program), enrollment)
    assert line.v2h_kwh == Decimal("6.000")
    assert line.v2h_avoided == Decimal("2.40")  # 6 kWh × $0.40
    assert line.v2g_credit == Decimal("0.00")
    # The counterfactual draws the net energy taken (28 − 6 = 22 kWh) at peak, nothing home.
    assert line.bill_counterfactual == Decimal("18.80")  # 22 × 0.40 + 10
    assert line.bill_program == Decimal("10.40")  # 28 × 0.10 + 10 − 2.40 avoided
    assert line.bill_savings == Decimal("8.40")


def test_it_credits_v2g_export_at_the_tariffs_sell_rate(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a, kind=Program.Kind.V2G)
    enrollment = s.enrolled(program)
    s.managed_session(enrollment.vehicle, 10, discharge_kwh_per_quarter=2.0)
    line = _line(s.settle(program), enrollment)
    assert line.v2g_kwh == Decimal("8.000")
    assert line.v2g_credit == Decimal("0.40")  # 8 kWh × $0.05
    assert line.bill_program == Decimal("12.40")  # 2.80 + 10 − 0.40
    assert line.bill_counterfactual == Decimal("18.00")  # 20 kWh × 0.40 + 10


def test_with_premise_data_it_reverses_the_ev_delta_on_the_premise_bill(utility_a):
    tariff = s.tariff(utility_a)
    program = s.program(utility_a)
    enrollment = s.enrolled(program)
    s.managed_session(enrollment.vehicle, 10)
    s.house_load(enrollment.service_account, ev=enrollment.vehicle)
    line = _line(s.settle(program), enrollment)
    assert line.basis == SettlementLine.Basis.PREMISE

    # The same two bills by the engine's own interval path: the meter as read, and the
    # meter with the EV's rollups taken out and the unmanaged session put in.
    with scopes_disabled():
        meter = {
            m.start: m.kwh
            for m in MeterInterval.objects.filter(service_account=enrollment.service_account)
        }
        rollups = list(TelemetryRollup.objects.filter(vehicle=enrollment.vehicle))
    utc = ZoneInfo("UTC")
    counterfactual = dict(meter)
    for r in rollups:
        hour = r.interval_start.astimezone(utc).replace(minute=0)
        counterfactual[hour] -= Decimal(str(r.energy_charged_kwh - r.energy_discharged_kwh))
    session = Session(1, s.local(10, 18), s.local(11, 7), 28.0, 11.5)
    for start, kwh in unmanaged_intervals(session):
        counterfactual[start.astimezone(utc).replace(minute=0)] += Decimal(str(round(kwh, 6)))
    schedule = tariff.schedule_obj

    def bill(series):
        intervals = [Interval(start=k, seconds=3600, kwh=v) for k, v in sorted(series.items())]
        (only,) = compute_bills(schedule, intervals, s.LA)
        return only.total

    assert line.bill_program == bill(meter)
    assert line.bill_counterfactual == bill(counterfactual)
    assert line.bill_savings == Decimal("8.40")


def test_it_adds_incentives_from_the_ledger_and_event_kwh_from_measurement(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a)
    enrollment = s.enrolled(program)
    s.earned(enrollment, "50.00", on=s.local(15, 12))
    s.earned(enrollment, "25.00", on=s.local(2, 12, month=8))  # next month: not this one
    event = Event(utility=utility_a, program=program, event_type=Event.Type.LOAD_REDUCTION,
                  starts_at=s.local(20, 17), duration_minutes=60, scheduled_at=s.local(19, 9),
                  measured_at=s.local(21, 9))  # fmt: skip
    event.refresh_times()
    with scopes_disabled():
        event.save()
        EventParticipant.objects.create(
            utility=utility_a, event=event, vehicle=enrollment.vehicle, enrollment=enrollment,
            role=EventParticipant.Role.SELECTED, delivered_kwh=4.25,
        )  # fmt: skip
    line = _line(s.settle(program), enrollment)
    assert line.incentives_earned == Decimal("50.00")
    assert line.bill_credit == Decimal("50.00") and line.payout == Decimal("0.00")
    assert line.event_kwh == Decimal("4.250")
    assert line.net_benefit == line.bill_savings + Decimal("50.00")


def test_an_account_without_a_tariff_gets_a_line_that_says_so(utility_a):
    program = s.program(utility_a)
    enrollment = s.enrolled(program)
    s.managed_session(enrollment.vehicle, 10)
    s.earned(enrollment, "20.00", on=s.local(15, 12))
    line = _line(s.settle(program), enrollment)
    assert "No tariff" in line.problem
    assert line.bill_program is None and line.bill_counterfactual is None
    assert line.net_benefit == Decimal("20.00")


def test_a_session_plugged_in_before_the_month_counts_its_july_part(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a)
    enrollment = s.enrolled(program)
    s.managed_session(
        enrollment.vehicle,
        30,
    )  # fully inside July
    with scopes_disabled():
        # Plugged in on 30 June at 18:00, charged after midnight (1 July 00:00–02:00).
        from devices.models import TelemetryReading

        v = enrollment.vehicle
        TelemetryReading.objects.create(
            utility=utility_a, vehicle=v, ts=s.local(30, 18, month=6), soc_pct=40,
            power_kw=0, plugged_in=True, charging_state="idle", received_at=s.local(30, 18, month=6),
        )  # fmt: skip
        TelemetryReading.objects.create(
            utility=utility_a, vehicle=v, ts=s.local(1, 7), soc_pct=80, power_kw=0,
            plugged_in=False, charging_state="idle", received_at=s.local(1, 7),
        )  # fmt: skip
        TelemetryRollup.objects.bulk_create(
            TelemetryRollup(utility=utility_a, vehicle=v, interval_start=s.local(1, 0) + timedelta(minutes=15 * q),
                            energy_charged_kwh=1.75, readings=3)
            for q in range(8)
        )  # fmt: skip
    line = _line(s.settle(program), enrollment)
    assert line.sessions == 2
    # July holds 28 + 14 kWh managed; unmanaged, the June session's 14 kWh fell in June.
    assert line.charged_kwh == Decimal("42.000")
    assert line.bill_program == Decimal("14.20")
    assert line.bill_counterfactual == Decimal("21.20")


def test_without_raw_readings_sessions_come_from_the_rollups(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a)
    enrollment = s.enrolled(program)
    s.managed_session(enrollment.vehicle, 10)
    with scopes_disabled():
        from devices.models import TelemetryReading

        TelemetryReading.objects.filter(vehicle=enrollment.vehicle).delete()  # purged
    line = _line(s.settle(program), enrollment)
    # One session from 22:00, when charging started: the counterfactual cannot start at the
    # unknown plug-in, so no shift is credited (full power from 22:00 is off-peak too).
    assert line.sessions == 1
    assert line.charged_kwh == Decimal("28.000")
    assert line.bill_program == line.bill_counterfactual == Decimal("12.80")


def test_the_bulk_tariff_lookup_agrees_with_tariff_for(utility_a):
    from datetime import date

    from billing.models import TariffAssignment
    from billing.selectors.impact import tariffs_by_account
    from billing.selectors.tariffs import tariff_for
    from tests.customers.factories import ServiceAccountFactory

    s.tariff(utility_a)  # residential class
    own = s.tariff(utility_a, rate_class="small_commercial", name="Own Tariff")
    accounts = [
        ServiceAccountFactory(utility=utility_a, rate_class="residential") for _ in range(3)
    ]
    accounts.append(ServiceAccountFactory(utility=utility_a, rate_class="small_commercial"))
    with scopes_disabled():
        TariffAssignment.objects.create(
            utility=utility_a, tariff=own, service_account=accounts[0],
            effective_from=date(2026, 3, 1),
        )  # fmt: skip
    with scope(utility=utility_a.pk):
        for on in (date(2026, 2, 1), date(2026, 7, 1)):
            bulk = tariffs_by_account(accounts, on=on)
            assert {a.pk: tariff_for(a, on) for a in accounts} == {
                a.pk: bulk.get(a.pk) for a in accounts
            }
        assert tariffs_by_account(accounts, on=date(2026, 7, 1))[accounts[0].pk] == own

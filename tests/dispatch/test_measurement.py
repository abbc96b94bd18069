"""M&V: the 10-in-10 baseline, the same-day adjustment, delivered kW, the live interval
summary, measuring an event and the incentives it feeds."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from devices.models import OptOut, TelemetryRollup
from dispatch.measurement.baselines import (
    MeasurementError,
    NotEnded,
    NotMeasurable,
    adjustment_factor,
    baselines,
    delivered,
    mv_grid,
)
from dispatch.measurement.incentives import award_season_capacity
from dispatch.measurement.intervals import IntervalSummary, interval_summary
from dispatch.measurement.run import measure_event
from dispatch.models import Event, EventParticipant
from enrollment.incentives.models import Incentive
from tests.devices.factories import VehicleFactory
from tests.dispatch.mv_support import (
    add_participant,
    add_plan_run,
    daily,
    local,
    mv_event,
    quarters,
    rollups,
    weekdays_before,
)
from tests.incentives.support import capacity_offer, funded_program, participant, performance_offer

pytestmark = pytest.mark.django_db

EVENT_DAY = date(2026, 7, 15)  # a Wednesday; Friday 3 July is Independence Day (observed)
HOLIDAY = date(2026, 7, 3)
TEN_DAYS = weekdays_before(EVENT_DAY, 10, skip=[HOLIDAY])


def _event(utility, **fields):
    fields.setdefault("starts_at", local(utility, EVENT_DAY, 17))
    return mv_event(utility, **fields)


# --- Live interval summary ----------------------------------------------------------------


def test_it_sums_live_intervals_with_committed_from_the_latest_covering_run(utility_a):
    event = _event(utility_a, duration_minutes=60, target_kw=20)
    with_history, without_history = (
        VehicleFactory(utility=utility_a),
        VehicleFactory(utility=utility_a),
    )
    daily(with_history, TEN_DAYS, start=time(16), end=time(19), kw=10)
    add_participant(event, with_history)
    add_participant(event, without_history)
    add_participant(event, role="reserve")
    start = event.starts_at
    rollups(with_history, [start], 2)
    rollups(with_history, [start + timedelta(minutes=15)], 1)
    rollups(without_history, [start], 7)  # no baseline: left out of both sums
    grid = quarters(start, event.ends_at)
    add_plan_run(event, created_at=start - timedelta(hours=1), starts=grid, committed=[15] * 4)
    replan_at = start + timedelta(minutes=10)
    add_plan_run(
        event,
        created_at=replan_at,
        kind="replan",
        starts=quarters(replan_at, event.ends_at),
        committed=[12] * 4,
    )

    with scope(utility=utility_a.pk):
        rows = interval_summary(event, now=start + timedelta(minutes=20))

    assert [r.start for r in rows] == grid
    assert all(isinstance(r, IntervalSummary) for r in rows)
    assert [r.target_kw for r in rows] == [20, 20, 20, 20]
    # 10 minutes at 15 kW then 5 at 12 kW; then the re-plan alone.
    assert [r.committed_kw for r in rows] == [14, 12, 12, 12]
    assert [r.baseline_kw for r in rows] == [10, 10, 10, 10]
    assert [r.actual_kw for r in rows] == [2, 1, None, None]
    assert [r.delivered_kw for r in rows] == [8, 9, None, None]


def test_it_caches_baselines_and_polls_in_a_few_queries(utility_a, django_assert_max_num_queries):
    event = _event(utility_a, duration_minutes=120)
    vehicles = VehicleFactory.create_batch(5, utility=utility_a)
    for vehicle in vehicles:
        daily(vehicle, TEN_DAYS, start=time(16), end=time(19), kw=4)
        add_participant(event, vehicle)
    now = event.starts_at + timedelta(minutes=30)
    with scope(utility=utility_a.pk):
        interval_summary(event, now=now)
        with scopes_disabled():
            cached = list(EventParticipant.objects.values_list("baseline_kw", flat=True))
        assert cached == [[4.0] * 8] * 5
        event.refresh_from_db()
        with django_assert_max_num_queries(4):
            rows = interval_summary(event, now=now)
    assert rows[0].baseline_kw == 20


def test_it_adds_promoted_participants_without_recomputing_the_others(utility_a):
    event = _event(utility_a)
    first, promoted = VehicleFactory.create_batch(2, utility=utility_a)
    daily(first, TEN_DAYS, start=time(16), end=time(19), kw=4)
    daily(promoted, TEN_DAYS, start=time(16), end=time(19), kw=6)
    add_participant(event, first)
    now = event.starts_at + timedelta(minutes=5)
    with scope(utility=utility_a.pk):
        assert interval_summary(event, now=now)[0].baseline_kw == 4
        add_participant(event, promoted)
        event.refresh_from_db()
        assert interval_summary(event, now=now)[0].baseline_kw == 10


def test_it_uses_the_unadjusted_baseline_until_the_window_closes(utility_a):
    event = _event(utility_a)
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, TEN_DAYS, start=time(13), end=time(19), kw=10)
    # The event day's window (13:00–16:00) ran at 15 kW: ×1.5, clamped to ×1.2.
    daily(vehicle, [EVENT_DAY], start=time(13), end=time(16), kw=15)
    add_participant(event, vehicle)
    with scope(utility=utility_a.pk):
        before = interval_summary(event, now=local(utility_a, EVENT_DAY, 15, 30))
        event.refresh_from_db()
        after = interval_summary(event, now=local(utility_a, EVENT_DAY, 16, 5))
    assert before[0].baseline_kw == 10
    assert before[0].actual_kw is None  # the future has no actual
    assert after[0].baseline_kw == 12


def test_it_shows_nothing_for_drafts_and_cancelled_events(utility_a):
    draft = _event(utility_a, scheduled=False)
    cancelled = _event(utility_a, cancelled_at=local(utility_a, EVENT_DAY, 9))
    with scope(utility=utility_a.pk):
        assert interval_summary(draft) == []
        assert interval_summary(cancelled) == []


def test_precharge_delivers_extra_charging(utility_a):
    event = _event(utility_a, event_type=Event.Type.RESILIENCE_PRECHARGE)
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, TEN_DAYS, start=time(16), end=time(19), kw=2)
    add_participant(event, vehicle)
    rollups(vehicle, [event.starts_at], 9)
    with scope(utility=utility_a.pk):
        rows = interval_summary(event, now=event.starts_at + timedelta(minutes=10))
    assert rows[0].delivered_kw == 7


# --- The baseline, by hand ------------------------------------------------------------------


def _baseline(utility, vehicle, event=None, *, adjust=True):
    event = event or _event(utility)
    grid = mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)
    with scope(utility=utility.pk):
        return baselines(
            utility=utility,
            vehicle_ids=[vehicle.pk],
            grid=grid,
            starts_at=event.starts_at,
            exclude_event_id=event.pk,
            adjust=adjust,
        )[vehicle.pk]


def test_it_averages_the_ten_latest_eligible_weekdays(utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    # 4, 5, …, 13 kW on the ten latest eligible weekdays (mean 8.5); older days much higher.
    for kw, day in enumerate(TEN_DAYS, start=4):
        daily(vehicle, [day], start=time(17), end=time(18), kw=kw)
    older = weekdays_before(TEN_DAYS[-1], 3)
    daily(vehicle, older, start=time(17), end=time(18), kw=100)
    # The holiday and the weekend before the event are not eligible.
    daily(
        vehicle,
        [HOLIDAY, date(2026, 7, 11), date(2026, 7, 12)],
        start=time(17),
        end=time(18),
        kw=100,
    )

    baseline = _baseline(utility_a, vehicle)

    assert baseline.days == 10
    assert baseline.adjustment == 1.0  # no telemetry in the window
    assert baseline.kw == [8.5] * 4


def test_it_skips_days_of_other_events_the_vehicle_was_dispatched_in(utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    eleven = weekdays_before(EVENT_DAY, 11, skip=[HOLIDAY])
    daily(vehicle, eleven[1:], start=time(17), end=time(18), kw=6)
    daily(vehicle, [eleven[0]], start=time(17), end=time(18), kw=50)
    other = _event(utility_a, starts_at=local(utility_a, eleven[0], 17))
    add_participant(other, vehicle, role="dropped")
    # A cancelled event's day, and an event it was only a reserve in, still count.
    cancelled = _event(
        utility_a,
        starts_at=local(utility_a, eleven[1], 17),
        cancelled_at=local(utility_a, eleven[1], 9),
    )
    add_participant(cancelled, vehicle)
    reserve = _event(utility_a, starts_at=local(utility_a, eleven[2], 17))
    add_participant(reserve, vehicle, role="reserve")

    baseline = _baseline(utility_a, vehicle)

    assert baseline.days == 10
    assert baseline.kw == [6.0] * 4


def test_it_uses_fewer_days_within_45_days_and_says_how_many(utility_a):
    vehicle, old_only = VehicleFactory.create_batch(2, utility=utility_a)
    daily(vehicle, TEN_DAYS[:3], start=time(17), end=time(17, 30), kw=8)
    # 15 minutes of 8 kW on each day: 17:00 averages 8 kW, 17:30 and later 0 kW.
    daily(vehicle, [EVENT_DAY - timedelta(days=46)], start=time(17), end=time(18), kw=99)
    daily(old_only, [EVENT_DAY - timedelta(days=46)], start=time(17), end=time(18), kw=99)

    baseline = _baseline(utility_a, vehicle)
    assert baseline.days == 3
    assert baseline.kw == [8.0, 8.0, 0.0, 0.0]

    none = _baseline(utility_a, old_only)
    assert (none.kw, none.days) == (None, 0)


@pytest.mark.parametrize(("window_kw", "factor"), [(2, 0.8), (9, 0.9), (11, 1.1), (30, 1.2)])
def test_it_adjusts_to_the_morning_and_clamps_the_factor(utility_a, window_kw, factor):
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, TEN_DAYS, start=time(13), end=time(18), kw=10)
    daily(vehicle, [EVENT_DAY], start=time(13), end=time(16), kw=window_kw)
    # What happens in the last hour before the event does not count.
    daily(vehicle, [EVENT_DAY], start=time(16), end=time(17), kw=99)

    baseline = _baseline(utility_a, vehicle)

    assert baseline.adjustment == pytest.approx(factor)
    assert baseline.kw == pytest.approx([10 * factor] * 4)
    assert _baseline(utility_a, vehicle, adjust=False).kw == [10.0] * 4


def test_a_zero_morning_baseline_leaves_the_baseline_unadjusted(utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, TEN_DAYS, start=time(17), end=time(18), kw=7)
    daily(vehicle, [EVENT_DAY], start=time(13), end=time(16), kw=5)
    baseline = _baseline(utility_a, vehicle)
    assert (baseline.adjustment, baseline.kw) == (1.0, [7.0] * 4)


def test_export_is_negative_load_in_the_baseline(utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, TEN_DAYS, start=time(17), end=time(18), kw=-4)
    assert _baseline(utility_a, vehicle).kw == [-4.0] * 4


def test_an_event_past_local_midnight_takes_the_next_morning_of_each_baseline_day(utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    event = _event(utility_a, starts_at=local(utility_a, EVENT_DAY, 23, 30))
    for day in TEN_DAYS:
        daily(vehicle, [day], start=time(23, 30), end=time(23, 59), kw=3)
        daily(vehicle, [day + timedelta(days=1)], start=time(0), end=time(0, 30), kw=5)
    assert _baseline(utility_a, vehicle, event).kw == [3.0, 3.0, 5.0, 5.0]


# --- Pure rules, as properties --------------------------------------------------------------

finite = st.floats(min_value=-500, max_value=500, allow_nan=False)


@given(actual=finite, baseline=finite)
def test_the_adjustment_factor_stays_within_its_clamp(actual, baseline):
    assert 0.8 <= adjustment_factor(actual_kw=actual, baseline_kw=baseline) <= 1.2


@given(
    baseline=finite, actual=finite, rating=st.floats(min_value=0, max_value=50), pre=st.booleans()
)
def test_delivered_never_exceeds_the_rating(baseline, actual, rating, pre):
    value = delivered(baseline_kw=baseline, actual_kw=actual, rating_kw=rating, precharge=pre)
    assert value <= rating
    assert value == min(rating, (actual - baseline) if pre else (baseline - actual))


# --- Measuring an ended event ---------------------------------------------------------------

AFTER = (EVENT_DAY, 19)


def _measured_event(utility, *, program=None, enrollment=None):
    """The worked example: see ``test_it_measures_each_participant_and_the_event``."""
    event = _event(utility, duration_minutes=60, target_kw=20, program=program)
    start, grid = event.starts_at, quarters(event.starts_at, event.ends_at)
    exporter = enrollment.vehicle if enrollment else VehicleFactory(utility=utility)
    heavier, dropped, unknown = VehicleFactory.create_batch(3, utility=utility)
    daily(exporter, TEN_DAYS, start=time(17), end=time(18), kw=3)
    daily(heavier, TEN_DAYS, start=time(17), end=time(18), kw=5)
    daily(dropped, TEN_DAYS, start=time(17), end=time(18), kw=4)
    rollups(exporter, grid, -7)  # exports 7 kW: 10 kW delivered, capped at 9.6
    rollups(heavier, grid, 6)  # charges more than its baseline: −1 kW
    rollups(dropped, grid[:2], 0)
    rollups(unknown, grid, -5)  # no history, so no baseline
    add_participant(event, exporter, rating_kw=9.6, enrollment=enrollment)
    add_participant(event, heavier, rating_kw=10)
    add_participant(
        event, dropped, role="dropped", rating_kw=10, dropped_at=start + timedelta(minutes=20)
    )
    add_participant(event, unknown)
    add_participant(event, role="reserve")
    add_participant(event, role="excluded")
    with scopes_disabled():
        OptOut.objects.create(
            utility=utility, vehicle=dropped, partner=dropped.partner, event_ref=str(event.pk)
        )
    add_plan_run(event, created_at=start - timedelta(hours=1), starts=grid, committed=[18] * 4)
    return event


def _measure(utility, event, **kwargs):
    with scope(utility=utility.pk):
        return measure_event(event.pk, now=local(utility, *AFTER), **kwargs)


def test_it_measures_each_participant_and_the_event(utility_a):
    event = _measured_event(utility_a)

    result = _measure(utility_a, event)

    event.refresh_from_db()
    with scopes_disabled():
        rows = {
            p.role + str(p.rating_kw) + str(p.delivered_kwh): p for p in event.participants.all()
        }
        by_vehicle = {p.vehicle_id: p for p in event.participants.all()}
    # The dropped vehicle counts its 20 minutes: a whole first interval, a third of the next.
    assert result.delivered_kwh == 10.933
    summary = event.measurement["summary"]
    assert summary == {
        "measured_minutes": 60.0,
        "delivered_kwh": 10.933,
        "average_delivered_kw": 10.933,
        "target_kw": 20,
        "percent_of_target": 54.7,
        "dispatched": 3,
        "dropped": 1,
        "delivering": 1,
        "participation_pct": 33.3,
        "opted_out": 1,
        "opt_out_rate_pct": 25.0,
        "without_baseline": 1,
        "without_telemetry": 0,
        "baseline_days_min": 10,
        "baseline_days_mean": 10.0,
        "short_baseline": 0,
        "rebound_kwh": 0.0,
    }
    intervals = event.measurement["intervals"]
    assert [i["baseline_kw"] for i in intervals] == [12, 12, 8, 8]
    assert [i["actual_kw"] for i in intervals] == [-1, -1, -1, -1]
    assert [i["delivered_kw"] for i in intervals] == [13.6, 10.933, 9.6, 9.6]
    assert [i["committed_kw"] for i in intervals] == [18] * 4
    assert [i["target_kw"] for i in intervals] == [20] * 4
    assert event.measured_at == local(utility_a, *AFTER)
    assert len(rows) == 6
    selected = [p for p in by_vehicle.values() if p.role == "selected"]
    exporter = next(p for p in selected if p.rating_kw == 9.6)
    assert exporter.baseline_kw == [3.0] * 4
    assert exporter.actual_kw == [-7.0] * 4
    assert exporter.delivered_kw == [9.6] * 4
    assert exporter.delivered_kwh == 9.6
    heavier = next(p for p in selected if p.rating_kw == 10 and p.baseline_kw[0] is not None)
    assert (heavier.delivered_kw, heavier.delivered_kwh) == ([-1.0] * 4, 0.0)
    unknown = next(p for p in selected if p.baseline_kw[0] is None)
    assert (unknown.delivered_kw, unknown.delivered_kwh) == ([None] * 4, None)
    assert unknown.actual_kw == [-5.0] * 4
    dropped = next(p for p in by_vehicle.values() if p.role == "dropped")
    assert dropped.delivered_kw == [4.0, 4.0, None, None]
    assert dropped.delivered_kwh == 1.333
    untouched = [p for p in by_vehicle.values() if p.role in ("reserve", "excluded")]
    assert all(p.measured_at is None and p.delivered_kw is None for p in untouched)
    assert event.measurement["participants"][str(exporter.pk)] == {"days": 10, "adjustment": 1.0}


def test_remeasuring_gives_the_same_figures(utility_a):
    event = _measured_event(utility_a)
    _measure(utility_a, event)
    event.refresh_from_db()
    with scopes_disabled():
        first = list(
            event.participants.values_list(
                "baseline_kw", "actual_kw", "delivered_kw", "delivered_kwh"
            )
        )
    before = event.measurement

    _measure(utility_a, event)

    event.refresh_from_db()
    with scopes_disabled():
        second = list(
            event.participants.values_list(
                "baseline_kw", "actual_kw", "delivered_kw", "delivered_kwh"
            )
        )
    assert event.measurement == before
    assert second == first


def test_it_measures_in_a_fixed_number_of_queries(utility_a, django_assert_max_num_queries):
    small, large = _event(utility_a), _event(utility_a, starts_at=local(utility_a, EVENT_DAY, 9))
    for event, count in ((small, 2), (large, 25)):
        for vehicle in VehicleFactory.create_batch(count, utility=utility_a):
            daily(vehicle, TEN_DAYS[:4], start=time(6), end=time(18), kw=4)
            rollups(vehicle, quarters(event.starts_at, event.ends_at), 1)
            add_participant(event, vehicle)
    counts = []
    for event in (small, large):
        with CaptureQueriesContext(connection) as queries:
            _measure(utility_a, event)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):
        _measure(utility_a, large)


def test_it_refuses_events_that_have_not_ended_or_were_cancelled(utility_a):
    event = _event(utility_a)
    cancelled = _event(utility_a, cancelled_at=local(utility_a, EVENT_DAY, 9))
    with scope(utility=utility_a.pk):
        with pytest.raises(NotEnded, match="has not ended yet"):
            measure_event(event.pk, now=local(utility_a, EVENT_DAY, 17, 30))
        with pytest.raises(NotMeasurable, match="cancelled"):
            measure_event(cancelled.pk, now=local(utility_a, *AFTER))
        with pytest.raises(MeasurementError, match="no event"):
            measure_event(event.pk + 1000, now=local(utility_a, *AFTER))


def test_an_event_ended_early_is_measured_up_to_its_end(utility_a):
    event = _event(
        utility_a, duration_minutes=120, ended_early_at=local(utility_a, EVENT_DAY, 17, 30)
    )
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, TEN_DAYS, start=time(17), end=time(19), kw=6)
    rollups(vehicle, quarters(event.starts_at, event.starts_at + timedelta(hours=2)), 0)
    add_participant(event, vehicle)
    _measure(utility_a, event)
    event.refresh_from_db()
    assert len(event.measurement["interval_starts"]) == 2
    assert event.measurement["summary"]["delivered_kwh"] == 3.0


# --- Incentives -----------------------------------------------------------------------------


def test_it_awards_performance_once_per_event(utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    performance_offer(program)
    enrollment = participant(program)
    event = _measured_event(utility_a, program=program, enrollment=enrollment)

    first = _measure(utility_a, event)
    again = _measure(utility_a, event)

    with scopes_disabled():
        awarded = list(Incentive.objects.filter(enrollment=enrollment))
    assert (first.incentives_awarded, again.incentives_awarded) == (1, 1)
    assert len(awarded) == 1
    assert awarded[0].measured_kwh == Decimal("9.600")
    assert awarded[0].amount == Decimal("19.20")
    assert awarded[0].period_key == f"event:{event.pk}"


def test_changed_figures_are_reported_not_paid_twice(utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    performance_offer(program)
    enrollment = participant(program)
    event = _measured_event(utility_a, program=program, enrollment=enrollment)
    _measure(utility_a, event)
    # Late telemetry: the exporter's last interval was only 1 kW of export after all.
    with scopes_disabled():
        TelemetryRollup.objects.filter(
            vehicle=enrollment.vehicle, interval_start=event.ends_at - timedelta(minutes=15)
        ).update(energy_discharged_kwh=0.25)

    result = _measure(utility_a, event)

    assert result.incentives_awarded == 0
    assert len(result.incentive_errors) == 1
    assert "already incentive" in result.incentive_errors[0]
    event.refresh_from_db()
    assert event.measurement["incentives"]["errors"] == result.incentive_errors
    with scopes_disabled():
        assert Incentive.objects.filter(enrollment=enrollment).count() == 1


def test_programs_without_a_performance_offer_award_nothing(utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    enrollment = participant(program)
    event = _measured_event(utility_a, program=program, enrollment=enrollment)
    assert _measure(utility_a, event).incentives_awarded == 0
    with scopes_disabled():
        assert not Incentive.objects.exists()


def test_it_pays_season_capacity_on_the_average_delivered_kw(utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    capacity_offer(program)
    enrollment = participant(program)
    event = _measured_event(utility_a, program=program, enrollment=enrollment)
    _measure(utility_a, event)  # 9.6 kWh in an hour
    later = _event(utility_a, program=program, starts_at=local(utility_a, date(2026, 8, 5), 17))
    add_participant(later, enrollment.vehicle, enrollment=enrollment, rating_kw=4.8)
    daily(
        enrollment.vehicle, weekdays_before(date(2026, 8, 5), 3), start=time(17), end=time(18), kw=0
    )
    rollups(enrollment.vehicle, quarters(later.starts_at, later.ends_at), -6)
    with scope(utility=utility_a.pk):
        measure_event(later.pk, now=local(utility_a, date(2026, 8, 6), 9))

        awards = award_season_capacity(program=program, season="Summer 2026")
        again = award_season_capacity(program=program, season="Summer 2026")

    assert [(a.events, a.average_kw) for a in awards] == [(2, 7.2)]
    assert again[0].incentive_id == awards[0].incentive_id
    with scopes_disabled():
        incentive = Incentive.objects.get(pk=awards[0].incentive_id)
    assert incentive.amount == Decimal("1980.00")  # 7.2 kW × $275
    assert incentive.season == "Summer 2026"


def test_season_capacity_refuses_what_it_cannot_pay(utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    with scope(utility=utility_a.pk):
        with pytest.raises(MeasurementError, match="no active capacity"):
            award_season_capacity(program=program, season="Summer 2026")
        capacity_offer(program)
        with pytest.raises(MeasurementError, match="no measured events"):
            award_season_capacity(program=program, season="Summer 2026")
        with pytest.raises(MeasurementError, match="Name the season"):
            award_season_capacity(program=program, season="  ")


def test_days_without_telemetry_at_the_baselines_times_are_missing_data(utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    eleven = weekdays_before(EVENT_DAY, 11, skip=[HOLIDAY])
    daily(vehicle, eleven[1:], start=time(17), end=time(18), kw=6)
    # The latest weekday it only reported at night: not a day of zero load at 17:00.
    daily(vehicle, [eleven[0]], start=time(2), end=time(3), kw=11)
    baseline = _baseline(utility_a, vehicle)
    assert (baseline.days, baseline.kw) == (10, [6.0] * 4)

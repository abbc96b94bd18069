"""The M&V report page, "Measure now", the CSV, the measuring tasks and the season command."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch import tasks
from dispatch.measurement.baselines import mv_grid
from dispatch.measurement.run import measure_event
from dispatch.models import Event
from enrollment.incentives.models import Incentive
from portal.roles import Role
from tests.devices.factories import VehicleFactory
from tests.dispatch.mv_support import (
    add_participant,
    daily,
    first_vin,
    history_like,
    local,
    measured_event,
    mv_event,
    quarters,
    rollups,
    weekdays_before,
)
from tests.incentives.support import capacity_offer, funded_program, participant, performance_offer
from tests.portal.factories import make_member
from tests.worker import celery_worker, wait_for

pytestmark = pytest.mark.django_db


def _url(name, utility, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


def _login(client, utility, role=Role.DR_OPERATOR):
    client.force_login(make_member(role, utility=utility))
    return client


def _ended_event(utility, *, program=None, hours_ago=2, vehicles=1, enrollment=None):
    """An event that ended ``hours_ago`` hours ago (an hour long), not measured yet, whose
    vehicles charged at 4 kW at the same times on the weekdays before and exported 5 kW
    during it: 9 kW delivered per interval (rating 10 kW)."""
    starts_at = (timezone.now() - timedelta(hours=hours_ago + 1)).replace(second=0, microsecond=0)
    event = mv_event(utility, starts_at=starts_at, program=program)
    grid = mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)
    day = timezone.localtime(starts_at, utility.tzinfo).date()
    cars = [enrollment.vehicle] if enrollment else []
    cars += VehicleFactory.create_batch(vehicles - len(cars), utility=utility)
    for car in cars:
        # Twelve weekdays: ten are eligible even with a holiday or two among them.
        history_like(car, grid, weekdays_before(day, 12), kw=4)
        rollups(car, grid, -5)
        add_participant(event, car, enrollment=enrollment if car is cars[0] else None)
    return event


def _delivered_kwh(event) -> float:
    """9 kW for the hour the event ran: its partial first and last intervals (it starts off
    the quarter hour) count for their part only."""
    return 9 * (event.ends_at - event.starts_at).total_seconds() / 3600


def event_rebound_intervals(event) -> int:
    event.refresh_from_db()
    return len(event.measurement["rebound"]["intervals"])


# --- The report page ------------------------------------------------------------------------


def test_it_reports_a_measured_event(client, utility_a):
    event = measured_event(utility_a)
    body = _login(client, utility_a).get(_url("event_report", utility_a, event.pk)).content
    text = body.decode()
    assert "Measurement &amp; verification" in text
    assert first_vin(event) in text
    assert "<svg" in text and "Delivered" in text
    summary = event.measurement["summary"]
    assert (summary["delivered_kwh"], summary["percent_of_target"]) == (8.0, None)
    assert "8.0 kWh" in text  # 3 kW of charging became 5 kW of export for an hour
    assert "No target (all available)" in text
    assert "Download per vehicle and interval (CSV)" in text
    assert "Measure again" in text  # a DR operator may measure again


def test_it_shows_the_figures_of_each_vehicle_and_interval(client, utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    performance_offer(program)
    enrollment = participant(program)
    event = _ended_event(utility_a, program=program, enrollment=enrollment)
    with scope(utility=utility_a.pk):
        measure_event(event.pk)
    event.refresh_from_db()
    text = (
        _login(client, utility_a, Role.PROGRAM_ANALYST)
        .get(_url("event_report", utility_a, event.pk))
        .content.decode()
    )
    assert event.measurement["summary"]["delivered_kwh"] == _delivered_kwh(event)
    with scopes_disabled():
        incentive = Incentive.objects.get(enrollment=enrollment)
    assert f"${incentive.amount}" in text
    assert enrollment.vehicle.vin in text
    assert ">10<" in text  # baseline days
    assert "Measure again" not in text  # analysts do not dispatch


def test_it_says_when_an_event_will_be_measured(client, utility_a):
    upcoming = mv_event(utility_a, starts_at=timezone.now() + timedelta(hours=2))
    text = _login(client, utility_a).get(_url("event_report", utility_a, upcoming.pk))
    text = text.content.decode()
    assert "Not measured yet" in text
    due = timezone.localtime(upcoming.ends_at + timedelta(minutes=30), utility_a.tzinfo)
    assert f"at about {due:%Y-%m-%d %H:%M}" in text
    assert "Measure now" not in text

    ended = _ended_event(utility_a)
    text = client.get(_url("event_report", utility_a, ended.pk)).content.decode()
    assert "measured automatically within a few minutes" in text
    assert "Measure now" in text


def test_the_report_page_runs_a_fixed_number_of_queries(
    client, utility_a, django_assert_max_num_queries
):
    few = _ended_event(utility_a, vehicles=2)
    many = _ended_event(utility_a, vehicles=60)
    with scope(utility=utility_a.pk):
        measure_event(few.pk)
        measure_event(many.pk)
    _login(client, utility_a)
    with django_assert_max_num_queries(30) as captured:
        assert client.get(_url("event_report", utility_a, few.pk)).status_code == 200
    with django_assert_max_num_queries(len(captured.captured_queries)):
        response = client.get(_url("event_report", utility_a, many.pk))
    assert "Page 1 of 2" in response.content.decode()


# --- Measure now ----------------------------------------------------------------------------


def test_measure_now_measures_and_awards(
    client, utility_a, eager_tasks, django_capture_on_commit_callbacks
):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    performance_offer(program)
    enrollment = participant(program)
    event = _ended_event(utility_a, program=program, enrollment=enrollment)

    with django_capture_on_commit_callbacks(execute=True):
        response = _login(client, utility_a).post(_url("event_measure", utility_a, event.pk))

    assert response.status_code == 302
    assert response["Location"] == _url("event_report", utility_a, event.pk)
    event.refresh_from_db()
    assert event.measured_at is not None
    assert event.measurement["incentives"] == {"awarded": 1, "errors": []}
    with scopes_disabled():
        assert Incentive.objects.filter(enrollment=enrollment).count() == 1
    text = client.get(response["Location"]).content.decode()
    assert f"Measured: {_delivered_kwh(event):g} kWh delivered by 1 dispatched vehicle" in text
    with scopes_disabled():
        assert Incentive.objects.get().amount == Decimal(str(_delivered_kwh(event) * 2))


def test_measure_now_runs_a_large_event_in_the_background(
    client, utility_a, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.DISPATCH_MEASURE_INLINE_MAX_VEHICLES = 0  # every event counts as large
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h")
    performance_offer(program)
    enrollment = participant(program)
    event = _ended_event(utility_a, program=program, enrollment=enrollment)
    queued = []
    # What the worker would receive, kept to run by hand once the page has been checked.
    monkeypatch.setattr(
        tasks.measure_event, "apply_async", lambda kwargs, **_: queued.append(kwargs)
    )
    operator = _login(client, utility_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(_url("event_measure", utility_a, event.pk))
        operator.post(_url("event_measure", utility_a, event.pk))  # an impatient second click

    assert response.status_code == 302
    assert queued == [{"utility_id": utility_a.pk, "event_id": event.pk}]  # queued once
    event.refresh_from_db()
    assert event.measured_at is None and event.measure_requested_at is not None
    page = client.get(response["Location"]).content.decode()
    assert "Measuring 1 dispatched vehicles in the background" in page
    assert "Measuring in the background" in page
    assert '<meta http-equiv="refresh" content="15">' in page
    assert "Measure now</button>" not in page

    # The worker's run measures and awards; the page shows the report.
    monkeypatch.undo()
    tasks.measure_event.apply(kwargs=queued[0]).get()

    event.refresh_from_db()
    assert event.measured_at > event.measure_requested_at
    assert event.measurement["incentives"] == {"awarded": 1, "errors": []}
    page = client.get(response["Location"]).content.decode()
    assert "Measuring in the background" not in page and 'http-equiv="refresh"' not in page
    assert "Measure again</button>" in page


def test_measure_now_refuses_a_large_event_that_has_not_ended(client, utility_a, settings):
    settings.DISPATCH_MEASURE_INLINE_MAX_VEHICLES = 0
    event = mv_event(utility_a, starts_at=timezone.now() + timedelta(minutes=30))
    response = _login(client, utility_a).post(_url("event_measure", utility_a, event.pk))
    assert response.status_code == 200
    assert "has not ended yet" in response.content.decode()
    event.refresh_from_db()
    assert event.measure_requested_at is None


def test_measure_now_refuses_an_event_that_has_not_ended(client, utility_a):
    event = mv_event(utility_a, starts_at=timezone.now() + timedelta(minutes=30))
    response = _login(client, utility_a).post(_url("event_measure", utility_a, event.pk))
    assert response.status_code == 200
    assert "has not ended yet" in response.content.decode()
    event.refresh_from_db()
    assert event.measured_at is None


def test_measure_now_needs_the_dispatch_capability(client, utility_a):
    event = _ended_event(utility_a)
    for role in (Role.AUDITOR, Role.PROGRAM_ANALYST, Role.SETTLEMENT_ANALYST):
        response = _login(client, utility_a, role).post(_url("event_measure", utility_a, event.pk))
        assert response.status_code == 403
    _login(client, utility_a)
    assert client.get(_url("event_measure", utility_a, event.pk)).status_code == 405
    event.refresh_from_db()
    assert event.measured_at is None


def test_bad_addresses_and_other_tenants_are_404(client, utility_a, utility_b):
    theirs = measured_event(utility_b)
    _login(client, utility_a)
    base = f"/u/{utility_a.slug}/events/"
    assert client.get(base + "abc/report/").status_code == 404
    assert client.get(base + "abc/report.csv").status_code == 404
    assert client.post(base + "abc/measure/").status_code == 404
    assert client.get(_url("event_report", utility_a, theirs.pk)).status_code == 404
    assert client.get(_url("event_report_csv", utility_a, theirs.pk)).status_code == 404
    assert client.post(_url("event_measure", utility_a, theirs.pk)).status_code == 404
    assert client.get(_url("event_report", utility_b, theirs.pk)).status_code == 404
    client.logout()
    anonymous = client.get(_url("event_report", utility_a, theirs.pk))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("account_login"))


# --- CSV ------------------------------------------------------------------------------------


def test_the_csv_has_a_row_per_vehicle_and_interval(client, utility_a):
    event = _ended_event(utility_a, vehicles=2)
    with scope(utility=utility_a.pk):
        measure_event(event.pk)
    response = _login(client, utility_a, Role.AUDITOR).get(
        _url("event_report_csv", utility_a, event.pk)
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "vin", "role", "interval_start", "baseline_kw", "actual_kw", "delivered_kw", "period",
        "rebound_kw",
    ]  # fmt: skip
    grid = mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)
    rebound = event_rebound_intervals(event)
    assert len(rows) == 1 + 2 * (len(grid) + rebound)
    first = rows[1]
    assert first[2] == timezone.localtime(grid[0], utility_a.tzinfo).isoformat()
    assert first[3:] == ["4.0", "-5.0", "9.0", "event", ""]
    assert [r[6] for r in rows[1:]].count("rebound") == 2 * rebound


def test_the_csv_of_an_unmeasured_event_says_so(client, utility_a):
    event = _ended_event(utility_a)
    response = _login(client, utility_a).get(_url("event_report_csv", utility_a, event.pk))
    assert response.status_code == 302
    text = client.get(response["Location"]).content.decode()
    assert "has not been measured yet" in text


# --- Tasks ----------------------------------------------------------------------------------


def test_beat_measures_events_once_late_telemetry_is_in(utility_a, utility_b, eager_tasks):
    ended_long_ago = _ended_event(utility_a, hours_ago=2)
    other_utility = _ended_event(utility_b, hours_ago=1)
    just_ended = _ended_event(utility_a, hours_ago=0)  # ended a few seconds ago
    upcoming = mv_event(utility_a, starts_at=timezone.now() + timedelta(hours=1))
    cancelled = mv_event(
        utility_a, starts_at=timezone.now() - timedelta(hours=5), cancelled_at=timezone.now()
    )

    assert tasks.measure_completed_events.apply().get() == 2
    assert tasks.measure_completed_events.apply().get() == 0  # measured: not again

    for event in (ended_long_ago, other_utility, just_ended, upcoming, cancelled):
        event.refresh_from_db()
    assert ended_long_ago.measured_at and other_utility.measured_at
    assert not (just_ended.measured_at or upcoming.measured_at or cancelled.measured_at)


def test_the_measuring_delay_is_a_setting(settings, utility_a, eager_tasks):
    settings.DISPATCH_MEASURE_DELAY_MINUTES = 0
    event = _ended_event(utility_a, hours_ago=0)
    assert tasks.measure_completed_events.apply().get() == 1
    event.refresh_from_db()
    assert event.measured_at is not None


def test_the_measure_task_reports_a_refusal(utility_a):
    event = mv_event(utility_a, starts_at=timezone.now() + timedelta(hours=1))
    result = tasks.measure_event.apply(kwargs={"utility_id": utility_a.pk, "event_id": event.pk})
    assert result.get()["code"] == "event_not_ended"


# --- Season capacity command ----------------------------------------------------------------


def test_the_command_pays_season_capacity(utility_a):
    program = funded_program(utility_a, min_notice_minutes=0, kind="v2h", slug="summer-v2h")
    capacity_offer(program)
    enrollment = participant(program)
    day = date(2026, 7, 15)
    event = mv_event(utility_a, program=program, starts_at=local(utility_a, day, 17))
    daily(enrollment.vehicle, weekdays_before(day, 10), start=time(17), end=time(18), kw=2)
    rollups(enrollment.vehicle, quarters(event.starts_at, event.ends_at), -6)
    add_participant(event, enrollment.vehicle, enrollment=enrollment, rating_kw=20)
    with scope(utility=utility_a.pk):
        measure_event(event.pk, now=local(utility_a, day, 20))
    out = io.StringIO()

    call_command(
        "award_season_capacity", utility=utility_a.slug, program="summer-v2h",
        season="Summer 2026", stdout=out,
    )  # fmt: skip

    assert "8 kW over 1 event(s)" in out.getvalue()
    assert "1 awarded, 0 refused." in out.getvalue()
    with scopes_disabled():
        incentive = Incentive.objects.get(enrollment=enrollment)
    assert incentive.amount == Decimal("2000.00")  # 8 kW × $275 = $2,200, the season cap
    with pytest.raises(CommandError, match="no measured events"):
        call_command(
            "award_season_capacity", utility=utility_a.slug, program="summer-v2h",
            season="Winter 2026",
        )  # fmt: skip
    with pytest.raises(CommandError, match="no program"):
        call_command(
            "award_season_capacity", utility=utility_a.slug, program="nope", season="Summer 2026"
        )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_measures_through_a_real_worker(utility_a):
    event = _ended_event(utility_a, hours_ago=1)
    with celery_worker(name="mva"):
        tasks.measure_completed_events.delay()

        def measured():
            with scope(utility=utility_a.pk):
                return Event.objects.filter(pk=event.pk, measured_at__isnull=False).first()

        found = wait_for(measured, timeout=60, message="the worker never measured the event")
    assert found.measurement["summary"]["delivered_kwh"] == _delivered_kwh(event)

"""The live event console: the event page's console section and its live fragment, for
each status; counters that match the database; the per-vehicle table's filters and pages;
the chart; a constant number of queries whatever the fleet size."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import DeviceCommand
from dispatch.charts import event_chart
from dispatch.measurement.intervals import IntervalSummary
from dispatch.models import Event, EventPlanRun
from portal.roles import Role
from tests.dispatch.console_support import (
    CommandStatus,
    Participant,
    add_commands,
    add_opt_out,
    add_participants,
    add_plan_run,
    add_rollups,
    event_in_status,
    fleet,
    idle_history,
    set_states,
)
from tests.dispatch.events_support import open_program, utc
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db

SCRIPT = "js/event-console.js"


def _url(name, event, query=""):
    return reverse(f"utility:{name}", args=[event.utility.slug, event.pk]) + query


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _body(client, name, event, query="") -> str:
    response = client.get(_url(name, event, query))
    assert response.status_code == 200
    return response.content.decode()


def _count(body: str, dom_id: str) -> int:
    match = re.search(rf'id="{dom_id}">(\d+)<', body)
    assert match, f"no counter {dom_id}"
    return int(match[1])


def _vins(body: str) -> set[str]:
    table = body.split('id="participants"', 1)[1]
    return set(re.findall(r"<code>([0-9A-HJ-NPR-Z]{17})</code>", table))


def _planned(utility, status, *, selected=4, reserve=2, excluded=3, dropped=1, **fields):
    """An event in ``status`` with a plan: ``selected`` vehicles discharging (commands
    accepted), reserves, vehicles excluded for two reasons, one dropped (command opted out)."""
    event = event_in_status(utility, status, target_kw=30.0, **fields)
    vehicles = fleet(utility, selected + reserve + excluded + dropped)
    chosen, rest = vehicles[:selected], vehicles[selected:]
    add_plan_run(
        event, created_at=event.notify_at, committed_kw=38.4, selected=selected,
        reserves=reserve, excluded=excluded, commands=selected,
    )  # fmt: skip
    add_participants(event, chosen, Participant.SELECTED, command=CommandStatus.ACCEPTED)
    add_participants(event, rest[:reserve], Participant.RESERVE)
    add_participants(event, rest[reserve : reserve + 2], Participant.EXCLUDED, reason="offline")
    add_participants(
        event, rest[reserve + 2 : reserve + excluded], Participant.EXCLUDED, reason="not plugged in"
    )
    add_participants(
        event, rest[reserve + excluded :], Participant.DROPPED, reason="opted out during the event",
        command=CommandStatus.OPTED_OUT, command_reason="Customer opted out in the app",
    )  # fmt: skip
    set_states(chosen, soc_pct=64, power_kw=-9.6)
    return event, vehicles


# --- Each status --------------------------------------------------------------------------


def test_it_shows_an_active_events_console_with_counters_that_match_the_database(
    operator, utility_a
):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    dropped = vehicles[-1]
    add_opt_out(event, dropped)
    add_opt_out(event, vehicles[4], by_range=True)  # a reserve, opted out by time range
    add_commands(event, vehicles[:1], CommandStatus.FAILED, reason="Vehicle asleep")
    add_commands(event, vehicles[1:2], CommandStatus.REJECTED, reason="Charger busy")
    add_plan_run(
        event, kind=EventPlanRun.Kind.REPLAN, dropped=1, added=1, selected=4, commands=2,
        reasons={"opted out during the event": 1}, since=event.starts_at + timedelta(minutes=15),
    )  # fmt: skip

    body = _body(operator, "event_detail", event)

    with scopes_disabled():
        roles = {r: event.participants.filter(role=r).count() for r in Participant.values}
        statuses = {
            s: DeviceCommand.objects.filter(source_id=str(event.pk), status=s).count()
            for s in CommandStatus.values
        }
    for role, n in roles.items():
        assert _count(body, f"count-role-{role}") == n
    for status, n in statuses.items():
        assert _count(body, f"count-command-{status}") == n
    assert roles == {"selected": 4, "reserve": 2, "excluded": 3, "dropped": 1}
    assert (statuses["accepted"], statuses["opted_out"], statuses["failed"]) == (4, 1, 1)
    assert _count(body, "count-opt-outs") == 2
    assert _count(body, "count-failures") == 2
    assert _count(body, "count-replans") == 1
    assert "opted out during the event (1)" in body
    # Why capacity is missing: excluded reasons with counts, most common first.
    reasons = body.split('id="missing-capacity"', 1)[1]
    assert reasons.index("<td>offline</td><td>2</td>") < reasons.index(
        "<td>not plugged in</td><td>1</td>"
    )
    assert "<td>opted out during the event</td><td></td><td>1</td>" in reasons
    # Live: the script, the fragment URL and the flag it reads.
    assert SCRIPT in body
    assert f'data-live-url="{_url("event_live", event)}"' in body
    assert 'data-live="on"' in body
    assert "<script>" not in body  # no inline script
    # The chart and its table; "now" is marked while the event runs.
    assert 'role="img"' in body
    assert 'class="now"' in body
    assert "Target 30 kW." in body


def test_it_shows_a_notified_events_plan_without_delivered_kw(operator, utility_a):
    event, _ = _planned(utility_a, Event.Status.NOTIFIED)
    body = _body(operator, "event_detail", event)
    assert 'data-live="on"' in body
    assert SCRIPT in body
    assert "Committed 38.4 kW throughout." in body
    assert "Nothing delivered or measured yet." in body
    assert "verification report" not in body  # only once the event is over
    assert 'class="now"' not in body
    assert _count(body, "count-role-selected") == 4


def test_it_shows_a_completed_events_final_numbers_without_live_updates(operator, utility_a):
    event, _ = _planned(utility_a, Event.Status.COMPLETED)
    body = _body(operator, "event_detail", event)
    assert 'data-live="off"' in body
    assert SCRIPT not in body
    assert "these are its final numbers" in body
    assert _count(body, "count-command-accepted") == 4
    report = reverse("utility:event_report", args=[utility_a.slug, event.pk])
    assert f'href="{report}">Measurement &amp; verification report' in body


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (Event.Status.SCHEDULED, "The console opens when customers are notified, at"),
        (Event.Status.DRAFT, "the console opens once the event is scheduled"),
        (Event.Status.CANCELLED, "The event was cancelled before it was planned."),
    ],
)
def test_it_says_when_the_console_opens_for_an_unplanned_event(operator, utility_a, status, text):
    event = event_in_status(utility_a, status)
    body = _body(operator, "event_detail", event)
    assert text in body
    assert 'id="count-role-selected"' not in body
    assert SCRIPT not in body


def test_it_keeps_a_cancelled_planned_events_counts_without_a_chart(operator, utility_a):
    event, _ = _planned(utility_a, Event.Status.NOTIFIED)
    with scopes_disabled():
        Event.objects.filter(pk=event.pk).update(cancelled_at=timezone.now())
    body = _body(operator, "event_detail", event)
    assert _count(body, "count-role-selected") == 4
    assert 'data-live="off"' in body
    assert "No intervals to chart yet." in body


def test_it_keeps_the_actions_by_status_and_capability(client, operator, utility_a):
    event, _ = _planned(utility_a, Event.Status.ACTIVE)
    body = _body(operator, "event_detail", event)
    assert _url("event_end_early", event) in body
    assert _url("event_extend", event) in body
    assert _url("event_cancel", event) not in body  # running: end it instead
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    assert _url("event_end_early", event) not in _body(client, "event_detail", event)


# --- The chart ----------------------------------------------------------------------------


def test_it_charts_delivered_kw_from_telemetry_against_the_baseline(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    dispatched = vehicles[:4]
    idle_history(dispatched, event)
    first = event.starts_at
    add_rollups(dispatched, [first, first + timedelta(minutes=15)], power_kw=-9.6)

    body = _body(operator, "event_detail", event)

    assert "Delivered in 3 measured intervals: mean 25.6 kW, latest 0 kW." in body
    rows = re.findall(r"<tr><th scope=\"row\">.*?</tr>", re.sub(r">\s+<", "><", body))
    assert len(rows) == 8  # two hours of 15-minute intervals
    # Target, committed, baseline, actual, delivered.
    assert (
        "<td>30.0 kW</td><td>38.4 kW</td><td>0.0 kW</td><td>-38.4 kW</td><td>38.4 kW</td>"
        in rows[0]
    )
    # The future: no actual, nothing delivered, no rebound.
    assert rows[-1].count("<td>—</td>") == 3
    assert body.count('<circle cx="') == 3 + 1  # three measured intervals + the legend's dot


def _summary(start, *, committed, delivered, target=20.0):
    return IntervalSummary(
        start=start, end=start + timedelta(minutes=15), target_kw=target,
        committed_kw=committed, baseline_kw=None, actual_kw=None, delivered_kw=delivered,
    )  # fmt: skip


def test_the_chart_breaks_the_delivered_line_where_nothing_was_measured(utility_a):
    t0 = utc(2030, 7, 1, 23, 0)
    rows = [
        _summary(t0, committed=24.0, delivered=21.0),
        _summary(t0 + timedelta(minutes=15), committed=24.0, delivered=None),
        _summary(t0 + timedelta(minutes=30), committed=None, delivered=18.5),
        _summary(t0 + timedelta(minutes=45), committed=12.0, delivered=None, target=None),
    ]
    chart = event_chart(intervals=rows, tz=utility_a.tzinfo, now=t0, subject="Event #1")
    assert len(chart.bars) == 3
    assert len(chart.delivered_markers) == 2
    assert chart.delivered_path.count("M") == 2  # a gap, not a line across it
    assert chart.target_path.count("M") == 1 and chart.target_path.count("L") == 5
    assert chart.now_x == chart.left
    # Labels in the utility's zone (23:00 UTC is 16:00 in Los Angeles in July), dated once.
    assert [t.label for t in chart.x_ticks] == ["16:00", "16:15", "16:30", "16:45", "17:00"]
    assert chart.x_ticks[0].sublabel == "Mon 1 Jul"
    assert "Target 20 kW." in chart.description
    assert "Delivered in 2 measured intervals: mean 19.8 kW, latest 18.5 kW." in chart.description
    assert event_chart(intervals=[], tz=utility_a.tzinfo, now=t0, subject="x") is None


# --- The vehicle table ----------------------------------------------------------------------


def test_it_filters_the_vehicle_table_by_role_and_command_status(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    selected, reserves, dropped = vehicles[:4], vehicles[4:6], vehicles[-1]

    by_role = _vins(_body(operator, "event_detail", event, "?role=reserve"))
    assert by_role == {v.vin for v in reserves}
    by_status = _vins(_body(operator, "event_detail", event, "?command=opted_out"))
    assert by_status == {dropped.vin}
    both = _vins(_body(operator, "event_detail", event, "?role=selected&command=accepted"))
    assert both == {v.vin for v in selected}
    without = _vins(_body(operator, "event_detail", event, "?command=none"))
    assert without == {v.vin for v in vehicles[4:-1]}  # reserves and excluded: no command
    body = _body(operator, "event_detail", event, "?role=selected&command=failed")
    assert "No vehicles match these filters." in body


def test_it_shows_the_latest_command_and_state_of_each_vehicle(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    add_commands(event, vehicles[:1], CommandStatus.FAILED, reason="Vehicle asleep")
    body = _body(operator, "event_detail", event, "?role=selected")
    row = body.split(vehicles[0].vin, 1)[1].split("</tr>", 1)[0]
    assert "Failed</span> Vehicle asleep" in row
    assert "64 %" in row and "-9.6 kW" in row
    vehicle_url = reverse("utility:vehicle_detail", args=[utility_a.slug, vehicles[0].pk])
    assert f'href="{vehicle_url}"' in body


def test_it_names_bad_filter_values_and_shows_every_vehicle(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    body = _body(operator, "event_detail", event, "?role=pilot&command=lost&page=x")
    assert "Unknown role “pilot”: showing every role." in body
    assert "Unknown command status “lost”: showing every status." in body
    assert _vins(body) == {v.vin for v in vehicles}


def test_it_pages_the_vehicle_table(operator, utility_a):
    event = event_in_status(utility_a, Event.Status.ACTIVE)
    add_plan_run(event)
    vehicles = fleet(utility_a, 60)
    add_participants(event, vehicles, Participant.SELECTED, command=CommandStatus.SENT)
    first = _vins(_body(operator, "event_detail", event, "?role=selected"))
    second_body = _body(operator, "event_detail", event, "?role=selected&page=2")
    second = _vins(second_body)
    assert len(first) == 50 and len(second) == 10
    assert first | second == {v.vin for v in vehicles}
    assert "Page 2 of 2" in second_body
    assert 'href="?role=selected&amp;page=1#participants"' in second_body
    assert _vins(_body(operator, "event_detail", event, "?page=99")) == second


# --- Queries ------------------------------------------------------------------------------


def _grow(event, vehicles):
    add_participants(event, vehicles[:300], Participant.SELECTED, command=CommandStatus.ACCEPTED)
    add_participants(event, vehicles[300:400], Participant.RESERVE)
    add_participants(event, vehicles[400:], Participant.EXCLUDED, reason="offline")
    set_states(vehicles[:300], soc_pct=50, power_kw=-9.6)


@pytest.mark.parametrize("name", ["event_detail", "event_live"])
def test_it_runs_the_same_queries_for_50_and_500_participants(
    operator, utility_a, django_assert_num_queries, name
):
    event = event_in_status(utility_a, Event.Status.ACTIVE, target_kw=100)
    add_plan_run(event, committed_kw=120)
    small, large = fleet(utility_a, 50), fleet(utility_a, 450)
    add_participants(event, small[:30], Participant.SELECTED, command=CommandStatus.ACCEPTED)
    add_participants(event, small[30:], Participant.EXCLUDED, reason="offline")
    set_states(small[:30], soc_pct=50, power_kw=-9.6)
    idle_history(small[:30], event)
    url = _url(name, event, "?role=selected")
    operator.get(url)  # the first view caches the baselines (dispatch.measurement.intervals)
    with CaptureQueriesContext(connection) as few:
        assert operator.get(url).status_code == 200
    expected = len(few.captured_queries)

    _grow(event, large)
    idle_history(large[:300], event)
    operator.get(url)  # baselines of the newly dispatched vehicles
    with django_assert_num_queries(expected):
        assert operator.get(url).status_code == 200


# --- The live fragment --------------------------------------------------------------------


def test_the_fragment_is_the_console_section_alone_and_follows_the_database(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    response = operator.get(_url("event_live", event))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="event-live"')
    assert "<html" not in body and "History" not in body
    assert _count(body, "count-command-failed") == 0

    add_commands(event, vehicles[:2], CommandStatus.FAILED)
    add_plan_run(event, kind=EventPlanRun.Kind.REPLAN, reasons={"offline": 2})
    body = _body(operator, "event_live", event)
    assert _count(body, "count-command-failed") == 2
    assert _count(body, "count-replans") == 1


def test_the_fragment_keeps_the_pages_filters(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    body = _body(operator, "event_live", event, "?role=dropped")
    assert _vins(body) == {vehicles[-1].vin}
    assert '<option value="dropped" selected>' in body


def test_the_fragment_of_a_completed_event_stops_the_updates(operator, utility_a):
    event, _ = _planned(utility_a, Event.Status.COMPLETED)
    assert 'data-live="off"' in _body(operator, "event_live", event)


def test_the_fragment_needs_the_events_capability(client, utility_a):
    event, _ = _planned(utility_a, Event.Status.ACTIVE)
    client.force_login(make_member(Role.CUSTOMER_SERVICE, utility=utility_a))
    assert client.get(_url("event_live", event)).status_code == 403
    client.force_login(make_member(Role.SETTLEMENT_ANALYST, utility=utility_a))
    assert client.get(_url("event_live", event)).status_code == 200


def test_another_programs_event_in_the_same_utility_is_its_own_console(operator, utility_a):
    event, vehicles = _planned(utility_a, Event.Status.ACTIVE)
    other = event_in_status(
        utility_a, Event.Status.ACTIVE, program=open_program(utility_a, name="Other program")
    )
    add_plan_run(other)
    add_commands(other, vehicles[:3], CommandStatus.FAILED)
    assert _count(_body(operator, "event_live", event), "count-command-failed") == 0
    assert _count(_body(operator, "event_live", other), "count-command-failed") == 3

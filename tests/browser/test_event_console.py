"""The live event console in a real browser: an operator opens a running event; while the
page stays open, commands fail, a re-plan runs and the vehicles' telemetry arrives; the
counters, the re-plan list and the chart follow without a reload (the chart's table stays
open), and once the event is over the page stops asking."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from dispatch.models import Event, EventPlanRun
from portal.roles import Role
from tests.browser.test_sign_in_and_dashboards import sign_in
from tests.dispatch.console_support import (
    CommandStatus,
    Participant,
    add_commands,
    add_participants,
    add_plan_run,
    add_rollups,
    event_in_status,
    fleet,
    idle_history,
    set_states,
)
from tests.portal.factories import UserFactory, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFRESH_SECONDS = 1


@pytest.fixture(autouse=True)
def _fast_refresh(settings):
    settings.DISPATCH_CONSOLE_REFRESH_SECONDS = REFRESH_SECONDS


def test_the_console_follows_a_running_event_without_reloading(page, utility_a):
    make_member(Role.DR_OPERATOR, utility=utility_a, user=UserFactory(email="ops@alpha.test"))
    event = event_in_status(utility_a, Event.Status.ACTIVE, target_kw=30)
    vehicles = fleet(utility_a, 4)
    add_plan_run(event, created_at=event.notify_at, committed_kw=38.4, selected=4, commands=4)
    add_participants(event, vehicles, Participant.SELECTED, command=CommandStatus.ACCEPTED)
    set_states(vehicles, soc_pct=70, power_kw=-9.6)
    idle_history(vehicles, event)
    live_requests = []
    page.on("request", lambda r: "/live/" in r.url and live_requests.append(r.url))

    sign_in(page, "ops@alpha.test")
    page.goto(f"/u/{utility_a.slug}/events/{event.pk}/")
    expect(page.locator("#count-command-failed")).to_have_text("0")
    expect(page.locator("#count-replans")).to_have_text("0")
    chart = page.get_by_role("img", name=re.compile("Target, committed and delivered kW"))
    expect(chart).to_be_visible()
    expect(page.locator("#event-chart-caption")).to_contain_text("latest 0 kW")
    page.get_by_text("The chart's numbers as a table").click()
    page.evaluate("window.sameDocument = true")

    # Meanwhile: two commands fail, execution re-plans, and telemetry shows the fleet
    # exporting 38.4 kW over the first half hour.
    add_commands(event, vehicles[:2], CommandStatus.FAILED, reason="Vehicle asleep")
    add_plan_run(
        event, kind=EventPlanRun.Kind.REPLAN, dropped=2, selected=2, commands=0,
        reasons={"command failed": 2}, since=event.starts_at + timedelta(minutes=30),
    )  # fmt: skip
    add_rollups(vehicles, [event.starts_at, event.starts_at + timedelta(minutes=15)], power_kw=-9.6)

    expect(page.locator("#count-command-failed")).to_have_text("2")
    expect(page.locator("#count-failures")).to_have_text("2")
    expect(page.locator("#count-replans")).to_have_text("1")
    expect(page.locator("#replans + .table-wrap")).to_contain_text("command failed (2)")
    expect(page.locator("#event-chart-caption")).to_contain_text(
        "Delivered in 3 measured intervals: mean 25.6 kW"
    )
    expect(page.locator("#event-chart-data")).to_have_attribute("open", "")
    expect(page.locator("#event-chart-data tbody tr").first).to_contain_text("38.4 kW")
    assert page.evaluate("window.sameDocument") is True  # swapped in, never reloaded

    # The event ends: the console says so once, then stops asking.
    with scopes_disabled():
        event.ended_early_at = timezone.now()
        event.refresh_times()
        event.save(update_fields=["ended_early_at", "ends_at"])
    expect(page.locator("#event-live")).to_have_attribute("data-live", "off")
    expect(page.locator("#console-announcement")).to_have_text("The event is now Completed.")
    asked = len(live_requests)
    time.sleep(3 * REFRESH_SECONDS + 0.5)
    assert len(live_requests) == asked

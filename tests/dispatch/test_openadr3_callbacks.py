"""The OpenADR 3 webhook over real HTTP: the VEN subscribes at the loopback VTN, whose
notifications (validated against the 3.0.1 document's ``notification`` schema) reach the
portal's live server and create, update and cancel events; the bearer token is checked per
source; a version delivered by both a callback and a poll acts once; bad input gets a clear
4xx, and every message to a known source is in its message log."""

from __future__ import annotations

import json

import pytest
import requests
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.models import Event, GridMessage, GridSignal
from tests.dispatch import openadr3_support as oa3
from tests.dispatch.events_support import open_program
from tests.dispatch.openadr3_vtn import LoopbackVtn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def vtn():
    vtn = LoopbackVtn()
    yield vtn
    vtn.stop()
    vtn.assert_clean()


@pytest.fixture
def subscribed(utility_a, vtn, live_server, settings):
    """A routed source whose VEN has polled once, and so subscribed to the live server."""
    settings.OPENADR3_CALLBACK_BASE_URL = live_server.url
    program = open_program(utility_a, name="Peak relief", status="open", kind="v2g")
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    ven = oa3.Ven(src)
    ven.poll()
    return src, vtn_program, ven


def grid_events(utility):
    with scopes_disabled():
        return list(
            Event.objects.filter(utility=utility, source=Event.Source.GRID_PROTOCOL).order_by("pk")
        )


def logged(src) -> list[tuple[str, str, str]]:
    with scopes_disabled():
        return list(
            GridMessage.objects.filter(source=src, message_type="notification")
            .order_by("pk")
            .values_list("direction", "validation", "summary")
        )


def test_it_subscribes_for_program_and_event_operations_with_a_bearer_token(subscribed, vtn):
    src, vtn_program, ven = subscribed
    (subscription,) = vtn.subscriptions.values()
    assert subscription["programID"] == vtn_program["id"]
    assert subscription["clientName"] == src.ven_name
    (operations,) = subscription["objectOperations"]
    assert operations["objects"] == ["PROGRAM", "EVENT"]
    assert operations["operations"] == ["CREATE", "UPDATE", "DELETE"]
    assert operations["callbackUrl"].endswith(oa3.link_of(src).callback_token)
    assert operations["bearerToken"] == oa3.bearer(src)
    ven.poll()  # kept, not duplicated
    assert len(vtn.subscriptions) == 1
    assert oa3.link_of(src).subscription_ids == {vtn_program["id"]: subscription["id"]}


def test_a_callback_creates_updates_and_cancels_an_event(subscribed, vtn, utility_a):
    src, vtn_program, ven = subscribed
    starts = oa3.later(120, now=timezone.now())
    vtn_event = vtn.add_event(vtn_program, **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [40]))
    assert [c.status for c in vtn.callbacks] == [200]
    (event,) = grid_events(utility_a)
    assert event.target_kw == 40.0

    vtn.update_event(vtn_event["id"], **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [70]))
    old, new = grid_events(utility_a)
    assert old.cancelled_at is not None and (new.target_kw, new.cancelled_at) == (70.0, None)

    vtn.delete_event(vtn_event["id"])
    new.refresh_from_db()
    assert new.cancelled_at is not None
    assert [c.status for c in vtn.callbacks] == [200, 200, 200]
    assert [json.loads(c.answer)["status"] for c in vtn.callbacks] == ["optIn"] * 3
    assert [summary.split(":")[0] for _, _, summary in logged(src)] == [
        "EVENT POST", "EVENT PUT", "EVENT DELETE",
    ]  # fmt: skip

    # The poll that follows finds nothing new to do.
    ven.poll()
    with scopes_disabled():
        assert GridSignal.objects.filter(source=src).count() == 3
    assert len(grid_events(utility_a)) == 2


def test_a_version_delivered_by_callback_and_poll_acts_once(subscribed, vtn, utility_a):
    src, vtn_program, ven = subscribed
    starts = oa3.later(120, now=timezone.now())
    vtn.add_event(vtn_program, **oa3.intervals(starts, "SIMPLE", [2]))
    ven.poll()
    ven.poll()
    assert len(grid_events(utility_a)) == 1
    with scopes_disabled():
        assert GridSignal.objects.filter(source=src).count() == 1


def test_a_program_callback_updates_the_programs_the_ven_knows(subscribed, vtn):
    src, vtn_program, _ = subscribed
    renamed = {**vtn_program, "programName": "peak-relief-2025"}
    vtn._notify(vtn_program["id"], "PROGRAM", "PUT", renamed)
    assert oa3.link_of(src).vtn_programs[vtn_program["id"]]["programName"] == "peak-relief-2025"


def post(url, body, *, token=None, raw=None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body)
    return requests.post(url, data=data, headers=headers, timeout=10)


def notification(vtn_program, starts):
    event = {
        "id": "event-77", "objectType": "EVENT", "programID": vtn_program["id"],
        "modificationDateTime": oa3.iso(timezone.now()),
        **oa3.intervals(starts, "SIMPLE", [1]),
    }  # fmt: skip
    return {"objectType": "EVENT", "operation": "POST", "object": event}


def test_bad_callbacks_get_a_clear_4xx_change_nothing_and_are_logged(
    subscribed, vtn, live_server, utility_a, utility_b
):
    src, vtn_program, _ = subscribed
    url = oa3.callback_url(live_server, src)
    good = notification(vtn_program, oa3.later(120, now=timezone.now()))
    other_src, _ = oa3.routed(utility_b, vtn, open_program(utility_b, status="open"),
                              program_name="b-peak")  # fmt: skip

    unknown = post(f"{live_server.url}/openadr3/callbacks/not-a-source", good, token="x")
    assert unknown.status_code == 404 and unknown.json()["status"] == 404
    missing = post(url, good)
    wrong = post(url, good, token="not-the-token")
    foreign = post(url, good, token=oa3.bearer(other_src))  # another utility's source's token
    assert [r.status_code for r in (missing, wrong, foreign)] == [401, 401, 401]
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    not_json = post(url, None, token=oa3.bearer(src), raw="{not json")
    assert (not_json.status_code, not_json.json()["detail"]) == (400, "The body is not JSON.")
    no_object = post(url, {"objectType": "EVENT", "operation": "POST"}, token=oa3.bearer(src))
    assert no_object.status_code == 400 and "object" in no_object.json()["detail"]
    huge = post(url, None, token=oa3.bearer(src), raw="x" * (1024 * 1024 + 10))
    assert huge.status_code == 413
    malformed = {**good, "object": {**good["object"], "intervals": "soon"}}
    refused = post(url, malformed, token=oa3.bearer(src))
    assert refused.status_code == 200 and refused.json()["status"] == "optOut"
    assert "Malformed event" in refused.json()["detail"]
    assert grid_events(utility_a) == [] and grid_events(utility_b) == []

    summaries = [(validation, summary.split(":")[0]) for _, validation, summary in logged(src)]
    assert summaries == [
        ("invalid", "401"), ("invalid", "401"), ("invalid", "401"), ("invalid", "400"),
        ("invalid", "400"), ("invalid", "413"), ("valid", "EVENT POST"),
    ]  # fmt: skip
    assert logged(other_src) == []

    accepted = post(url, good, token=oa3.bearer(src))
    assert accepted.status_code == 200 and accepted.json()["status"] == "optIn"
    assert len(grid_events(utility_a)) == 1


def test_an_event_of_a_program_not_read_yet_waits_for_the_next_poll(subscribed, vtn, live_server,
                                                                    utility_a):  # fmt: skip
    src, _, ven = subscribed
    from tests.dispatch.grid_support import route

    newer = vtn.add_program("evening-peak")  # after the VEN's poll: not known to it yet
    route(
        src, open_program(utility_a, name="Evening", status="open"), market_context="evening-peak"
    )
    early = notification(newer, oa3.later(120, now=timezone.now()))
    answer = post(oa3.callback_url(live_server, src), early, token=oa3.bearer(src))
    assert answer.json()["status"] == "optOut" and "not known yet" in answer.json()["detail"]
    assert grid_events(utility_a) == []
    vtn.events[early["object"]["id"]] = early["object"]  # the VTN lists it too
    ven.poll()
    (event,) = grid_events(utility_a)
    assert event.program.name == "Evening"

"""The OpenADR 3 client against the loopback VTN over real HTTP: OAuth2 client credentials,
a token renewed before it expires and re-fetched when the VTN stops honouring it, paging,
and each failure classified. Every request and answer is checked against the published
3.0.1 document by the VTN (``openadr3_vtn``); a violation fails the test."""

from __future__ import annotations

import pytest

from dispatch.grid.openadr3.client import VtnClient, VtnError
from tests.dispatch.openadr3_vtn import CLIENT_ID, CLIENT_SECRET, LoopbackVtn


@pytest.fixture
def vtn():
    vtn = LoopbackVtn()
    yield vtn
    vtn.stop()
    vtn.assert_clean()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(vtn, *, secret=CLIENT_SECRET, clock=None, exchanges=None) -> VtnClient:
    return VtnClient(
        base_url=vtn.url,
        token_url=vtn.token_url,
        client_id=CLIENT_ID,
        client_secret=secret,
        timeout_seconds=5,
        on_exchange=exchanges.append if exchanges is not None else None,
        **({"clock": clock} if clock else {}),
    )


def test_it_reads_programs_and_events_with_one_token(vtn):
    program = vtn.add_program("peak-relief")
    vtn.add_event(program, intervals=[{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}])
    exchanges = []
    ven = client(vtn, exchanges=exchanges)
    assert [p["programName"] for p in ven.programs()] == ["peak-relief"]
    assert [e["programID"] for e in ven.events()] == [program["id"]]
    assert len(vtn.tokens_issued) == 1
    assert [x.operation for x in exchanges] == [
        "fetchToken",
        "searchAllPrograms",
        "searchAllEvents",
    ]
    # The secret and the token never reach the log.
    assert exchanges[0].request_body["client_secret"] == "(hidden)"
    assert exchanges[0].response_body == {"access_token": "(hidden)"}


def test_it_pages_through_more_than_fifty_events(vtn):
    program = vtn.add_program("peak-relief")
    for _ in range(120):
        vtn.add_event(program, intervals=[{"id": 0, "payloads": []}])
    assert len(client(vtn).events()) == 120
    skips = [r for r in vtn.requests_seen if r[1] == "/events"]
    assert len(skips) == 3


def test_it_renews_the_token_before_it_expires(vtn):
    clock = Clock()
    vtn.token_seconds = 600
    ven = client(vtn, clock=clock)
    ven.programs()
    clock.now += 300
    ven.programs()
    assert len(vtn.tokens_issued) == 1
    clock.now += 275  # inside the 30 s margin before the 600 s are up
    ven.programs()
    assert len(vtn.tokens_issued) == 2
    used = [token for _, _, token in vtn.requests_seen]
    assert used == [vtn.tokens_issued[0]] * 2 + [vtn.tokens_issued[1]]


def test_it_fetches_a_new_token_when_the_vtn_no_longer_honours_it(vtn):
    ven = client(vtn)
    ven.programs()
    vtn.revoke_tokens()  # e.g. the VTN restarted
    assert ven.programs() == []
    assert len(vtn.tokens_issued) == 2


def test_wrong_credentials_are_a_token_failure(vtn):
    with pytest.raises(VtnError) as refused:
        client(vtn, secret="wrong").programs()
    assert refused.value.kind == VtnError.TOKEN
    assert "400" in str(refused.value) and "Unknown client" in str(refused.value)


def test_an_outage_and_a_garbage_answer_are_told_apart(vtn):
    ven = client(vtn)
    ven.programs()
    vtn.failures = 1
    with pytest.raises(VtnError) as outage:
        ven.programs()
    assert (outage.value.kind, outage.value.status) == (VtnError.UNREACHABLE, 500)
    vtn.garbage = True
    with pytest.raises(VtnError) as garbage:
        ven.events()
    assert garbage.value.kind == VtnError.INVALID
    assert "not JSON" in str(garbage.value)


def test_a_vtn_that_is_down_is_unreachable(vtn):
    vtn.stop()
    with pytest.raises(VtnError) as down:
        client(vtn).programs()
    assert down.value.kind == VtnError.UNREACHABLE
    assert "could not be reached" in str(down.value)

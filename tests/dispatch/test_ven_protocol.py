"""The VEN as a certification lab drives it: OpenLEADR's VTN on loopback over mutual TLS with
signed messages both ways, case by case (issue 14's numbered behaviours)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.models import Event, GridEvent, GridMessage, GridSignal, GridSignalSource
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import Loop, route, source
from tests.dispatch.vtn_support import VEN_ID, ScriptedVtn, running_ven, vtn_event
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loop():
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def vtn(loop, tmp_path):
    vtn = ScriptedVtn(loop, tmp_path)
    yield vtn
    vtn.stop()


@pytest.fixture
def src(utility_a, vtn):
    src = source(utility_a, vtn_url=vtn.url, vtn_fingerprint=vtn.fingerprint)
    route(src, open_program(utility_a, name="Peak relief", status="open"))
    return src


def soon(hours=3):
    return (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


def grid_events(utility):
    with scopes_disabled():
        return list(
            Event.objects.filter(utility=utility, source=Event.Source.GRID_PROTOCOL).order_by("pk")
        )


def answered(vtn, event_id, modification, opt=None):
    return any(
        a[0] == event_id and a[1] == modification and (opt is None or a[2] == opt)
        for a in vtn.answers()
    )


def wait_answer(vtn, event_id, modification, opt=None):
    wait_for(
        lambda: answered(vtn, event_id, modification, opt),
        timeout=40,
        message=f"the VTN heard {vtn.answers()}",
    )


def refreshed(obj):
    with scopes_disabled():
        obj.refresh_from_db()
    return obj


def make_running(event):
    """The portal's event started a minute ago (as if the clock had moved on)."""
    with scopes_disabled():
        Event.objects.filter(pk=event.pk).update(
            starts_at=timezone.now() - timedelta(minutes=1),
            notify_at=timezone.now() - timedelta(minutes=2),
        )


# 1. A cancellation or a change of a running event takes effect and is answered optIn.
def test_cancelling_a_running_event_ends_it_and_is_answered_opt_in(
    utility_a, src, vtn, loop, settings
):
    starts = timezone.now() - timedelta(minutes=5)
    first = vtn_event("run-1", starts_at=starts, minutes=60)
    vtn.distribute(first)
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "run-1", 0, "optIn")
        (event,) = grid_events(utility_a)
        make_running(event)
        vtn.distribute(vtn_event("run-1", starts_at=starts, modification=1, status="cancelled"))
        wait_answer(vtn, "run-1", 1)
    assert answered(vtn, "run-1", 1, "optIn"), vtn.answers()
    event = refreshed(event)
    assert event.ended_early_at is not None and event.status == Event.Status.COMPLETED


def test_a_new_target_for_a_running_event_takes_effect(utility_a, src, vtn, loop, settings):
    starts = timezone.now() - timedelta(minutes=5)
    vtn.distribute(vtn_event("run-2", starts_at=starts, minutes=60, values=(75,)))
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "run-2", 0, "optIn")
        (event,) = grid_events(utility_a)
        make_running(event)
        vtn.distribute(vtn_event("run-2", starts_at=starts, modification=1, values=(40,)))
        wait_answer(vtn, "run-2", 1)
    assert answered(vtn, "run-2", 1, "optIn"), vtn.answers()
    old, new = grid_events(utility_a)
    assert refreshed(old).ended_early_at is not None
    assert new.target_kw == 40.0 and new.cancelled_at is None
    assert new.starts_at <= timezone.now() + timedelta(minutes=2)  # carries on at once


# 2. A modification less than 24 h away (notified) is followed, not only an extension.
def test_a_longer_event_with_a_new_target_inside_the_notice_runs_at_the_new_terms(
    utility_a, src, vtn, loop, settings
):
    starts = soon(2)
    vtn.distribute(vtn_event("near-1", starts_at=starts, minutes=60, values=(75,)))
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "near-1", 0, "optIn")
        (event,) = grid_events(utility_a)
        with scopes_disabled():  # its notice time has come: the case the VEN used to refuse
            Event.objects.filter(pk=event.pk).update(
                notify_at=timezone.now() - timedelta(minutes=1)
            )
        assert refreshed(event).status == Event.Status.NOTIFIED
        vtn.distribute(
            vtn_event("near-1", starts_at=starts, minutes=90, modification=1, values=(90,))
        )
        wait_answer(vtn, "near-1", 1)
    assert answered(vtn, "near-1", 1, "optIn"), vtn.answers()
    old, new = grid_events(utility_a)
    assert refreshed(old).cancelled_at is not None
    assert (new.starts_at, new.duration_minutes, new.target_kw) == (starts, 90, 90.0)


# 3. Implied cancellation: an event no longer listed, an empty list included.
def test_an_event_the_vtn_stops_listing_is_cancelled(utility_a, src, vtn, loop, settings):
    a = vtn_event("keep", starts_at=soon(3))
    b = vtn_event("drop", starts_at=soon(6))
    vtn.distribute(a, b)
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "drop", 0, "optIn")
        wait_answer(vtn, "keep", 0, "optIn")
        vtn.distribute(a)
        wait_for(lambda: refreshed(grid_events(utility_a)[1]).cancelled_at is not None, timeout=30)
        assert grid_events(utility_a)[0].cancelled_at is None
        vtn.distribute()  # an empty oadrDistributeEvent
        wait_for(lambda: refreshed(grid_events(utility_a)[0]).cancelled_at is not None, timeout=30)
    with scopes_disabled():
        assert set(
            GridEvent.objects.filter(source=src, implied_cancel_at__isnull=False).values_list(
                "vtn_event_id", flat=True
            )
        ) == {"keep", "drop"}
        assert GridMessage.objects.filter(
            source=src, message_type="oadrDistributeEvent", direction="in"
        ).exists()


# 4. A test event is answered and recorded, never actuated.
def test_a_test_event_is_answered_and_recorded_but_not_actuated(
    utility_a, src, vtn, loop, settings
):
    vtn.distribute(vtn_event("test-1", starts_at=soon(), test_event=True))
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "test-1", 0, "optIn")
    assert grid_events(utility_a) == []
    with scopes_disabled():
        signal = GridSignal.objects.get(source=src, vtn_event_id="test-1")
    assert signal.test_event and signal.event_id is None


# 5. siScaleCode and 6. startafter, read where the message puts them.
def test_the_scale_code_and_the_randomized_start_window_are_followed(
    utility_a, src, vtn, loop, settings
):
    vtn.distribute(
        vtn_event("scaled", starts_at=soon(), values=(50,), units="W", scale="k",
                  start_after_minutes=10)
    )  # fmt: skip
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "scaled", 0, "optIn")
    (event,) = grid_events(utility_a)
    assert (event.target_kw, event.randomize_start_minutes) == (50.0, 10)


# 8. Priority passes through (the lower number wins) and unknown targets are refused.
def test_priority_decides_overlaps_and_targets_the_portal_lacks_are_refused(
    utility_a, src, vtn, loop, settings
):
    starts = soon()
    vtn.distribute(
        vtn_event("p5", starts_at=starts, priority=5),
        vtn_event("p1", starts_at=starts, priority=1),
        vtn_event("grp", starts_at=soon(6), targets=[{"group_id": "no-such-group"}]),
    )
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "grp", 0)
    assert answered(vtn, "p5", 0, "optIn") and answered(vtn, "p1", 0, "optIn")
    p5, p1 = grid_events(utility_a)
    assert p1.priority > p5.priority
    (refusal,) = [a for a in vtn.answers() if a[0] == "grp"]
    assert refusal[2] == "optOut" and "no-such-group" in refusal[3]


# 9. A stale re-listed event does not poison the message.
def test_a_relisted_cancelled_event_does_not_lose_the_new_one(utility_a, src, vtn, loop, settings):
    first = vtn_event("old", starts_at=soon(3))
    cancelled = vtn_event("old", starts_at=soon(3), modification=1, status="cancelled")
    vtn.distribute(first)
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "old", 0, "optIn")
        vtn.distribute(cancelled)
        wait_answer(vtn, "old", 1, "optIn")
        # The VTN lists the cancelled event again, unchanged, beside a new one.
        vtn.distribute(cancelled, vtn_event("new", starts_at=soon(6)))
        wait_answer(vtn, "new", 0, "optIn")
    assert [a[:3] for a in vtn.answers() if a[0] == "old"] == [
        ("old", 0, "optIn"),
        ("old", 1, "optIn"),
    ]
    old, new = grid_events(utility_a)
    assert old.cancelled_at is not None and new.cancelled_at is None


# 10. Lost events after errors; registration refused and cancelled; the health kept.
def test_events_of_a_poll_that_timed_out_are_requested_again(utility_a, src, vtn, loop, settings):
    settings.OPENADR_VEN_TIMEOUT_SECONDS = 1
    with running_ven(loop, settings, vtn):
        wait_for(lambda: refreshed(src).last_successful_poll_at is not None, timeout=30)
        vtn.slow_polls, vtn.slow_seconds = 1, 2.0
        vtn.distribute(vtn_event("late", starts_at=soon()))
        wait_for(lambda: refreshed(src).last_error_at is not None, timeout=30)
        assert "did not answer within 1 s" in src.last_error
        wait_answer(vtn, "late", 0, "optIn")
    assert len(grid_events(utility_a)) == 1
    assert vtn.request_event_count >= 2  # after registering, and after the timeout


def test_a_refused_reregistration_is_retried_until_the_vtn_accepts(src, vtn, loop, settings):
    with running_ven(loop, settings, vtn):
        wait_for(lambda: refreshed(src).last_successful_poll_at is not None, timeout=30)
        vtn.registrations = [False]
        vtn.send("oadrRequestReregistration", {"ven_id": VEN_ID})
        wait_for(
            lambda: refreshed(src).registration_state == GridSignalSource.Registration.REFUSED,
            timeout=30,
        )
        assert "refused the registration" in src.last_error
        wait_for(
            lambda: refreshed(src).registration_state == GridSignalSource.Registration.REGISTERED,
            timeout=30,
        )
        polled = refreshed(src).last_successful_poll_at
        wait_for(lambda: refreshed(src).last_successful_poll_at > polled, timeout=30)
    assert vtn.registration_count >= 3


def test_a_registration_the_vtn_cancels_stops_polling_and_says_so(src, vtn, loop, settings):
    with running_ven(loop, settings, vtn) as runner:
        wait_for(lambda: refreshed(src).last_successful_poll_at is not None, timeout=30)
        vtn.send(
            "oadrCancelPartyRegistration",
            {"ven_id": VEN_ID, "registration_id": f"reg-{VEN_ID}", "request_id": "c-1"},
        )
        wait_for(
            lambda: (
                refreshed(src).registration_state == GridSignalSource.Registration.CANCELLED_BY_VTN
            ),
            timeout=30,
        )
        wait_for(lambda: runner.clients == {}, timeout=10)
    assert "cancelled the registration" in src.last_error
    with scopes_disabled():
        assert GridMessage.objects.filter(
            source=src, direction="out", message_type="oadrCanceledPartyRegistration"
        ).exists()


# 13. An optOut carries the reason for the VTN's operator.
def test_an_opt_out_carries_the_reason(src, vtn, loop, settings):
    vtn.distribute(vtn_event("elsewhere", starts_at=soon(), market_context="oadr://iso/other"))
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "elsewhere", 0, "optOut")
    ((_, _, _, reason),) = vtn.answers()
    assert reason == "No program is mapped to market context 'oadr://iso/other'."
    with scopes_disabled():
        sent = GridMessage.objects.get(source=src, message_type="oadrCreatedEvent")
    assert sent.vtn_event_id == "elsewhere" and "optOut" in sent.summary

"""OpenADR events from a grid operator's VTN become the utility's events through the same
services and guardrails as an operator's: scheduled (optIn), refused with the reason (optOut),
extended, cancelled or replaced by later modifications — each modification recorded once, so
a repeated delivery gets the same answer and changes nothing. Messages missing what an event
needs are answered optOut, never an error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.grid.openadr import OPT_IN, OPT_OUT, receive_openadr_event
from dispatch.models import Event, GridSignal
from portal.models import AuditEvent
from tests.dispatch.events_support import WEEKDAY_EVENINGS, open_program
from tests.dispatch.grid_support import oadr_event, route, source

pytestmark = pytest.mark.django_db


@pytest.fixture
def src(utility_a):
    return source(utility_a)


@pytest.fixture
def program(utility_a, src):
    program = open_program(utility_a, name="Peak relief", status="open")
    route(src, program)
    return program


def soon(hours=3):
    return (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


def events(utility):
    with scopes_disabled():
        return list(Event.objects.filter(utility=utility).order_by("pk"))


def signals(src):
    with scopes_disabled():
        return list(GridSignal.objects.filter(source=src).order_by("pk"))


def test_an_event_for_a_mapped_market_context_is_scheduled(src, program, utility_a):
    starts = soon()
    answer = receive_openadr_event(src.pk, oadr_event(starts_at=starts, start_after_minutes=5))

    assert answer.response == OPT_IN
    (event,) = events(utility_a)
    assert (event.program_id, event.event_type, event.source) == (
        program.pk,
        Event.Type.V2H_HOME_SUPPLY,
        Event.Source.GRID_PROTOCOL,
    )
    assert (event.starts_at, event.duration_minutes, event.target_kw) == (starts, 60, 120.0)
    assert event.randomize_start_minutes == 5
    assert event.scheduled_at is not None and event.created_by is None
    (signal,) = signals(src)
    assert (signal.vtn_event_id, signal.response, signal.event_id) == ("evt-1", OPT_IN, event.pk)
    assert signal.outcome.startswith(f"Scheduled event #{event.pk} (Peak relief, 120 kW)")
    src.refresh_from_db()
    assert src.last_contact_at is not None
    with scopes_disabled():
        audit = AuditEvent.objects.filter(action="grid_signal.received").get()
    assert audit.to_state == OPT_IN and audit.utility_id == utility_a.pk


def test_a_repeated_delivery_gets_the_same_answer_and_changes_nothing(src, program, utility_a):
    message = oadr_event(starts_at=soon())
    assert receive_openadr_event(src.pk, message).response == OPT_IN
    assert receive_openadr_event(src.pk, message).response == OPT_IN
    assert len(events(utility_a)) == 1 and len(signals(src)) == 1


def test_watts_are_turned_into_kilowatts_and_no_target_means_all_available(src, program):
    receive_openadr_event(src.pk, oadr_event(starts_at=soon(), target_kw=250_000, unit="W"))
    receive_openadr_event(src.pk, oadr_event(event_id="evt-2", starts_at=soon(6), target_kw=None))

    first, second = events(program.utility)
    assert first.target_kw == 250.0
    assert second.target_kw is None


def test_an_unmapped_market_context_is_refused(src, program, utility_a):
    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=soon(), market_context="oadr://iso/other")
    )

    assert answer.response == OPT_OUT
    assert events(utility_a) == []
    (signal,) = signals(src)
    assert signal.outcome == "No program is mapped to market context 'oadr://iso/other'."


def test_the_programs_guardrails_refuse_what_breaks_them(src, utility_a):
    strict = open_program(
        utility_a, name="Evenings", status="open", min_notice_minutes=240, **WEEKDAY_EVENINGS
    )
    route(src, strict, market_context="oadr://iso/evenings")

    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=soon(1), market_context="oadr://iso/evenings")
    )

    assert answer.response == OPT_OUT
    assert events(utility_a) == []
    (signal,) = signals(src)
    assert signal.outcome.startswith("Not scheduled: The event breaks the program's rules:")
    assert "notice" in signal.outcome


def test_level_3_is_an_emergency_and_may_come_at_short_notice(src, utility_a):
    strict = open_program(
        utility_a, name="Evenings", status="open", min_notice_minutes=240, **WEEKDAY_EVENINGS
    )
    route(src, strict, market_context="oadr://iso/evenings")

    answer = receive_openadr_event(
        src.pk,
        oadr_event(starts_at=soon(1), market_context="oadr://iso/evenings", level=3.0),
    )

    assert answer.response == OPT_IN
    (event,) = events(utility_a)
    assert event.event_type == Event.Type.EMERGENCY


def test_a_test_event_is_answered_and_recorded_but_never_actuated(src, program, utility_a):
    answer = receive_openadr_event(src.pk, oadr_event(starts_at=soon(), test_event=True))

    assert answer.response == OPT_IN and answer.event_id is None
    assert events(utility_a) == []
    (signal,) = signals(src)
    assert signal.test_event and signal.outcome.startswith("Test event")


def test_the_route_may_name_the_type(src, utility_a):
    export = open_program(utility_a, name="Export", status="open", kind="v2h")
    route(src, export, market_context="oadr://iso/export", event_type=Event.Type.V2G_EXPORT)

    receive_openadr_event(
        src.pk, oadr_event(event_id="e2", starts_at=soon(5), market_context="oadr://iso/export")
    )

    (exported,) = events(utility_a)
    assert exported.event_type == Event.Type.V2G_EXPORT


def test_the_si_scale_code_multiplies_the_setpoint(src, program, utility_a):
    receive_openadr_event(src.pk, oadr_event(starts_at=soon(), target_kw=50, unit="W", scale="k"))

    (event,) = events(utility_a)
    assert event.target_kw == 50.0


def test_level_0_and_price_signals_dispatch_nothing(src, program, utility_a):
    answer = receive_openadr_event(src.pk, oadr_event(starts_at=soon(), target_kw=None, level=0))

    assert answer.response == OPT_IN and events(utility_a) == []
    assert "nothing dispatched" in signals(src)[0].outcome


def test_the_lower_openadr_priority_number_wins_an_overlap(src, program, utility_a):
    starts = soon()
    low = receive_openadr_event(src.pk, oadr_event(event_id="low", starts_at=starts, priority=5))
    high = receive_openadr_event(src.pk, oadr_event(event_id="high", starts_at=starts, priority=1))
    again = receive_openadr_event(
        src.pk, oadr_event(event_id="lower", starts_at=starts, priority=9)
    )

    assert (low.response, high.response, again.response) == (OPT_IN, OPT_IN, OPT_OUT)
    assert "Overlaps" in again.reason


def test_group_targets_go_to_the_dispatch_group_and_unknown_ones_are_refused(
    src, program, utility_a
):
    from dispatch.grid.oadr2b_xml import Targets

    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=soon(), targets=Targets(group_ids=("feeder-12",)))
    )
    assert answer.response == OPT_OUT
    assert answer.reason == "Not scheduled: groupID feeder-12 is not a dispatch group here."
    answer = receive_openadr_event(
        src.pk,
        oadr_event(event_id="e2", starts_at=soon(), targets=Targets(other_kinds=("pnode",))),
    )
    assert answer.response == OPT_OUT and "pnode targets" in answer.reason
    assert events(utility_a) == []


def test_an_event_called_to_start_now_begins_at_the_next_minute(src, program, utility_a):
    started = timezone.now() - timedelta(minutes=10)

    assert (
        receive_openadr_event(src.pk, oadr_event(starts_at=started, minutes=60)).response == OPT_IN
    )

    (event,) = events(utility_a)
    assert timezone.now() < event.starts_at <= timezone.now() + timedelta(minutes=1)
    assert event.ends_at <= started + timedelta(minutes=60)
    over = timezone.now() - timedelta(hours=2)
    assert (
        receive_openadr_event(src.pk, oadr_event(event_id="e2", starts_at=over)).response == OPT_OUT
    )


def test_a_cancellation_cancels_the_event(src, program, utility_a):
    starts = soon()
    receive_openadr_event(src.pk, oadr_event(starts_at=starts))

    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=starts, modification=1, status="cancelled")
    )

    assert answer.response == OPT_IN
    (event,) = events(utility_a)
    assert event.cancelled_at is not None
    assert signals(src)[-1].outcome == f"Cancelled by ISO VTN: event #{event.pk} cancelled."


def test_a_longer_duration_extends_the_event(src, program, utility_a):
    starts = soon()
    receive_openadr_event(src.pk, oadr_event(starts_at=starts, minutes=60))

    answer = receive_openadr_event(src.pk, oadr_event(starts_at=starts, minutes=90, modification=1))

    assert answer.response == OPT_IN
    (event,) = events(utility_a)
    assert (event.duration_minutes, event.extended_minutes) == (60, 30)
    assert event.modification_number == 1


def test_an_event_called_to_start_now_can_be_extended_while_it_runs(src, program, utility_a):
    started = timezone.now() - timedelta(minutes=10)
    receive_openadr_event(src.pk, oadr_event(starts_at=started, minutes=60))
    (event,) = events(utility_a)
    planned = event.duration_minutes  # what was left of the hour, from the next minute
    with scopes_disabled():  # it is running now
        Event.objects.filter(pk=event.pk).update(
            starts_at=timezone.now() - timedelta(minutes=1),
            notify_at=timezone.now() - timedelta(minutes=2),
        )
    # A new target while it runs: ended now and carried on at 50 kW; then an extension.
    changed = receive_openadr_event(
        src.pk, oadr_event(starts_at=started, minutes=60, modification=1, target_kw=50)
    )
    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=started, minutes=90, modification=2, target_kw=50)
    )

    assert (changed.response, answer.response) == (OPT_IN, OPT_IN), changed.reason
    old, new = events(utility_a)
    assert old.ended_early_at is not None and new.target_kw == 50.0
    assert new.extended_minutes == 30 and new.duration_minutes <= planned
    assert signals(src)[-1].outcome == f"Extended event #{new.pk} by 30 min."


def test_other_changes_replace_an_event_not_notified_yet(src, program, utility_a):
    starts = soon(5)
    receive_openadr_event(src.pk, oadr_event(starts_at=starts))

    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=starts + timedelta(hours=1), modification=1, target_kw=80)
    )

    assert answer.response == OPT_IN
    old, new = events(utility_a)
    assert old.cancelled_at is not None
    assert (new.starts_at, new.target_kw, new.cancelled_at) == (
        starts + timedelta(hours=1),
        80.0,
        None,
    )
    assert signals(src)[-1].event_id == new.pk


def test_a_replacement_the_rules_refuse_keeps_the_old_event(src, utility_a):
    program = open_program(utility_a, name="Evenings", status="open", min_notice_minutes=120)
    route(src, program)
    starts = soon(5)
    receive_openadr_event(src.pk, oadr_event(starts_at=starts))

    answer = receive_openadr_event(
        src.pk,
        oadr_event(starts_at=soon(1), modification=1),  # now too short a notice
    )

    assert answer.response == OPT_OUT
    (event,) = events(utility_a)
    assert event.cancelled_at is None and event.starts_at == starts
    assert "kept as it was" in signals(src)[-1].outcome


def test_a_notified_event_takes_a_new_target(src, program, utility_a):
    starts = soon()
    receive_openadr_event(src.pk, oadr_event(starts_at=starts))
    (event,) = events(utility_a)
    with scopes_disabled():  # the notice time has come: it is notified
        Event.objects.filter(pk=event.pk).update(notify_at=timezone.now() - timedelta(minutes=1))

    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=starts, modification=1, target_kw=50)
    )

    assert answer.response == OPT_IN, answer.reason
    old, new = events(utility_a)
    assert old.cancelled_at is not None and new.target_kw == 50.0 and new.starts_at == starts


def test_an_event_the_portal_cannot_use_is_refused_with_the_reason(src, program, utility_a):
    answer = receive_openadr_event(
        src.pk, oadr_event(starts_at=soon(), target_kw=5, unit="Wh", scale="k")
    )

    assert answer.response == OPT_OUT
    assert (
        answer.reason == "Not usable: LOAD_DISPATCH in 'Wh' is not a power the portal can dispatch."
    )
    assert events(utility_a) == []


def test_a_source_acts_only_in_its_own_utility(src, program, utility_a, utility_b):
    # Utility B maps the same market context for its own source; A's source never uses it.
    theirs = source(utility_b)
    route(theirs, open_program(utility_b, name="B program", status="open"))

    receive_openadr_event(src.pk, oadr_event(starts_at=soon()))
    receive_openadr_event(theirs.pk, oadr_event(starts_at=soon()))

    (mine,) = events(utility_a)
    (other,) = events(utility_b)
    assert mine.program_id == program.pk and other.program.utility_id == utility_b.pk
    assert [s.event_id for s in signals(src)] == [mine.pk]
    assert [s.event_id for s in signals(theirs)] == [other.pk]

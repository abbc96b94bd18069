"""The OpenADR 3 VEN polling the loopback 3.0.1 VTN over real HTTP (every exchange validated
against the published document; a violation fails the test): VTN events become the utility's
events under the program's guardrails — intervals, priority, randomization and targets
followed or refused, prices and level 0 not dispatched — each version acted on once, a
deleted event withdrawn, the VEN registered and the message log kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import Vehicle
from dispatch.models import (
    Event,
    GridEvent,
    GridMessage,
    GridSignal,
    GridSignalSource,
    OpenADR3EventVersion,
)
from tests.dispatch import openadr3_support as oa3
from tests.dispatch.events_support import open_program
from tests.dispatch.openadr3_vtn import LoopbackVtn
from tests.dispatch.targeting_support import make_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def vtn():
    vtn = LoopbackVtn()
    yield vtn
    vtn.stop()
    vtn.assert_clean()


@pytest.fixture
def program(utility_a):
    return open_program(utility_a, name="Peak relief", status="open", kind="v2g")


def grid_events(utility):
    with scopes_disabled():
        return list(
            Event.objects.filter(utility=utility, source=Event.Source.GRID_PROTOCOL).order_by("pk")
        )


def signals(src):
    with scopes_disabled():
        return list(
            GridSignal.objects.filter(source=src)
            .order_by("modification_number", "pk")
            .values_list("vtn_event_id", "modification_number", "response", "outcome")
        )


def test_it_schedules_an_event_with_its_intervals_priority_and_randomization(
    utility_a, program, vtn
):
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    body = oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [30, 80, 10], minutes=15)
    body["intervalPeriod"]["randomizeStart"] = "PT5M"
    vtn_event = vtn.add_event(
        vtn_program, priority=2, **body, **oa3.kw_descriptor("EXPORT_CAPACITY_LIMIT")
    )
    ven = oa3.Ven(src)
    ven.poll()

    (event,) = grid_events(utility_a)
    assert (event.program_id, event.starts_at, event.duration_minutes) == (program.pk, starts, 45)
    assert event.event_type == Event.Type.V2G_EXPORT
    assert event.priority == 98  # OpenADR 3's 2: a lower number wins there, a higher here
    assert event.randomize_start_minutes == 5
    with scopes_disabled():
        version = OpenADR3EventVersion.objects.get(vtn_event_id=vtn_event["id"])
        assert [p["kw"] for p in version.profile] == [30.0, 80.0, 10.0]
        assert [i["minutes"] for i in version.intervals] == [15, 15, 15]
        state = GridEvent.objects.get(source=src, vtn_event_id=vtn_event["id"])
        assert (state.event_id, state.priority, state.response) == (event.pk, 2, "optIn")
        src.refresh_from_db()
    assert src.registration_state == GridSignalSource.Registration.REGISTERED
    assert src.ven_id and [v["venName"] for v in vtn.vens.values()] == [src.ven_name]
    assert src.last_successful_poll_at is not None and src.last_error == ""

    # The same version again (the next poll) changes nothing and is not recorded twice.
    ven.poll()
    assert len(grid_events(utility_a)) == 1
    assert [s[:3] for s in signals(src)] == [(vtn_event["id"], 0, "optIn")]

    # Each interval's kW in turn, not the first one's for the whole event.
    assert event.target_kw == 30.0
    followed = []
    for minute in (16, 20, 31):
        ven.poll(now=starts + timedelta(minutes=minute))
        event.refresh_from_db()
        followed.append((event.target_kw, event.modification_number))
    assert followed == [(80.0, 1), (80.0, 1), (10.0, 2)]
    assert len(grid_events(utility_a)) == 1
    with scopes_disabled():
        kinds = set(GridMessage.objects.filter(source=src).values_list("message_type", flat=True))
    assert {"searchAllEvents (GET events)", "searchAllEvents answer", "fetchToken answer"} <= kinds


def test_watts_follow_the_payload_descriptor(utility_a, program, vtn):
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    vtn.add_event(
        vtn_program,
        **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [50_000, 50_000]),
        **oa3.kw_descriptor("EXPORT_CAPACITY_LIMIT", units="W"),
    )
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    assert event.target_kw == 50.0


def test_a_simple_level_3_in_any_interval_is_an_emergency(utility_a, program, vtn):
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    vtn.add_event(vtn_program, **oa3.intervals(starts, "SIMPLE", [1, 3]))
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    assert (event.event_type, event.target_kw) == (Event.Type.EMERGENCY, None)


def test_prices_and_level_zero_are_recorded_not_dispatched(utility_a, program, vtn):
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    price = vtn.add_event(vtn_program, **oa3.intervals(starts, "PRICE", [0.31, 0.45]))
    normal = vtn.add_event(vtn_program, **oa3.intervals(starts, "SIMPLE", [0, 0]))
    oa3.Ven(src).poll()
    assert grid_events(utility_a) == []
    outcomes = {s[0]: s[3] for s in signals(src)}
    assert "Price signal recorded for planning" in outcomes[price["id"]]
    assert "level 0" in outcomes[normal["id"]]


def test_a_source_that_dispatches_prices_schedules_a_price_signal_event(utility_a, program, vtn):
    src, vtn_program = oa3.routed(utility_a, vtn, program, dispatch_prices=True)
    starts = oa3.later(120, now=timezone.now())
    vtn.add_event(vtn_program, **oa3.intervals(starts, "PRICE", [0.31, 0.45]))
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    assert event.event_type == Event.Type.PRICE_SIGNAL


def test_an_import_limit_curtails_what_would_exceed_it(utility_a, vtn):
    from tests.dispatch.fleet_support import build_fleet
    from tests.portal.factories import AutomakerPartnerFactory

    v1g = open_program(utility_a, name="Managed charging", status="open", kind="v1g")
    ids = build_fleet(utility=utility_a, partner=AutomakerPartnerFactory(), program=v1g, size=4,
                      code="MPL")  # fmt: skip
    src, vtn_program = oa3.routed(utility_a, vtn, v1g)
    starts = oa3.later(120, now=timezone.now())
    vtn.add_event(
        vtn_program,
        **oa3.intervals(starts, "IMPORT_CAPACITY_LIMIT", [10, 10]),
        **oa3.kw_descriptor("IMPORT_CAPACITY_LIMIT"),
    )
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    with scopes_disabled():
        worst_case = sum(Vehicle.objects.filter(pk__in=ids).values_list("max_charge_kw", flat=True))
    assert event.event_type == Event.Type.LOAD_REDUCTION
    assert event.target_kw == pytest.approx(worst_case - 10)


def test_targets_are_honoured_or_refused_with_the_reason(utility_a, program, vtn):
    from tests.dispatch.fleet_support import build_fleet
    from tests.portal.factories import AutomakerPartnerFactory

    ids = build_fleet(utility=utility_a, partner=AutomakerPartnerFactory(), program=program,
                      size=2, code="TGT")  # fmt: skip
    group = make_group(utility_a, name="Depot 7", vehicles=ids)
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    body = oa3.intervals(starts, "SIMPLE", [1])
    grouped = vtn.add_event(vtn_program, targets=[{"type": "GROUP", "values": ["Depot 7"]}], **body)
    unknown = vtn.add_event(
        vtn_program, targets=[{"type": "GROUP", "values": ["Nowhere"]}],
        **oa3.intervals(starts + timedelta(hours=3), "SIMPLE", [1]),
    )  # fmt: skip
    feeder = vtn.add_event(
        vtn_program, targets=[{"type": "POSTAL_CODE", "values": ["94110"]}],
        **oa3.intervals(starts + timedelta(hours=6), "SIMPLE", [1]),
    )  # fmt: skip
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    with scopes_disabled():
        assert (event.targeting, list(event.groups.values_list("pk", flat=True))) == (
            Event.Targeting.GROUPS, [group.pk],
        )  # fmt: skip
    outcomes = {s[0]: (s[2], s[3]) for s in signals(src)}
    assert outcomes[grouped["id"]][0] == "optIn"
    assert outcomes[unknown["id"]] == (
        "optOut",
        "Targets refused: No dispatch group is named Nowhere.",
    )
    assert outcomes[feeder["id"]][1] == (
        "Targets refused: The portal cannot honour targets of type POSTAL_CODE."
    )


def test_a_new_version_replaces_the_event_and_a_deleted_one_is_cancelled(utility_a, program, vtn):
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    vtn_event = vtn.add_event(vtn_program, **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [40]))
    ven = oa3.Ven(src)
    ven.poll()
    (first,) = grid_events(utility_a)
    vtn.update_event(vtn_event["id"], **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [60]))
    ven.poll()
    first_now, second = grid_events(utility_a)
    assert first_now.cancelled_at is not None and second.target_kw == 60.0
    # Gone from the VTN's list: deleted there, cancelled here.
    vtn.delete_event(vtn_event["id"])
    ven.poll()
    second.refresh_from_db()
    assert second.cancelled_at is not None
    assert [s[1:3] for s in signals(src)] == [(0, "optIn"), (1, "optIn"), (2, "optIn")]
    with scopes_disabled():
        assert GridEvent.objects.get(source=src).vtn_status == "deleted"
    ven.poll()  # nothing more happens
    assert len(signals(src)) == 3


def test_an_event_for_an_unmapped_program_is_refused_once(utility_a, program, vtn):
    src, _ = oa3.routed(utility_a, vtn, program)
    other = vtn.add_program("frequency-response")
    vtn.add_event(other, **oa3.intervals(oa3.later(60, now=timezone.now()), "SIMPLE", [2]))
    ven = oa3.Ven(src)
    ven.poll()
    ven.poll()
    (signal,) = signals(src)
    assert signal[2:] == (
        "optOut",
        "No program is mapped to the VTN's program 'frequency-response'.",
    )
    assert grid_events(utility_a) == []


def test_an_unusable_event_does_not_stop_the_others(utility_a, program, vtn):
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    # Valid per the document (intervalPeriod is optional) but without a start anywhere.
    vtn.add_event(
        vtn_program, intervals=[{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}]
    )
    good = vtn.add_event(
        vtn_program, **oa3.intervals(oa3.later(90, now=timezone.now()), "SIMPLE", [1])
    )
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    assert [s[0] for s in signals(src)] == [good["id"]]
    with scopes_disabled():
        polled = dict(
            GridMessage.objects.filter(source=src, message_type="event (polled)").values_list(
                "vtn_event_id", "summary"
            )
        )
    assert polled[good["id"]].startswith("optIn: Scheduled event")
    assert [v for k, v in polled.items() if k != good["id"]] == [
        "optOut: Malformed event: Interval 0 has no start, nor has the event."
    ]


def test_resource_names_are_vins_and_another_vens_event_is_refused(utility_a, program, vtn):
    from tests.dispatch.fleet_support import build_fleet
    from tests.portal.factories import AutomakerPartnerFactory

    ids = build_fleet(utility=utility_a, partner=AutomakerPartnerFactory(), program=program,
                      size=2, code="RSC")  # fmt: skip
    with scopes_disabled():
        vin = Vehicle.objects.get(pk=ids[1]).vin
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now())
    named = vtn.add_event(
        vtn_program, targets=[{"type": "RESOURCE_NAME", "values": [vin.lower()]},
                              {"type": "VEN_NAME", "values": [src.ven_name]}],
        **oa3.intervals(starts, "SIMPLE", [1]),
    )  # fmt: skip
    elsewhere = vtn.add_event(
        vtn_program, targets=[{"type": "VEN_NAME", "values": ["another-ven"]}],
        **oa3.intervals(starts + timedelta(hours=3), "SIMPLE", [1]),
    )  # fmt: skip
    oa3.Ven(src).poll()
    (event,) = grid_events(utility_a)
    with scopes_disabled():
        assert event.targeting == Event.Targeting.NAMED_VEHICLES
        assert list(event.vehicles.values_list("pk", flat=True)) == [ids[1]]
    outcomes = {s[0]: (s[2], s[3]) for s in signals(src)}
    assert outcomes[named["id"]][0] == "optIn"
    assert outcomes[elsewhere["id"]] == (
        "optOut",
        f"Targets refused: The event targets VENs another-ven, not this VEN ({src.ven_name}).",
    )

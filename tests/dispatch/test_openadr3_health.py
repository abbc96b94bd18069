"""The OpenADR 3 VEN's health against the loopback VTN: a refused token, an outage and a
garbage answer are recorded on the source (reason, time, registration state) and retried with
growing backoff until the VTN answers again; a token is renewed when it expires; reports the
VTN asked for reach it, built from the vehicles' telemetry rollups; the source form keeps the
client secret sealed and never shows it back."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import Vehicle
from dispatch.grid.openadr3 import credentials
from dispatch.grid.openadr3.client import VtnError
from dispatch.grid.openadr3.runner import Ven3Runner
from dispatch.measurement.baselines import mv_grid
from dispatch.models import Event, EventParticipant, GridSignalSource, OpenADR3Link
from portal.models import AuditEvent
from portal.roles import Role
from tests.dispatch import openadr3_support as oa3
from tests.dispatch.console_support import add_rollups
from tests.dispatch.events_support import open_program
from tests.dispatch.fleet_support import build_fleet
from tests.dispatch.openadr3_vtn import CLIENT_SECRET, LoopbackVtn
from tests.portal.factories import AutomakerPartnerFactory, make_member

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


def fresh(src) -> GridSignalSource:
    with scopes_disabled():
        return GridSignalSource.objects.get(pk=src.pk)


def test_a_refused_token_is_recorded_and_the_next_good_poll_clears_it(utility_a, program, vtn):
    src, _ = oa3.routed(utility_a, vtn, program, secret="not-the-secret")
    with pytest.raises(VtnError):
        oa3.Ven(src).poll()
    refused = fresh(src)
    assert refused.registration_state == GridSignalSource.Registration.REFUSED
    assert "token URL answered 400: Unknown client" in refused.last_error
    assert refused.last_error_at is not None and refused.last_successful_poll_at is None

    with scopes_disabled():
        OpenADR3Link.objects.filter(source=src).update(
            client_secret_sealed=credentials.seal(CLIENT_SECRET)
        )
    oa3.Ven(src).poll()
    healthy = fresh(src)
    assert healthy.registration_state == GridSignalSource.Registration.REGISTERED
    assert healthy.last_error == "" and healthy.last_successful_poll_at is not None


def test_an_outage_is_retried_with_growing_backoff_until_the_vtn_answers(utility_a, program, vtn):
    src, _ = oa3.routed(utility_a, vtn, program)
    runner = Ven3Runner(poll_seconds=1.0, max_backoff=8.0)
    vtn.failures = 3
    delays = []
    for _ in range(3):
        runner.due.clear()  # due now: no waiting in the test
        runner.step()
        delays.append(runner.backoff(src.pk))
        assert "answered 500" in fresh(src).last_error
    assert runner.failures[src.pk] == 3
    assert delays[0] < delays[1] < delays[2] <= 8.0  # 1, 2, 4 s (jittered down by ≤ 20 %)
    runner.due.clear()
    runner.step()
    assert src.pk not in runner.failures
    assert fresh(src).last_successful_poll_at is not None


def test_a_vtn_that_is_down_or_answers_garbage_is_recorded(utility_a, program, vtn):
    src, _ = oa3.routed(utility_a, vtn, program)
    ven = oa3.Ven(src)
    vtn.garbage = True
    with pytest.raises(VtnError):
        ven.poll()
    assert "not JSON" in fresh(src).last_error
    vtn.stop()
    with pytest.raises(VtnError):
        ven.poll()
    assert "could not be reached" in fresh(src).last_error


def test_an_expired_token_is_renewed(utility_a, program, vtn):
    vtn.token_seconds = 2
    src, _ = oa3.routed(utility_a, vtn, program)
    ven = oa3.Ven(src)
    ven.poll()
    seen = len(vtn.requests_seen)
    time.sleep(2.1)
    ven.poll()
    assert len(vtn.tokens_issued) == 2
    first_poll = {t for _, _, t in vtn.requests_seen[:seen]}
    second_poll = {t for _, _, t in vtn.requests_seen[seen:]}
    assert first_poll == {vtn.tokens_issued[0]} and second_poll == {vtn.tokens_issued[1]}


def test_requested_reports_reach_the_vtn_from_the_telemetry_rollups(utility_a, program, vtn):
    ids = build_fleet(utility=utility_a, partner=AutomakerPartnerFactory(), program=program,
                      size=2, code="RPT")  # fmt: skip
    src, vtn_program = oa3.routed(utility_a, vtn, program)
    starts = oa3.later(120, now=timezone.now()).replace(minute=0)
    vtn_event = vtn.add_event(
        vtn_program,
        reportDescriptors=[
            {"payloadType": "USAGE", "aggregate": True},
            {"payloadType": "DEMAND", "aggregate": False},
            {"payloadType": "STORAGE_MAX_DISCHARGE_POWER", "aggregate": True},
            {"payloadType": "BASELINE"},
        ],
        **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [19.2, 19.2], minutes=15),
    )
    ven = oa3.Ven(src)
    ven.poll()
    with scopes_disabled():
        event = Event.objects.get(source=Event.Source.GRID_PROTOCOL)
        vehicles = list(Vehicle.objects.filter(pk__in=ids).order_by("pk"))
        EventParticipant.objects.bulk_create(
            EventParticipant(utility=utility_a, event=event, vehicle=v, role="selected",
                             rating_kw=9.6) for v in vehicles
        )  # fmt: skip
    add_rollups(vehicles, mv_grid(starts_at=event.starts_at, ends_at=event.ends_at), power_kw=-8)

    ven.poll()  # the event has not ended: nothing yet
    assert vtn.reports == {}
    ven.poll(now=event.ends_at + timedelta(minutes=16))
    (report,) = vtn.reports.values()
    assert (report["eventID"], report["programID"]) == (vtn_event["id"], vtn_program["id"])
    assert report["clientName"] == src.ven_name
    by_name = {r["resourceName"]: r for r in report["resources"]}
    assert set(by_name) == {"AGGREGATED_REPORT", *(v.vin for v in vehicles)}
    aggregated = [
        {p["type"]: p["values"][0] for p in i["payloads"]}
        for i in by_name["AGGREGATED_REPORT"]["intervals"]
    ]
    assert aggregated == [{"USAGE": -4.0, "STORAGE_MAX_DISCHARGE_POWER": 19.2}] * 2
    one = by_name[vehicles[0].vin]["intervals"]
    assert [i["payloads"] for i in one] == [[{"type": "DEMAND", "values": [-8.0]}]] * 2
    ven.poll(now=event.ends_at + timedelta(minutes=30))  # sent once
    assert len(vtn.reports) == 1


def test_the_source_form_keeps_the_client_secret_sealed(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    url = reverse("utility:grid_source_create", args=[utility_a.slug])
    base = "http://127.0.0.1:8081/openadr3/3.0.1"
    form = {"name": "ISO 3", "protocol": "openadr_3", "vtn_url": base, "ven_name": "pvp",
            "active": "on", "token_url": f"{base}/auth/token", "client_id": "ven-1"}  # fmt: skip
    missing = client.post(url, form)
    assert missing.status_code == 200
    assert "An OpenADR 3 source needs its client secret." in missing.text
    created = client.post(url, {**form, "client_secret": "hunter2-secret"})
    assert created.status_code == 302
    with scopes_disabled():
        src = GridSignalSource.objects.get(name="ISO 3")
        link = OpenADR3Link.objects.get(source=src)
        audit = AuditEvent.objects.get(action="grid_source.created")
    assert "hunter2-secret" not in link.client_secret_sealed
    assert credentials.unseal(link.client_secret_sealed) == "hunter2-secret"
    assert audit.changes["client_secret"] == "changed"
    assert "hunter2" not in str(audit.changes)
    edit = reverse("utility:grid_source_edit", args=[utility_a.slug, src.pk])
    page = client.get(edit)
    detail = client.get(reverse("utility:grid_source_detail", args=[utility_a.slug, src.pk]))
    assert "hunter2" not in page.text and "hunter2" not in detail.text
    assert "Stored encrypted (not shown)" in detail.text
    assert client.post(edit, {**form, "client_id": "ven-2"}).status_code == 302  # secret kept
    link.refresh_from_db()
    assert (link.client_id, credentials.unseal(link.client_secret_sealed)) == (
        "ven-2", "hunter2-secret",
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_runner_loop_polls_until_stopped(utility_a, program, vtn):
    import threading

    from tests.worker import wait_for

    src, vtn_program = oa3.routed(utility_a, vtn, program)
    vtn.add_event(vtn_program, **oa3.intervals(oa3.later(90, now=timezone.now()), "SIMPLE", [2]))
    stop = threading.Event()
    loop = threading.Thread(target=Ven3Runner(poll_seconds=0.5).run, args=(stop,), daemon=True)
    loop.start()
    try:
        wait_for(lambda: fresh(src).last_successful_poll_at is not None, timeout=20)
        with scopes_disabled():
            assert Event.objects.filter(source=Event.Source.GRID_PROTOCOL).count() == 1
        polls = len([r for r in vtn.requests_seen if r[1] == "/events"])
        wait_for(lambda: len([r for r in vtn.requests_seen if r[1] == "/events"]) > polls,
                 timeout=20)  # fmt: skip
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()

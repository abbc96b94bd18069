"""Grid signal pages: sources with their registration and problems, market contexts mapped to
programs, the events each source sent with the portal's answers; changes need the dispatch
capability, are validated (loopback VTNs, unique names and contexts) and audited."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.grid.openadr import receive_openadr_event
from dispatch.models import Event, GridSignalRoute, GridSignalSource
from portal.models import AuditEvent
from portal.roles import Role
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import oadr_event, route, source
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db

VTN = "http://127.0.0.1:8080/OpenADR2/Simple/2.0b"


def _url(name, utility, *args):
    return reverse(f"utility:grid_{name}", args=[utility.slug, *args])


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _audit(action) -> list[AuditEvent]:
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action))


def test_an_operator_adds_a_source_and_maps_a_market_context(operator, utility_a):
    program = open_program(utility_a, name="Peak relief", status="open")

    response = operator.post(
        _url("source_create", utility_a),
        {"name": "CAISO VTN", "vtn_url": VTN, "ven_name": "pvp-portal", "active": "on"},
    )

    with scopes_disabled():
        src = GridSignalSource.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("source_detail", utility_a, src.pk)
    assert (src.utility_id, src.vtn_url, src.active) == (utility_a.pk, VTN, True)
    (created,) = _audit("grid_source.created")
    assert created.changes["vtn_url"] == [None, VTN] or created.changes["vtn_url"][1] == VTN

    response = operator.post(
        _url("route_add", utility_a, src.pk),
        {"market_context": " oadr://caiso/peak ", "program": program.pk, "event_type": ""},
    )

    assert response.status_code == 302
    with scopes_disabled():
        (r,) = GridSignalRoute.objects.filter(source=src)
    assert (r.market_context, r.program_id, r.event_type) == ("oadr://caiso/peak", program.pk, "")
    page = operator.get(_url("source_detail", utility_a, src.pk)).content.decode()
    assert "oadr://caiso/peak" in page and "Peak relief" in page and "Not registered" in page
    assert _audit("grid_source.route_added")


def test_the_vtn_must_be_on_loopback_and_names_unique(operator, utility_a):
    source(utility_a, name="Taken")

    far = operator.post(
        _url("source_create", utility_a),
        {"name": "Far", "vtn_url": "http://203.0.113.9/OpenADR2/Simple/2.0b", "ven_name": "x"},
    )
    taken = operator.post(
        _url("source_create", utility_a), {"name": "Taken", "vtn_url": VTN, "ven_name": "x"}
    )
    garbage = operator.post(
        _url("source_create", utility_a), {"name": "", "vtn_url": "not a url", "ven_name": ""}
    )

    assert far.status_code == taken.status_code == garbage.status_code == 200
    assert "203.0.113.9" in far.content.decode()
    assert "already a source with this name" in taken.content.decode()
    assert "Please correct the 3 problems" in garbage.content.decode()
    with scopes_disabled():
        assert GridSignalSource.objects.count() == 1


def test_a_market_context_calls_one_program_and_can_be_removed(operator, utility_a):
    src = source(utility_a)
    program = open_program(utility_a, name="Peak relief", status="open")
    existing = route(src, program, market_context="oadr://iso/peak")

    again = operator.post(
        _url("route_add", utility_a, src.pk),
        {"market_context": "oadr://iso/peak", "program": program.pk},
    )
    price = operator.post(
        _url("route_add", utility_a, src.pk),
        {"market_context": "oadr://iso/price", "program": program.pk, "event_type": "price_signal"},
    )

    assert again.status_code == price.status_code == 200  # the page again, with the errors
    assert "already calls a program" in again.content.decode()
    assert "Select a valid choice" in price.content.decode()

    confirm = operator.get(_url("route_remove", utility_a, src.pk, existing.pk))
    assert "will no longer call <strong>Peak relief</strong>" in confirm.content.decode()
    removed = operator.post(_url("route_remove", utility_a, src.pk, existing.pk))

    assert removed.status_code == 302
    with scopes_disabled():
        assert not GridSignalRoute.objects.exists()
    assert _audit("grid_source.route_removed")


def test_changing_the_vtn_registers_afresh(operator, utility_a):
    src = source(utility_a, vtn_url=VTN, ven_id="ven-9", registration_id="reg-9")
    data = {"name": src.name, "vtn_url": VTN, "ven_name": src.ven_name, "active": "on"}

    operator.post(_url("source_edit", utility_a, src.pk), {**data, "active": ""})
    src.refresh_from_db()
    assert (src.active, src.ven_id) == (False, "ven-9")  # switched off, still registered

    moved = VTN.replace("8080", "8081")
    operator.post(_url("source_edit", utility_a, src.pk), {**data, "vtn_url": moved})
    src.refresh_from_db()
    assert (src.vtn_url, src.ven_id, src.registration_id) == (moved, "", "")


def test_the_pages_show_what_each_source_sent_and_the_answers(operator, utility_a):
    src = source(utility_a, name="ISO VTN")
    route(src, open_program(utility_a, name="Peak relief", status="open"))
    starts = (timezone.now() + timezone.timedelta(hours=3)).replace(second=0, microsecond=0)
    receive_openadr_event(src.pk, oadr_event(starts_at=starts))
    receive_openadr_event(
        src.pk, oadr_event(event_id="evt-2", starts_at=starts, market_context="oadr://x")
    )
    with scopes_disabled():
        event = Event.objects.get()

    listing = operator.get(_url("source_list", utility_a)).content.decode()
    detail = operator.get(_url("source_detail", utility_a, src.pk)).content.decode()

    for page in (listing, detail):
        assert "evt-1" in page and "evt-2" in page
        assert "Opted in" in page and "Opted out" in page
        assert f"Event #{event.pk}" in page
        assert "No program is mapped to market context" in page
    event_page = operator.get(
        reverse("utility:event_detail", args=[utility_a.slug, event.pk])
    ).content.decode()
    assert "Grid protocol" in event_page
    assert "ISO VTN</a>, VTN event <code>evt-1</code> (modification 0)" in event_page


@pytest.mark.parametrize(
    "role", [Role.AUDITOR, Role.PROGRAM_ANALYST, Role.SETTLEMENT_ANALYST, Role.CUSTOMER_SERVICE]
)
def test_only_the_dispatch_capability_changes_sources(client, utility_a, role):
    src = source(utility_a)
    client.force_login(make_member(role, utility=utility_a))
    can_view = client.get(_url("source_list", utility_a)).status_code
    assert client.get(_url("source_create", utility_a)).status_code == 403
    assert client.post(_url("source_edit", utility_a, src.pk), {}).status_code == 403
    assert client.post(_url("route_add", utility_a, src.pk), {}).status_code == 403
    assert can_view in (200, 403)
    with scopes_disabled():
        assert GridSignalSource.objects.get().name == src.name


def test_a_vtn_fingerprint_is_checked_and_shown(operator, utility_a, settings):
    data = {"name": "Signed VTN", "vtn_url": VTN, "ven_name": "pvp-portal", "active": "on"}

    bad = operator.post(_url("source_create", utility_a), {**data, "vtn_fingerprint": "12:34"})
    good = operator.post(
        _url("source_create", utility_a),
        {**data, "vtn_fingerprint": " 3f-8a-00-11-22-33-44-55-66-c2 "},
    )

    assert "10 pairs of hex digits" in bad.content.decode()
    with scopes_disabled():
        src = GridSignalSource.objects.get()
    assert good.status_code == 302
    assert src.vtn_fingerprint == "3F:8A:00:11:22:33:44:55:66:C2"
    page = operator.get(_url("source_detail", utility_a, src.pk)).content.decode()
    assert "messages not signed by <code>3F:8A:00:11:22:33:44:55:66:C2</code> are dropped" in page
    assert "Unsigned: set <code>OPENADR_VEN_CERT</code>" in page

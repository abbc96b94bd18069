"""The source page tells the truth (registration, last successful poll, last error, events in
force per the VTN and in the portal) and the message log is searchable and downloadable, in a
constant number of queries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.grid.oadr2b_events import handle_distribute
from dispatch.models import GridSignalSource
from dispatch.services.grid_messages import (
    note_failure,
    note_poll_succeeded,
    note_registration,
    record_message,
)
from portal.models import AuditEvent
from portal.roles import Role
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import oadr_event, route, source
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _url(name, utility, *args):
    return reverse(f"utility:grid_{name}", args=[utility.slug, *args])


def test_the_source_page_shows_health_and_events_in_force(operator, utility_a):
    src = source(utility_a)
    route(src, open_program(utility_a, name="Peak relief", status="open"))
    note_registration(src.pk, "registered", ven_id="ven-9", registration_id="reg-9")
    note_poll_succeeded(src.pk, at=datetime(2026, 7, 1, 18, 0, tzinfo=UTC))
    note_failure(src.pk, "OadrPoll: the VTN did not answer within 10 s")
    starts = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    handle_distribute(src.pk, [oadr_event(event_id="iso-77", starts_at=starts)])

    page = operator.get(_url("source_detail", utility_a, src.pk)).content.decode()

    assert "Registered" in page and "ven-9" in page
    assert "2026-07-01" in page  # the last successful poll, in the utility's zone
    assert "did not answer within 10 s" in page
    assert "iso-77" in page and "Event #" in page


def test_a_source_the_vtn_cancelled_can_be_registered_again(operator, utility_a):
    src = source(utility_a)
    note_registration(src.pk, "cancelled_by_vtn", error="The VTN cancelled the registration.")
    page = operator.get(_url("source_detail", utility_a, src.pk)).content.decode()
    assert "Registration cancelled by the VTN" in page and "Register again" in page

    response = operator.post(_url("source_register_again", utility_a, src.pk))

    assert response.status_code == 302
    with scopes_disabled():
        src.refresh_from_db()
        assert AuditEvent.objects.filter(action="grid_source.register_again").count() == 1
    assert src.registration_state == GridSignalSource.Registration.UNREGISTERED
    # Nothing to do for a registered source: a clear message, no change.
    note_registration(src.pk, "registered")
    operator.post(_url("source_register_again", utility_a, src.pk))
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="grid_source.register_again").count() == 1


def test_the_message_log_is_searchable_and_downloadable(
    operator, utility_a, django_assert_max_num_queries
):
    src = source(utility_a)
    for i in range(60):
        record_message(
            source=src,
            direction="in" if i % 2 else "out",
            message_type="oadrPoll" if i % 2 else "oadrResponse",
            body=f"<x>poll {i}</x>",
        )
    record_message(
        source=src,
        direction="in",
        message_type="oadrDistributeEvent",
        body="<oadrPayload>evt-needle</oadrPayload>",
        validation="invalid",
        errors=["line 1: no declaration"],
        vtn_event_id="evt-needle",
        summary="refused",
    )

    with django_assert_max_num_queries(12):
        page = operator.get(_url("message_list", utility_a, src.pk))
    assert page.status_code == 200 and "Page 1 of 2" in page.content.decode()

    found = operator.get(_url("message_list", utility_a, src.pk), {"q": "needle"})
    body = found.content.decode()
    assert "oadrDistributeEvent" in body and "oadrPoll" not in body
    typed = operator.get(_url("message_list", utility_a, src.pk), {"message_type": "oadrPoll"})
    assert "oadrDistributeEvent" not in typed.content.decode()

    download = operator.get(_url("message_csv", utility_a, src.pk), {"q": "needle"})
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0][:3] == ["id", "created_at", "direction"]
    (row,) = rows[1:]
    assert row[4] == "oadrDistributeEvent" and row[6] == "line 1: no declaration"
    assert row[-1] == "<oadrPayload>evt-needle</oadrPayload>"


def test_a_message_shows_its_whole_body_escaped(operator, utility_a):
    src = source(utility_a)
    message = record_message(
        source=src, direction="in", message_type="oadrDistributeEvent", body="<script>x</script>"
    )
    page = operator.get(_url("message_detail", utility_a, src.pk, message.pk)).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page

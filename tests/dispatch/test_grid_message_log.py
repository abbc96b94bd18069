"""The protocol message log and a source's health, as any protocol's VEN writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_scopes import scope, scopes_disabled

from dispatch.models import GridMessage, GridSignalSource
from dispatch.services.grid_messages import (
    note_failure,
    note_poll_succeeded,
    note_registration,
    record_message,
)
from tests.dispatch.grid_support import source

pytestmark = pytest.mark.django_db

AT = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


def test_it_records_a_message_for_the_sources_utility_outside_any_scope(utility_a):
    src = source(utility_a)
    message = record_message(
        source=src,
        direction="in",
        message_type="oadrDistributeEvent",
        body=b"<oadrPayload>\x00</oadrPayload>",
        validation="invalid",
        errors=["line 1: element oadrPayload: no declaration"],
        vtn_event_id="evt-1",
        at=AT,
    )
    with scope(utility=utility_a.pk):
        stored = GridMessage.objects.get(pk=message.pk)
    assert stored.utility_id == utility_a.pk and stored.protocol == src.protocol
    assert "\x00" not in stored.body and stored.body.startswith("<oadrPayload>")
    assert stored.errors == ["line 1: element oadrPayload: no declaration"]
    assert (stored.vtn_event_id, stored.created_at) == ("evt-1", AT)


def test_it_keeps_a_bounded_body_and_says_it_was_cut(utility_a):
    src = source(utility_a)
    message = record_message(
        source=src,
        direction="out",
        message_type="oadrPoll",
        body="x" * (GridMessage.MAX_BODY_CHARS + 10),
    )
    assert len(message.body) == GridMessage.MAX_BODY_CHARS and message.body_truncated


def test_it_refuses_an_unknown_direction(utility_a):
    with pytest.raises(ValueError):
        record_message(source=source(utility_a), direction="sideways", message_type="x", body="")


def test_the_sources_health_follows_polls_failures_and_registration(utility_a):
    src = source(utility_a)
    note_registration(src.pk, "registered", ven_id="ven-1", registration_id="reg-1", at=AT)
    note_failure(src.pk, "ReadTimeout: the VTN took longer than 10 s", at=AT)
    with scopes_disabled():
        src.refresh_from_db()
    assert src.registration_state == GridSignalSource.Registration.REGISTERED
    assert (src.ven_id, src.last_error_at) == ("ven-1", AT)
    assert src.last_error.startswith("ReadTimeout")
    note_poll_succeeded(src.pk, at=AT)
    note_registration(src.pk, "cancelled_by_vtn", error="The VTN cancelled the registration.")
    with scopes_disabled():
        src.refresh_from_db()
    assert src.last_successful_poll_at == AT
    assert src.registration_state == GridSignalSource.Registration.CANCELLED_BY_VTN
    assert src.last_error == "The VTN cancelled the registration."

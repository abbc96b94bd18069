"""The audit trail is append-only everywhere: the model, querysets, the database and the
admin site; auditors browse and export it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from portal import audit
from portal.models import AuditEvent
from portal.models.audit import AuditTrailIsAppendOnly
from portal.request_context import reset_request_id, set_request_id
from portal.roles import Role
from tests.portal.factories import UserFactory, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(utility_a):
    with scopes_disabled():
        return audit.record(action="customer.updated", utility=utility_a, comment="before")


def test_it_refuses_to_change_an_event_through_the_model(event):
    event.comment = "rewritten"
    with pytest.raises(AuditTrailIsAppendOnly):
        event.save()
    with pytest.raises(AuditTrailIsAppendOnly):
        event.delete()


def test_it_refuses_bulk_updates_and_deletes(event, utility_a):
    with scope(utility=utility_a.pk):
        with pytest.raises(AuditTrailIsAppendOnly):
            AuditEvent.objects.all().update(comment="x")
        with pytest.raises(AuditTrailIsAppendOnly):
            AuditEvent.objects.all().delete()


def test_it_refuses_raw_sql_changes_in_the_database(event):
    for statement in (
        "UPDATE portal_auditevent SET comment = 'x'",
        "DELETE FROM portal_auditevent",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with scopes_disabled():
        assert AuditEvent.objects.get(pk=event.pk).comment == "before"


def test_it_records_actor_and_request_id(utility_a):
    user = UserFactory(email="actor@alpha.test")
    token = set_request_id("req-123")
    try:
        with scopes_disabled():
            e = audit.record(
                action="membership.revoked",
                utility=utility_a,
                actor=user,
                obj=utility_a,
                from_state="active",
                to_state="revoked",
                comment="left the team",
            )
    finally:
        reset_request_id(token)
    assert (e.actor_label, e.request_id, e.object_type) == (
        "actor@alpha.test",
        "req-123",
        "portal.utility",
    )
    assert (e.from_state, e.to_state) == ("active", "revoked")


def test_it_lets_auditors_filter_and_export(client, utility_a):
    with scopes_disabled():
        audit.record(action="customer.updated", utility=utility_a, comment="one")
        audit.record(action="agreement.ended", utility=utility_a, comment="two")
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    page = client.get(reverse("utility:audit_list", args=["alpha"]), {"action": "agreement"})
    assert page.status_code == 200
    assert "agreement.ended" in page.content.decode()
    assert "customer.updated" not in page.content.decode()
    export = client.get(reverse("utility:audit_export", args=["alpha"]), {"action": "customer"})
    body = b"".join(export.streaming_content).decode()
    assert export["Content-Type"] == "text/csv"
    assert "customer.updated" in body and "agreement.ended" not in body


def test_it_answers_a_bad_filter_with_an_empty_page_not_an_error(client, utility_a):
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    page = client.get(reverse("utility:audit_list", args=["alpha"]), {"since": "not-a-date"})
    assert page.status_code == 200
    assert "Enter a valid date" in page.content.decode()


def test_it_offers_no_add_change_or_delete_in_the_admin(admin_client, event):
    assert admin_client.get(reverse("admin:portal_auditevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:portal_auditevent_add")).status_code == 403
    detail = admin_client.post(
        reverse("admin:portal_auditevent_change", args=[event.pk]), {"comment": "rewritten"}
    )
    assert detail.status_code == 403
    assert (
        admin_client.post(reverse("admin:portal_auditevent_delete", args=[event.pk])).status_code
        == 403
    )


def test_the_detail_page_shows_a_change_named_items(client, utility_a):
    # A payout batch records its "items"; the template once read that as dict.items() and failed.
    with scopes_disabled():
        event = audit.record(
            action="payout_batch.created",
            utility=utility_a,
            changes={"items": [{"reference": "INC1-L1", "amount": "50.00"}], "total": "50.00"},
        )
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    page = client.get(reverse("utility:audit_detail", args=["alpha", event.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "INC1-L1" in body and "<strong>total</strong>" in body

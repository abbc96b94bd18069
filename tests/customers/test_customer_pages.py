"""A customer's page: what the other apps add to its timeline (through a signal, since
customers imports none of them) and its history, including audit rows written while the
model was labelled ``enrollment.serviceaccount``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from portal.customers import selectors
from portal.customers.models import ServiceAccount
from portal.customers.signals import timeline_requested
from portal.models import AuditEvent
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def customer_url(account):
    return reverse("utility:customer_detail", args=[account.utility.slug, account.pk])


def old_label_row(account, **fields) -> AuditEvent:
    """An audit row as written before the model moved to the customers app."""
    return AuditEvent.objects.create(
        utility=account.utility,
        actor_label="ops@alpha.example",
        action=fields.pop("action", "customer.updated"),
        object_type="enrollment.serviceaccount",
        object_id=str(account.pk),
        object_repr=str(account),
        **fields,
    )


def test_it_shows_the_enrollment_apps_entries_on_the_timeline(client, utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    vehicle = VehicleFactory(utility=utility_a, service_account=account)
    client.force_login(make_member(Role.CUSTOMER_SERVICE, utility=utility_a))

    body = client.get(customer_url(account)).content.decode()

    assert f"Vehicle registered: {vehicle.model_year} {vehicle.model}" in body
    assert reverse("utility:vehicle_detail", args=[utility_a.slug, vehicle.pk]) in body


def test_it_merges_every_receivers_entries_newest_first(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    later = timezone.now() + timedelta(days=1)

    def billing_entries(sender, *, account, limit, **kwargs):
        return [selectors.TimelineEntry(at=later, kind="bill", title="First bill")]

    timeline_requested.connect(billing_entries, dispatch_uid="test.billing_entries")
    try:
        VehicleFactory(utility=utility_a, service_account=account)
        with scope(utility=utility_a.pk):
            entries = selectors.timeline(account=account)
    finally:
        timeline_requested.disconnect(dispatch_uid="test.billing_entries")

    assert [e.kind for e in entries] == ["bill", "vehicle"]


def test_it_keeps_audit_rows_with_the_old_model_label_in_the_history(client, utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    old = old_label_row(account, comment="Moved premise")
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))

    page = client.get(customer_url(account))

    assert [e.pk for e in page.context["history"]] == [old.pk]
    detail = client.get(reverse("utility:audit_detail", args=[utility_a.slug, old.pk]))
    assert detail.status_code == 200
    assert "enrollment.serviceaccount" in detail.content.decode()


def test_it_finds_old_label_rows_when_filtering_by_the_current_label(client, utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    old = old_label_row(account)
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))

    for search in (ServiceAccount._meta.label_lower, "enrollment.serviceaccount"):
        listed = client.get(
            reverse("utility:audit_list", args=[utility_a.slug]), {"object_type": search}
        )
        assert [e.pk for e in listed.context["object_list"]] == [old.pk], search

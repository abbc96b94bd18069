"""Interconnection moved from the enrollment app to an app of its own: the tables, their rows
and content types come along, and audit rows written under the old labels ("enrollment.…")
still show in the audit trail's search and open on the audit pages."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.interconnection.models import (
    ApplicationTransition,
    InterconnectionApplication,
    SlaClock,
)
from portal import audit
from portal.models import AuditEvent
from portal.roles import Role
from tests.interconnection.factories import draft, make_site, walk
from tests.portal.factories import make_member

BEFORE_THE_MOVE = [("enrollment", "0011_move_incentives_out")]


@pytest.fixture
def approved(utility_a):
    site = make_site(utility_a)
    return walk(site, draft(site), to="approved_to_install")


def _old_label_row(application: InterconnectionApplication) -> AuditEvent:
    """An audit row as the portal wrote it before the move."""
    with scopes_disabled():
        return AuditEvent.objects.create(
            utility=application.utility,
            actor_label="system",
            action="interconnection.checked_before_the_move",
            object_type="enrollment.interconnectionapplication",
            object_id=str(application.pk),
            object_repr=str(application),
        )


def test_it_names_both_labels_of_a_moved_model():
    assert audit.labels_of(SlaClock) == ["interconnection.slaclock", "enrollment.slaclock"]
    assert InterconnectionApplication._meta.db_table == "enrollment_interconnectionapplication"


@pytest.mark.django_db
def test_it_finds_a_moved_models_whole_trail_by_either_label(client, utility_a, approved):
    _old_label_row(approved)
    with scopes_disabled():
        assert audit.history_of(approved).filter(action="interconnection.submitted").exists()
        assert (
            audit.history_of(approved)
            .filter(action="interconnection.checked_before_the_move")
            .exists()
        )
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))

    for label in ("interconnection.interconnectionapplication", "enrollment.interconnection"):
        page = client.get(
            reverse("utility:audit_list", args=[utility_a.slug]), {"object_type": label}
        ).content.decode()
        assert "interconnection.checked_before_the_move" in page, label
        assert "interconnection.submitted" in page, label  # written since, under the new label


@pytest.mark.django_db
def test_it_opens_an_old_label_row_on_the_audit_page(client, utility_a, approved):
    row = _old_label_row(approved)
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))

    page = client.get(reverse("utility:audit_detail", args=[utility_a.slug, row.pk]))

    assert page.status_code == 200
    assert "enrollment.interconnectionapplication" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_row_and_content_type_across_the_move(utility_a, approved):
    """Back to the schema before the move and forward again: the move touches no table."""
    with scopes_disabled():
        transitions = sorted(ApplicationTransition.objects.values_list("pk", "to_state"))
    content_type_id = ContentType.objects.get_for_model(InterconnectionApplication).pk
    assert transitions

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    old_state = executor.loader.project_state(BEFORE_THE_MOVE).apps
    OldTransition = old_state.get_model("enrollment", "ApplicationTransition")
    assert sorted(OldTransition._base_manager.values_list("pk", "to_state")) == transitions
    assert ContentType.objects.filter(
        pk=content_type_id, app_label="enrollment", model="interconnectionapplication"
    ).exists()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    with scopes_disabled():
        assert sorted(ApplicationTransition.objects.values_list("pk", "to_state")) == transitions
    assert ContentType.objects.get_for_model(InterconnectionApplication).pk == content_type_id
    with scope(utility=utility_a.pk):
        application = InterconnectionApplication.objects.get(pk=approved.pk)
        assert application.status == InterconnectionApplication.Status.APPROVED_TO_INSTALL

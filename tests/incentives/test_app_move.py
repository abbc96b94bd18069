"""Incentives moved from the enrollment app to an app of their own: the tables, their rows and
content types come along, and audit rows written under the old labels ("enrollment.…")
still show on the incentive pages and in the audit trail's search."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.incentives.models import Incentive, LedgerEntry
from portal import audit
from portal.models import AuditEvent
from portal.roles import Role
from tests.devices.isolation_cases import signed_in
from tests.incentives.support import (
    apply_rebate,
    approve,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
    rebate_offer,
)

pytestmark = pytest.mark.usefixtures("media_root")

BEFORE_THE_MOVE = [("enrollment", "0008_serviceaccount_feeder")]


@pytest.fixture
def approved_rebate(utility_a):
    program = funded_program(utility_a)
    incentive = apply_rebate(rebate_offer(program), participant(program), total="800.00")
    return approve(incentive)


def _old_label_row(incentive: Incentive) -> AuditEvent:
    """An audit row as the portal wrote it before the move."""
    with scopes_disabled():
        return AuditEvent.objects.create(
            utility=incentive.program.utility,
            actor_label="system",
            action="incentive.checked_before_the_move",
            object_type="enrollment.incentive",
            object_id=str(incentive.pk),
            object_repr=str(incentive),
        )


def test_it_names_both_labels_of_a_moved_model():
    assert audit.labels_of(LedgerEntry) == ["incentives.ledgerentry", "enrollment.ledgerentry"]
    assert LedgerEntry._meta.db_table == "enrollment_ledgerentry"


@pytest.mark.django_db
def test_it_shows_history_written_under_the_old_label(client, utility_a, approved_rebate):
    _old_label_row(approved_rebate)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    page = client.get(
        reverse("utility:incentive_detail", args=[utility_a.slug, approved_rebate.pk])
    ).content.decode()

    assert "incentive.checked_before_the_move" in page
    assert "incentive.approved" in page  # and the rows written since, under the new label


@pytest.mark.django_db
def test_it_finds_a_moved_models_whole_trail_by_either_label(client, utility_a, approved_rebate):
    _old_label_row(approved_rebate)
    signed_in(client, Role.AUDITOR, utility_a)

    for label in ("incentives.incentive", "enrollment.incentive"):
        page = client.get(
            reverse("utility:audit_list", args=[utility_a.slug]), {"object_type": label}
        ).content.decode()
        assert "incentive.checked_before_the_move" in page, label
        assert "incentive.approved" in page, label


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_row_and_content_type_across_the_move(utility_a, approved_rebate):
    """Back to the schema before the move and forward again: the move touches no table."""
    with scopes_disabled():
        entries = sorted(LedgerEntry.objects.values_list("pk", "amount"))
    content_type_id = ContentType.objects.get_for_model(LedgerEntry).pk
    assert entries

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    old_state = executor.loader.project_state(BEFORE_THE_MOVE).apps
    OldLedgerEntry = old_state.get_model("enrollment", "LedgerEntry")
    assert sorted(OldLedgerEntry._base_manager.values_list("pk", "amount")) == entries
    assert ContentType.objects.filter(
        pk=content_type_id, app_label="enrollment", model="ledgerentry"
    ).exists()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    with scopes_disabled():
        assert sorted(LedgerEntry.objects.values_list("pk", "amount")) == entries
    assert ContentType.objects.get_for_model(LedgerEntry).pk == content_type_id
    with scope(utility=utility_a.pk):
        assert Incentive.objects.get(pk=approved_rebate.pk).status == Incentive.Status.APPROVED

"""Moving ServiceAccount and CustomerImport from enrollment to customers changes no table:
rows written before the move are the same rows after it, still referenced by the other
apps, and the content types follow the models."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("customers", None)]  # and so enrollment 0008, devices 0003: the schema before
AFTER = [
    ("enrollment", "0010_move_customers_out"),
    ("devices", "0004_service_account_moved_to_customers"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    return executor.migrate(targets).apps


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_row_and_reference_across_the_move():
    old = migrate(BEFORE)
    Utility = old.get_model("portal", "Utility")
    ContentType = old.get_model("contenttypes", "ContentType")
    utility = Utility.objects.create(name="Migrated Power", slug="migrated", time_zone="UTC")
    account = old.get_model("enrollment", "ServiceAccount").objects.create(
        utility_id=utility.pk,
        account_number="100",
        customer_name="Before The Move",
        premise_address="1 Main St",
        city="Austin",
        state="TX",
        zip_code="78701",
        rate_class="residential",
    )
    old.get_model("enrollment", "CustomerImport").objects.create(
        utility_id=utility.pk, filename="before.csv"
    )
    # As on a database migrated before the move: the content type under the old label only.
    ContentType.objects.filter(app_label="customers").delete()
    ContentType.objects.get_or_create(app_label="enrollment", model="serviceaccount")

    new = migrate(AFTER)

    moved = new.get_model("customers", "ServiceAccount").objects.get(pk=account.pk)
    assert moved.customer_name == "Before The Move"
    assert new.get_model("customers", "CustomerImport").objects.get().filename == "before.csv"
    assert new.get_model("devices", "Vehicle")._meta.get_field(
        "service_account"
    ).related_model is new.get_model("customers", "ServiceAccount")
    content_types = new.get_model("contenttypes", "ContentType").objects
    assert content_types.filter(app_label="customers", model="serviceaccount").exists()
    assert not content_types.filter(app_label="enrollment", model="serviceaccount").exists()

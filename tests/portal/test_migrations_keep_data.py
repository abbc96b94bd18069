"""The structural re-cut (one app per domain, models moved between apps) loses no row.

A database is built at the schema as it was before the re-cut, every one of the portal's
tables gets rows (made by model_bakery from the *historical* models, so the data fits the
old schema exactly), and then every migration since is applied. Every table that existed
before must still exist, under the same name, with the same rows.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from model_bakery import baker

# The last migration of each of the portal's apps before the re-cut.
BEFORE_RECUT = [
    ("portal", "0004_partner_client_allowed_scopes"),
    ("devices", "0003_command_queue_indexes"),
    ("enrollment", "0008_serviceaccount_feeder"),
    ("dispatch", "0005_grid_source_vtn_fingerprint"),
]
OUR_APPS = {"portal", "devices", "enrollment", "dispatch", "billing"}


def row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = [
            table
            for table in connection.introspection.table_names(cursor)
            if table.split("_", 1)[0] in OUR_APPS
        ]
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - catalog names
            counts[table] = cursor.fetchone()[0]
    return counts


# Values the database's check constraints demand, which random values would miss.
STAFF_MEMBERSHIP = {"role": "program_admin", "ahj": None, "installer": None}
VALID = {
    "portal.Membership": STAFF_MEMBERSHIP,
    "portal.Invitation": STAFF_MEMBERSHIP,
    "enrollment.IncentiveOffer": {
        "kind": "charger_rebate",
        **dict.fromkeys(
            ["amount", "income_qualified_amount", "rate_per_kwh", "rate_per_kw", "season_cap"],
            Decimal("10.00"),
        ),
    },
    "enrollment.Incentive": {"amount": Decimal("10.00")},
    "enrollment.LedgerEntry": {
        "kind": "reserve",
        "amount": Decimal("10.00"),
        "payout_batch": None,
        "reverses": None,
        "settles": None,
    },
    "enrollment.PayoutItem": {"amount": Decimal("10.00")},
    # A tariff assignment names a rate class or one account, never both.
    "billing.TariffAssignment": {"service_account": None, "rate_class": "residential"},
}


def fill_every_table(apps) -> None:
    """At least one row in every table of the portal's apps at the old schema. A row made
    with fixed values is reused by the rows that point at it, so they stay valid too."""
    models = [
        model
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS and model._meta.managed and not model._meta.proxy
    ]
    made = {}
    for label in VALID:  # in dependency order: an offer before its incentives
        try:
            model = apps.get_model(label)
        except LookupError:  # a model of a later migration (billing's): not at this schema
            continue
        made[label] = make(model, made)
    for model in models:
        if not model._base_manager.exists():
            make(model, made)
    # Rows made as another row's target got no many-to-many links: link one of each.
    for model in models:
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created and not through._base_manager.exists():
                target = field.related_model._base_manager.first() or baker.make(
                    field.related_model
                )
                getattr(model._base_manager.first(), field.name).add(target)


def make(model, made: dict):
    related = {
        field.name: made[field.related_model._meta.label]
        for field in model._meta.fields
        if field.is_relation and field.related_model._meta.label in made
    }
    values = {**related, **VALID.get(model._meta.label, {})}
    return baker.make(model, _fill_optional=True, make_m2m=True, **values)


def migrate_to_exactly(targets):
    """A clean database at ``targets`` and only what they depend on. (The migrator's own
    ``apply_initial_migration`` also applies every migration that sorts before the last target
    in the full plan, and apps added since — billing — pull the re-cut itself in front.)"""
    from django.core.management.color import no_style
    from django.db.migrations.executor import MigrationExecutor
    from django_test_migrations import sql

    sql.drop_models_tables(connection.alias, no_style())
    sql.flush_django_migrations_table(connection.alias, no_style())
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(targets, clean_start=True)
    return executor.migrate(targets, plan=plan)


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_row_of_every_table_through_the_recut(migrator_factory):
    migrator = migrator_factory()
    old_state = migrate_to_exactly(BEFORE_RECUT)
    fill_every_table(old_state.apps)
    before = row_counts()
    assert before, "no tables found at the old schema"
    empty = sorted(table for table, count in before.items() if count == 0)
    assert not empty, f"tables left without rows at the old schema: {empty}"

    leaves = MigrationLoader(connection).graph.leaf_nodes()
    migrator.apply_tested_migration(leaves)
    after = row_counts()

    lost = {
        table: (count, after.get(table))
        for table, count in before.items()
        if after.get(table) != count
    }
    assert not lost, f"rows lost or tables gone (before, after): {lost}"

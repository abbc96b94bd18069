"""Demo data: two fictional utilities and the organizations and people around them, and an
optional large tenant for benchmarks.

Everything is keyed on natural keys (slugs, emails, account numbers), so seeding twice
creates nothing new. This module orchestrates; the definitions and the functions that create
them are in ``organizations``, ``logins``, ``customers`` and ``scale`` (and ``programs``,
``fleet``, ``events``, ``incentives``, ``interconnection``, ``simulator``, ``billing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from demo.customers import CUSTOMERS_PER_DEMO_UTILITY, ensure_customers
from demo.logins import DEMO_PASSWORD, LOGINS, SCALE_LOGINS, LoginRow, ensure_login, login_rows
from demo.organizations import (
    ACCESS_REQUESTS,
    AHJS,
    INSTALLERS,
    PARTNERS,
    SCALE_UTILITY,
    UTILITIES,
    ensure_access_request,
    ensure_ahj,
    ensure_installer,
    ensure_partner,
    ensure_utility,
)
from demo.scale import ensure_scale_audit_trail, refresh_planner_statistics
from devices.models import TelemetryRollup, Vehicle
from enrollment.models import Enrollment
from portal.customers.models import ServiceAccount
from portal.models import (
    AuditEvent,
    AutomakerPartner,
    Utility,
)


@dataclass
class SeedReport:
    customers_created: int = 0
    logins: list[LoginRow] = field(default_factory=list)
    authorization_codes: list = field(default_factory=list)  # demo.authorizations.DemoCode


def seed_demo(*, customers_per_utility: int = CUSTOMERS_PER_DEMO_UTILITY) -> SeedReport:
    """Create (or complete) the demo data set. Safe to run any number of times."""
    report = SeedReport()
    # One hash for every demo login: hashing is deliberately slow, and they share a password.
    password_hash = make_password(DEMO_PASSWORD)
    with transaction.atomic():
        utilities = {spec.slug: ensure_utility(spec=spec) for spec in UTILITIES}
        for spec in INSTALLERS:
            ensure_installer(spec=spec, utilities=utilities)
        for spec in AHJS:
            ensure_ahj(spec=spec, utilities=utilities)
        for spec in PARTNERS:
            ensure_partner(spec=spec, utilities=utilities)
        for spec in ACCESS_REQUESTS:
            ensure_access_request(spec=spec, utilities=utilities)
        for spec in LOGINS:
            ensure_login(spec=spec, password_hash=password_hash)
    for spec in UTILITIES:
        report.customers_created += ensure_customers(
            utility=utilities[spec.slug], spec=spec, count=customers_per_utility
        )
    _seed_fleet(utilities=utilities)
    from demo.authorizations import ensure_demo_codes
    from demo.billing import ensure_demo_billing
    from demo.events import ensure_demo_events
    from demo.incentives import ensure_demo_incentives
    from demo.interconnection import ensure_demo_interconnection
    from demo.programs import ensure_demo_programs

    for spec in UTILITIES:
        report.authorization_codes += ensure_demo_codes(utility=utilities[spec.slug])
        ensure_demo_programs(utility=utilities[spec.slug])
        ensure_demo_interconnection(utility=utilities[spec.slug])
        ensure_demo_incentives(utility=utilities[spec.slug])
        analyze_seeded_tables()
        ensure_demo_events(utility=utilities[spec.slug])
        ensure_demo_billing(utility=utilities[spec.slug])
    report.logins = login_rows(LOGINS)
    return report


def _seed_fleet(*, utilities: dict[str, Utility]) -> None:
    """The demo fleet, and the fleet simulator as every demo partner's cloud (a webhook
    adapter at 127.0.0.1:8100 and API credentials for the simulator)."""
    from demo.fleet import ensure_demo_fleet
    from demo.simulator import ensure_demo_simulator

    partners = {spec.slug: AutomakerPartner.objects.get(slug=spec.slug) for spec in PARTNERS}
    for utility_spec in UTILITIES:
        ensure_demo_fleet(
            utility=utilities[utility_spec.slug],
            partners=[partners[p.slug] for p in PARTNERS if utility_spec.slug in p.agreements],
        )
    for spec in PARTNERS:
        ensure_demo_simulator(
            partner=partners[spec.slug], utilities=[utilities[s] for s in spec.agreements]
        )


def seed_scale_tenant(*, customers: int) -> SeedReport:
    """The benchmark tenant with ``customers`` customers and customers/10 audit rows, plus a
    program admin and an auditor. Tops up an existing one; never removes rows."""
    report = SeedReport()
    password_hash = make_password(DEMO_PASSWORD)
    with transaction.atomic():
        utility = ensure_utility(spec=SCALE_UTILITY)
        for spec in SCALE_LOGINS:
            ensure_login(spec=spec, password_hash=password_hash)
    report.customers_created = ensure_customers(
        utility=utility, spec=SCALE_UTILITY, count=customers
    )
    audit_created = ensure_scale_audit_trail(utility=utility, count=customers // 10)
    if report.customers_created or audit_created:
        refresh_planner_statistics(model_classes=[ServiceAccount, AuditEvent])
    report.logins = login_rows(SCALE_LOGINS)
    return report


def analyze_seeded_tables() -> None:
    """Fresh statistics for the tables the demo's past events read (the planner's inputs,
    M&V's rollups): bulk-seeded rows are invisible to the planner until autovacuum analyses
    them, and inside one transaction (a test) it never does."""
    tables = ", ".join(model._meta.db_table for model in (TelemetryRollup, Vehicle, Enrollment))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")  # noqa: S608 - table names from the models

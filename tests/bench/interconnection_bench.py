"""Interconnection rows for `make bench`: the review queue and the report of a tenant with
20,000 applications. ``seed_applications`` fills the benchmark tenant (idempotent: it tops
up to the target) with applications spread over every stage, their SLA clocks and
transitions, written with bulk_create. Wire it into tests/bench/run.py (see CASES)."""

from __future__ import annotations

import random
from datetime import timedelta

APPLICATIONS = 20_000
BATCH = 2_000


def cases(case_class) -> list:
    """Rows for run.py's CASES (``case_class`` is run.py's Case)."""
    return [
        case_class("interconnection queue", "/u/{slug}/interconnection/", login="auditor"),
        case_class(
            "interconnection queue, page 100",
            "/u/{slug}/interconnection/?page=100",
            login="auditor",
        ),
        case_class(
            "interconnection queue, due soon",
            "/u/{slug}/interconnection/?sla=due_soon",
            login="auditor",
        ),
        case_class("interconnection report", "/u/{slug}/interconnection/report/", login="auditor"),
    ]


def seed_applications(*, utility_slug: str, target: int = APPLICATIONS) -> int:
    """Top the tenant up to ``target`` applications; returns how many were added."""
    from django.db import transaction
    from django.utils import timezone
    from django_scopes import scope

    from enrollment.interconnection.models import InterconnectionApplication as Application
    from enrollment.interconnection.models import SlaClock
    from portal.customers.models import ServiceAccount
    from portal.models import AHJ, AHJTerritory, InstallerApproval, InstallerCompany, Utility

    utility = Utility.objects.get(slug=utility_slug)
    rng = random.Random(1547)
    with scope(utility=utility.pk), transaction.atomic():
        existing = Application.objects.count()
        if existing >= target:
            return 0
        installers = []
        for i in range(8):
            company, _ = InstallerCompany.objects.get_or_create(
                slug=f"bench-installer-{i}",
                defaults={"name": f"Bench Installer {i}", "license_number": f"B-{900000 + i}"},
            )
            InstallerApproval.objects.get_or_create(utility=utility, installer=company)
            installers.append(company)
        ahjs = []
        for i in range(4):
            ahj, _ = AHJ.objects.get_or_create(
                slug=f"bench-ahj-{i}",
                defaults={
                    "name": f"Bench City {i} Building Dept",
                    "jurisdiction": f"Bench City {i}",
                },
            )
            AHJTerritory.objects.get_or_create(utility=utility, ahj=ahj)
            ahjs.append(ahj)
        account_ids = list(ServiceAccount.objects.values_list("pk", flat=True)[:target])
        if not account_ids:
            raise RuntimeError("Seed the benchmark tenant's customers first (seed_demo --scale).")
        statuses = [
            ("submitted", "permit_review", ["acknowledgement", "permit"]),
            ("completeness_review", "permit_review", ["completeness", "permit"]),
            ("needs_info", "permit_issued", ["completeness"]),
            ("technical_review", "permit_issued", ["technical_review"]),
            ("approved_to_install", "permit_issued", []),
            ("installed", "inspection_requested", ["pto", "inspection"]),
            ("pto_granted", "inspection_passed", []),
        ]
        now = timezone.now()
        today = timezone.localdate(now, utility.tzinfo)
        added = 0
        while existing + added < target:
            apps = []
            for _ in range(min(BATCH, target - existing - added)):
                status, permit, _ = rng.choice(statuses)
                submitted = now - timedelta(days=rng.randint(1, 150))
                apps.append(
                    Application(
                        utility=utility,
                        installer=rng.choice(installers),
                        ahj=rng.choice(ahjs),
                        service_account_id=rng.choice(account_ids),
                        configuration=rng.choice(["grid_parallel_v2h", "v2g", "backup_v2h"]),
                        review_path="full",
                        status=status,
                        permit_status=permit,
                        requested_export_kw=9.6,
                        nameplate_kw=11.5,
                        deficiency_rounds=rng.choice([0, 0, 0, 1, 2]),
                        submitted_at=submitted,
                        created_at=submitted,
                        pto_at=now if status == "pto_granted" else None,
                        business_days_to_pto=rng.randint(20, 110)
                        if status == "pto_granted"
                        else None,
                    )
                )
            Application.objects.bulk_create(apps, batch_size=BATCH)
            clocks = []
            for app in apps:
                app.reference = f"IC-{utility.pk}-{app.pk:06d}"
                open_stages = dict(statuses_by_name(statuses))[app.status]
                for stage in ("acknowledgement", "completeness", "permit"):
                    if stage in open_stages:
                        continue
                    days = rng.randint(0, 25)
                    clocks.append(_clock(SlaClock, app, stage, today, days, stopped=True))
                for stage in open_stages:
                    clocks.append(
                        _clock(SlaClock, app, stage, today, rng.randint(-3, 20), stopped=False)
                    )
            Application.objects.bulk_update(apps, ["reference"], batch_size=BATCH)
            SlaClock.objects.bulk_create(clocks, batch_size=BATCH)
            added += len(apps)
        return added


def statuses_by_name(statuses):
    return [(status, stages) for status, _, stages in statuses]


def _clock(model, app, stage, today, days, *, stopped):
    track = "ahj" if stage in ("permit", "inspection") else "utility"
    started = today - timedelta(days=abs(days) + 5)
    due = today + timedelta(days=days) if not stopped else started + timedelta(days=7)
    return model(
        utility_id=app.utility_id,
        application=app,
        track=track,
        stage=stage,
        started_on=started,
        target_business_days=5,
        due_on=due,
        stopped_on=today if stopped else None,
        elapsed_business_days=days if stopped else None,
        breached=(days > 5) if stopped else None,
    )

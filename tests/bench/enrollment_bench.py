"""Enrollment benchmarks: the enrollment queue with 100,000 enrollments (server time and query
count, target ≤ 300 ms and a constant number of queries) and bulk eligibility re-evaluation
(target ≥ 1,000 enrollments/s). Run with `python tests/bench/enrollment_bench.py` (or from
`make bench`).

Uses the database the environment names (DATABASE_URL), like tests/bench/run.py, whose
measuring and printing it reuses. Seeds the benchmark tenant (`seed_demo --scale N`) when it
has fewer customers than asked, then tops it up with bench vehicles and enrollments made with
bulk_create (deterministic, so a second run adds nothing). The re-evaluation bump changes only
the bench programs' rules version. Prints tables and the two targets; asserts nothing.

``run_enrollment_benchmarks()`` does the measuring after ``django.setup()``, for
tests/bench/run.py to call like the device benchmarks.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.run import BASELINE, Case, measure, print_table  # noqa: E402

QUEUE_PROGRAM = "bench-queue"
REEVAL_PROGRAM = "bench-reevaluation"
PARTNER_NAME = "Bench Motors"
BATCH = 5000
QUEUE_TARGET_MS = 300.0
RATE_TARGET = 1000.0

CASES: list[Case] = [
    BASELINE,
    Case("enrollment queue", "/u/{slug}/enrollments/"),
    Case("queue, page 1000", "/u/{slug}/enrollments/?page=1000"),
    Case("queue, in review", "/u/{slug}/enrollments/?status=eligibility_review"),
    Case("queue, failed rule", "/u/{slug}/enrollments/?failed_rule=territory"),
    Case("queue, program", "/u/{slug}/enrollments/?program={program_pk}"),
    Case("queue, partner + status", "/u/{slug}/enrollments/?partner={partner_pk}&status=active"),
    Case("queue search, account no.", "/u/{slug}/enrollments/?q={account_number}"),
    Case("queue search, VIN", "/u/{slug}/enrollments/?q={vin}"),
    Case("enrollment detail", "/u/{slug}/enrollments/{enrollment_pk}/"),
    Case("program list", "/u/{slug}/programs/"),
    Case("program detail", "/u/{slug}/programs/{program_pk}/"),
]


def bench_vin(index: int) -> str:
    from devices.vin import with_check_digit

    return with_check_digit(f"7BNCHV2X0{index:08d}")


def status_for(index: int) -> tuple[str, list[str]]:
    """A realistic mix: mostly active, some in review (with a failed rule), waitlisted,
    awaiting interconnection, suspended and withdrawn."""
    bucket = index % 20
    if bucket < 13:
        return "active", []
    if bucket < 15:
        return "eligibility_review", ["territory" if bucket == 13 else "smart_meter"]
    if bucket < 17:
        return "waitlisted", []
    if bucket == 17:
        return "awaiting_interconnection", ["permission_to_operate"]
    if bucket == 18:
        return "suspended", []
    return "withdrawn", []


def eligibility_rows(failed: list[str]) -> list[dict]:
    from enrollment.eligibility import RULE_LABELS

    return [
        {"rule": rule, "passed": rule not in failed, "detail": f"{RULE_LABELS[rule]} checked."}
        for rule in RULE_LABELS
    ]


def ensure_bench_data(*, enrollments: int, reevaluated: int) -> dict:
    """Bench programs, vehicles and enrollments in the scale tenant (only what is missing)."""
    from django.db import transaction
    from django.utils import timezone
    from django_scopes import scope

    from demo.organizations import SCALE_SLUG
    from demo.scale import refresh_planner_statistics
    from devices.models import Vehicle
    from enrollment.models import Enrollment, Program
    from portal.customers.models import ServiceAccount
    from portal.models import AutomakerPartner, PartnerAgreement, Utility

    utility = Utility.objects.get(slug=SCALE_SLUG)
    partner, _ = AutomakerPartner.objects.get_or_create(
        slug="bench-motors", defaults={"name": PARTNER_NAME}
    )
    with scope(utility=utility.pk):
        PartnerAgreement.objects.get_or_create(utility=utility, partner=partner)
        queue_program, _ = Program.objects.get_or_create(
            utility=utility,
            slug=QUEUE_PROGRAM,
            defaults={"name": "Bench V2H", "kind": "v2h", "status": "open"},
        )
        reeval_program, _ = Program.objects.get_or_create(
            utility=utility,
            slug=REEVAL_PROGRAM,
            defaults={
                "name": "Bench managed charging",
                "kind": "v1g",
                "status": "open",
                "require_approved_equipment": False,
            },
        )
        accounts = list(ServiceAccount.objects.order_by("pk").values_list("pk", flat=True))
        if not accounts:
            raise SystemExit("The scale tenant has no customers; seed it first.")
        have_vehicles = Vehicle.objects.filter(partner=partner).count()
        wanted = max(enrollments, reevaluated)
        now = timezone.now()
        for start in range(have_vehicles, wanted, BATCH):
            with transaction.atomic():
                Vehicle.objects.bulk_create(
                    [
                        Vehicle(
                            utility=utility,
                            vin=bench_vin(i),
                            partner=partner,
                            partner_vehicle_id=f"bench-{i}",
                            model="F-150 Lightning",
                            model_year=2024,
                            usable_battery_kwh=131,
                            supports_v2h=True,
                            max_charge_kw=19.2,
                            max_discharge_kw=9.6,
                            service_account_id=accounts[i % len(accounts)],
                        )
                        for i in range(start, min(start + BATCH, wanted))
                    ],
                    batch_size=1000,
                )
        vehicles = list(
            Vehicle.objects.filter(partner=partner)
            .order_by("pk")
            .values_list("pk", "service_account_id")[:wanted]
        )

        def top_up(program, count: int, *, mixed: bool) -> None:
            have = Enrollment.objects.filter(program=program).count()
            for start in range(have, count, BATCH):
                rows = []
                for i in range(start, min(start + BATCH, count)):
                    status, failed = status_for(i) if mixed else ("active", [])
                    vehicle_pk, account_pk = vehicles[i]
                    rows.append(
                        Enrollment(
                            utility=utility,
                            program=program,
                            service_account_id=account_pk,
                            vehicle_id=vehicle_pk,
                            partner=partner,
                            channel="automaker_app",
                            status=status,
                            eligibility=eligibility_rows(failed),
                            failed_rules=failed,
                            eligibility_rules_version=program.rules_version,
                            evaluated_at=now,
                            waitlisted_at=now if status == "waitlisted" else None,
                            activated_at=now if status in ("active", "suspended") else None,
                        )
                    )
                with transaction.atomic():
                    Enrollment.objects.bulk_create(rows, batch_size=1000)

        top_up(queue_program, enrollments, mixed=True)
        top_up(reeval_program, reevaluated, mixed=False)
        sample = (
            Enrollment.objects.filter(program=queue_program)
            .select_related("service_account", "vehicle")
            .order_by("pk")[enrollments // 2]
        )
        refresh_planner_statistics(model_classes=[Vehicle, Enrollment])
        return {
            "slug": SCALE_SLUG,
            "program_pk": str(queue_program.pk),
            "reeval_program_pk": reeval_program.pk,
            "partner_pk": str(partner.pk),
            "enrollment_pk": str(sample.pk),
            "account_number": sample.service_account.account_number,
            "vin": sample.vehicle.vin,
            "utility_pk": utility.pk,
        }


def bench_reevaluation(*, utility_pk: int, program_pk: int, rounds: int) -> list[tuple[int, float]]:
    """Bump the program's rules version and re-evaluate all its open enrollments, ``rounds``
    times: (enrollments evaluated, seconds) per round."""
    from django.db.models import F
    from django_scopes import scope

    from enrollment import services
    from enrollment.models import Program

    results = []
    with scope(utility=utility_pk):
        for _ in range(rounds):
            Program.objects.filter(pk=program_pk).update(rules_version=F("rules_version") + 1)
            started = time.perf_counter()
            report = services.reevaluate_program(program_id=program_pk)
            results.append((report.evaluated, time.perf_counter() - started))
    return results


def run_enrollment_benchmarks(
    *,
    enrollments: int = 100_000,
    reevaluate: int = 20_000,
    rounds: int = 3,
    runs: int = 10,
    warmup: int = 2,
) -> None:
    """Top up the bench data, then print the page table and the re-evaluation rates. Call
    after ``django.setup()`` with the scale tenant seeded (as tests/bench/run.py does)."""
    from django.test import Client

    from demo.logins import SCALE_LOGINS
    from portal.models import User

    print(
        f"Topping up {enrollments:,} queue and {reevaluate:,} re-evaluation enrollments…",
        flush=True,
    )
    started = time.perf_counter()
    ctx = ensure_bench_data(enrollments=enrollments, reevaluated=reevaluate)
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)

    clients: dict[str | None, Client] = {None: Client(raise_request_exception=False)}
    for spec in SCALE_LOGINS:
        client = Client(raise_request_exception=False)
        client.force_login(User.objects.get(email=spec.email))
        clients[spec.email.split("@")[0]] = client
    results = [measure(case, clients=clients, ctx=ctx, runs=runs, warmup=warmup) for case in CASES]
    print()
    print_table(
        results,
        title=(
            f"Enrollment pages, tenant '{ctx['slug']}' with {enrollments:,} bench enrollments "
            f"on PostgreSQL; {runs} runs after {warmup} warm-up"
        ),
    )
    pages = [r for r in results if r.case is not BASELINE]
    worst = max(pages, key=lambda r: r.median_ms)
    verdict = "met" if worst.median_ms <= QUEUE_TARGET_MS else "NOT met"
    print(
        f"Target ≤ {QUEUE_TARGET_MS:.0f} ms per page: {verdict} "
        f"(slowest: {worst.case.label}, median {worst.median_ms:.1f} ms)"
    )

    measured = bench_reevaluation(
        utility_pk=ctx["utility_pk"], program_pk=ctx["reeval_program_pk"], rounds=rounds
    )
    print()
    print("Bulk eligibility re-evaluation on PostgreSQL")
    for number, (evaluated, seconds) in enumerate(measured, start=1):
        rate = evaluated / seconds if seconds else float("inf")
        print(f"  round {number}: {evaluated:,} enrollments in {seconds:.2f} s = {rate:,.0f}/s")
    best = max(e / s for e, s in measured if s)
    verdict = "met" if best >= RATE_TARGET else "NOT met"
    print(f"Target ≥ {RATE_TARGET:,.0f} enrollments/s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000, help="customers in the tenant")
    parser.add_argument("--enrollments", type=int, default=100_000, help="enrollments in the queue")
    parser.add_argument(
        "--reevaluate", type=int, default=20_000, help="enrollments in the re-evaluation bench"
    )
    parser.add_argument("--rounds", type=int, default=3, help="re-evaluation rounds")
    parser.add_argument("--runs", type=int, default=10, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from demo.scale import scale_customer_count

    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    logging.getLogger("django.request").setLevel(logging.CRITICAL)

    call_command("migrate", interactive=False, verbosity=0)
    if scale_customer_count() < args.customers:
        print(f"Seeding the benchmark tenant with {args.customers} customers…", flush=True)
        call_command("seed_demo", scale=args.customers, stdout=io.StringIO())
    run_enrollment_benchmarks(
        enrollments=args.enrollments,
        reevaluate=args.reevaluate,
        rounds=args.rounds,
        runs=args.runs,
        warmup=args.warmup,
    )


if __name__ == "__main__":
    main()

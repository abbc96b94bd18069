"""Page benchmarks: server time and query count for a large tenant. Run with `make bench`.

Uses the database the environment names (DATABASE_URL; default the embedded PostgreSQL),
migrates it, and seeds the benchmark tenant with `seed_demo --scale N` when it holds fewer
than N customers. Each case is requested in-process through django.test.Client (the whole
middleware, view and template stack, no network), warmed up, then timed; the query count
comes from one extra request under CaptureQueriesContext. Prints one table; asserts nothing.

To add a row, append a Case to CASES. Paths are formatted with the names in `context()`.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


@dataclass(frozen=True)
class Case:
    label: str
    path: str  # formatted with context(), e.g. "/u/{slug}/customers/"
    login: str | None = "admin"  # the scale tenant's "admin" or "auditor", or None: anonymous


BASELINE = Case("baseline: /healthz", "/healthz", login=None)

CASES: list[Case] = [
    BASELINE,
    Case("dashboard", "/u/{slug}/"),
    Case("customer list", "/u/{slug}/customers/"),
    Case("customer list, page 1000", "/u/{slug}/customers/?page=1000"),
    Case("customer search, name", "/u/{slug}/customers/?q={last_name}"),
    Case("customer search, account no.", "/u/{slug}/customers/?q={account_number}"),
    Case("audit trail", "/u/{slug}/audit/"),
]


@dataclass
class Result:
    case: Case
    status: str
    median_ms: float
    p95_ms: float
    queries: int


def context(scale: int) -> dict[str, str]:
    """Values the case paths may use, derived from the deterministic demo data."""
    from demo.customers import build_customer
    from demo.organizations import SCALE_SLUG, SCALE_UTILITY
    from portal.models import Utility

    utility = Utility.objects.get(slug=SCALE_SLUG)
    sample = build_customer(utility=utility, spec=SCALE_UTILITY, index=max(scale // 2, 1))
    return {
        "slug": SCALE_SLUG,
        "last_name": sample.customer_name.split()[-1] if sample.customer_name else "",
        "account_number": sample.account_number,
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def measure(case: Case, *, clients: dict, ctx: dict[str, str], runs: int, warmup: int) -> Result:
    from django.core.signals import got_request_exception
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = clients[case.login]
    path = case.path.format(**ctx)
    errors: list[str] = []

    def note_error(sender, request=None, **kwargs):
        errors.append(sys.exc_info()[0].__name__ if sys.exc_info()[0] else "error")

    got_request_exception.connect(note_error)
    try:
        for _ in range(warmup):
            client.get(path, secure=True)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path, secure=True)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(path, secure=True)
    finally:
        got_request_exception.disconnect(note_error)
    status = str(response.status_code)
    if errors:
        status += f" {errors[-1]}"
    return Result(
        case=case,
        status=status,
        median_ms=statistics.median(timings),
        p95_ms=percentile(timings, 0.95),
        queries=len(queries),
    )


def print_table(results: list[Result], *, title: str) -> None:
    baseline = next((r for r in results if r.case is BASELINE), None)
    headers = ("page", "status", "median ms", "p95 ms", "queries", "× baseline")
    rows = []
    for r in results:
        ratio = r.median_ms / baseline.median_ms if baseline and baseline.median_ms else math.nan
        rows.append(
            (
                r.case.label,
                r.status,
                f"{r.median_ms:.1f}",
                f"{r.p95_ms:.1f}",
                str(r.queries),
                f"{ratio:.1f}",
            )
        )
    widths = [max(len(c) for c in col) for col in zip(headers, *rows, strict=False)]
    aligns = ["<", "<", ">", ">", ">", ">"]

    def fmt(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, aligns, widths, strict=False))

    print(title)
    print(fmt(headers))
    print(fmt(["-" * w for w in widths]))
    for row in rows:
        print(fmt(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=100_000, help="customers in the tenant")
    parser.add_argument("--runs", type=int, default=10, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from demo.logins import SCALE_LOGINS
    from demo.organizations import SCALE_SLUG
    from demo.scale import scale_customer_count
    from portal.models import User

    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # A failing page shows as its status and exception name in the table, not a traceback.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)

    call_command("migrate", interactive=False, verbosity=0)
    if scale_customer_count() < args.scale:
        print(f"Seeding the benchmark tenant with {args.scale} customers…", flush=True)
        started = time.perf_counter()
        call_command("seed_demo", scale=args.scale, stdout=io.StringIO())
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)

    clients: dict[str | None, Client] = {None: Client(raise_request_exception=False)}
    for spec in SCALE_LOGINS:
        client = Client(raise_request_exception=False)
        client.force_login(User.objects.get(email=spec.email))
        clients[spec.email.split("@")[0]] = client

    from tests.bench.interconnection_bench import cases as interconnection_cases
    from tests.bench.interconnection_bench import seed_applications

    seed_applications(utility_slug=SCALE_SLUG)
    ctx = context(scale_customer_count())
    results = [
        measure(case, clients=clients, ctx=ctx, runs=args.runs, warmup=args.warmup)
        for case in [*CASES, *interconnection_cases(Case)]
    ]
    print()
    print_table(
        results,
        title=(
            f"Tenant '{SCALE_SLUG}' with {scale_customer_count():,} customers on "
            f"PostgreSQL; {args.runs} runs after {args.warmup} warm-up, in-process (django.test.Client)"
        ),
    )

    from tests.bench.token_bench import run_token_benchmarks

    run_token_benchmarks(utility_slug=SCALE_SLUG)

    from tests.bench.devices_bench import run_device_benchmarks

    run_device_benchmarks()

    from tests.bench.enrollment_bench import run_enrollment_benchmarks

    run_enrollment_benchmarks()

    from tests.bench.dispatch_bench import run_planning_benchmark

    run_planning_benchmark()

    from tests.bench.dispatch_delivery_bench import run_delivery_benchmark

    run_delivery_benchmark()

    from tests.bench.billing_bench import run_settlement_benchmark

    run_settlement_benchmark()


if __name__ == "__main__":
    main()

"""Dispatch delivery benchmark: from activating an event over 100,000 vehicles until
the fleet simulator has accepted every command the event issued, over HTTP, through two real
Celery worker processes.

The fleet (service account, charger, vehicle, enrollment, fresh latest state per vehicle) is
built in bulk the first time and reused after. The fleet simulator runs in this process on a
free loopback port (no rejections, no opt-outs, its clock ticking once an hour so only requests
use it); the agreement's webhook points at it. Then the clock starts: ``dispatch.activate_event``
is sent to the broker, two workers plan the event, issue its commands and deliver them in
signed batches; the clock stops when every command of the event is ``accepted`` in the portal.
The simulator's own record must then show each of those command ids carried out exactly once.

The baseline, measured in the same run before the workers start: the same number of commands,
in batches of the agreement's size, signed and POSTed by one plain ``requests`` loop straight
to the simulator — the HTTP, signing and simulator cost without the portal (queue, database,
broker, audit).

``run_delivery_benchmark()`` prints one table; call it after ``django.setup()`` (as
tests/bench/run.py does), or run this file: ``python tests/bench/dispatch_delivery_bench.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

FLEET_SIZE = 100_000
WORKERS = 2
TARGET_S = 60.0
BENCH_SLUG = "bench-dispatch"
BENCH_PARTNER = "Bench Dispatch Motors"
PARTNER_SLUG = "bench-dispatch-motors"
FLEET_CODE = "BDM"
BATCH = 500  # AdapterConfig.max_batch_size's default; the simulator takes up to 5,000
TIMEOUT_S = 600.0  # give up waiting after this long (the row then says so)


def ensure_fleet(size: int):
    """The benchmark utility, partner, webhook agreement, program and ``size`` vehicles
    (only what is missing is built)."""
    from django.db import connection
    from django_scopes import scopes_disabled

    from devices.models import Vehicle
    from enrollment.models import Enrollment
    from portal.models import AutomakerPartner, Utility
    from tests.dispatch import fleet_support

    utility, _ = Utility.objects.get_or_create(
        slug=BENCH_SLUG,
        defaults={"name": "Benchmark Dispatch Utility", "time_zone": "America/Los_Angeles"},
    )
    partner, _ = AutomakerPartner.objects.get_or_create(
        slug=PARTNER_SLUG, defaults={"name": BENCH_PARTNER}
    )
    agreement = fleet_support.webhook_agreement(
        utility=utility, partner=partner, timeout_seconds=30, max_attempts=5
    )
    program = fleet_support.open_v2h_program(utility, slug="bench-dispatch-v2h")
    with scopes_disabled():
        have = Vehicle.objects.filter(utility=utility, partner=partner).count()
    if have < size:
        print(f"Building {size - have:,} benchmark vehicles in bulk…", flush=True)
        started = time.perf_counter()
        fleet_support.build_fleet(
            utility=utility,
            partner=partner,
            program=program,
            size=size - have,
            start=have,
            code=FLEET_CODE,
        )
        # Fresh statistics, as a database that grew over months has: the planner's choices
        # for the event's queries depend on them.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    # Exactly ``size`` vehicles take part: the first ones, by id (a larger fleet built by an
    # earlier run keeps its other enrollments suspended).
    with scopes_disabled():
        enrollments = Enrollment.objects.filter(program=program).order_by("vehicle_id")
        cutoff = enrollments.values_list("vehicle_id", flat=True)[size - 1 : size].first()
        enrollments.filter(vehicle_id__lte=cutoff).update(status=Enrollment.Status.ACTIVE)
        enrollments.filter(vehicle_id__gt=cutoff).update(status=Enrollment.Status.SUSPENDED)
    return utility, partner, agreement, program


def _reset(utility, agreement, *, batch: int) -> None:
    """A clean slate for a run: no commands or plans from earlier runs, a closed circuit,
    the batch size asked for."""
    from django_scopes import scopes_disabled

    from devices.models import AdapterConfig, DeviceCommand
    from dispatch.models import Event

    with scopes_disabled():
        DeviceCommand.objects.filter(utility=utility).delete()
        Event.objects.filter(utility=utility).delete()
        AdapterConfig.objects.filter(agreement=agreement).update(
            circuit_state=AdapterConfig.Circuit.CLOSED,
            circuit_opened_at=None,
            consecutive_failures=0,
            max_batch_size=batch,
        )


def raw_post_baseline(*, endpoint: str, secret: str, utility_slug: str, commands: int, batch: int):
    """Seconds for one client to POST ``commands`` fresh commands in signed batches of
    ``batch`` straight to the simulator (bodies built before the clock starts)."""
    import requests

    from devices.adapters.signing import signed_headers

    starts = datetime.now(UTC) + timedelta(hours=1)
    window = {
        "starts_at": starts.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "ends_at": (starts + timedelta(hours=1))
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
    }
    run = uuid.uuid4().hex[:8]
    bodies = []
    for start in range(0, commands, batch):
        items = [
            {
                "command_id": f"baseline-{run}-{n}",
                "vehicle_id": f"{FLEET_CODE.lower()}-{n}",
                "vin": "",
                "kind": "discharge",
                "setpoint_kw": -7.2,
                **window,
                "event_id": "baseline",
            }
            for n in range(start, min(start + batch, commands))
        ]
        bodies.append(
            json.dumps(
                {"batch_id": f"{run}-{start}", "utility": utility_slug, "commands": items},
                separators=(",", ":"),
            ).encode()
        )
    accepted = 0
    with requests.Session() as session:
        session.trust_env = False
        started = time.perf_counter()
        for body in bodies:
            response = session.post(
                f"{endpoint}/commands",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    **signed_headers(secret=secret, body=body),
                },
                timeout=60,
            )
            response.raise_for_status()
            accepted += sum(r["status"] == "accepted" for r in response.json()["results"])
        seconds = time.perf_counter() - started
    if accepted != commands:
        raise RuntimeError(f"The simulator accepted {accepted} of {commands} baseline commands.")
    return seconds


def _event_status_counts(event) -> dict[str, int]:
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from devices.models import DeviceCommand

    with scopes_disabled():
        rows = (
            DeviceCommand.objects.filter(source_type="dispatch.event", source_id=str(event.pk))
            .order_by()
            .values("status")
            .annotate(n=Count("pk"))
        )
        return {row["status"]: row["n"] for row in rows}


def _waiting(event, partner) -> int:
    """How many of the event's commands still wait for an answer (pending or sent)."""
    from django_scopes import scopes_disabled

    from devices.models import DeviceCommand

    waiting = (DeviceCommand.Status.PENDING, DeviceCommand.Status.SENT)
    with scopes_disabled():
        return DeviceCommand.objects.filter(
            partner=partner,
            status__in=waiting,
            source_type="dispatch.event",
            source_id=str(event.pk),
        ).count()


def delivery_rows(*, fleet: int = FLEET_SIZE, workers: int = WORKERS, batch: int = BATCH):
    from django.conf import settings
    from django_scopes import scopes_disabled

    from devices.models import AdapterAttempt, AdapterConfig, DeviceCommand
    from devices.simulator.state import Behaviour
    from dispatch.models import EventPlanRun
    from dispatch.tasks import activate_event
    from tests.bench.devices_bench import Row
    from tests.devices.simulator_support import running_simulator
    from tests.dispatch import fleet_support
    from tests.worker import celery_worker

    utility, partner, agreement, program = ensure_fleet(fleet)
    _reset(utility, agreement, batch=batch)
    fleet_support.refresh_states(utility=utility)
    with scopes_disabled():
        config = AdapterConfig.objects.get(agreement=agreement)
    hour = 3600.0
    with running_simulator(
        utility_slugs=[BENCH_SLUG],
        partner_names=[PARTNER_SLUG],
        behaviour=Behaviour(reject_rate=0.0, opt_out_rate=0.0),
        telemetry_interval=hour,
        step_seconds=hour,
    ) as sim:
        endpoint = sim.endpoint(PARTNER_SLUG)
        fleet_support.point_at(agreement, endpoint)
        baseline_s = raw_post_baseline(
            endpoint=endpoint,
            secret=config.signing_secret,
            utility_slug=BENCH_SLUG,
            commands=fleet,
            batch=config.max_batch_size,
        )
        event = fleet_support.notified_event(program, duration_minutes=60)
        with scopes_disabled():
            attempts_before = AdapterAttempt.objects.filter(agreement=agreement).count()
        with ExitStack() as running:
            for n in range(workers):
                running.enter_context(celery_worker(name=f"bench-{n}"))
            started = time.perf_counter()
            activate_event.delay(utility_id=utility.pk, event_id=event.pk)
            issued_at = None
            counts: dict[str, int] = {}
            deadline = started + TIMEOUT_S
            while time.perf_counter() < deadline:
                time.sleep(0.25)
                if issued_at is None:
                    with scopes_disabled():
                        if EventPlanRun.objects.filter(event=event).exists():
                            issued_at = time.perf_counter()
                    continue
                # Cheap while the queue drains (the partial index holds only waiting
                # commands): counting all 100,000 by status four times a second would take
                # the CPU the workers and the simulator need.
                if not _waiting(event, partner):
                    break
            finished = time.perf_counter()
            counts = _event_status_counts(event)
        total = sum(counts.values())
        accepted = counts.get(DeviceCommand.Status.ACCEPTED, 0)
        (simulated,) = sim.cloud.agreements
        with scopes_disabled():
            ids = set(
                DeviceCommand.objects.filter(
                    source_type="dispatch.event", source_id=str(event.pk)
                ).values_list("idempotency_key", flat=True)
            )
            calls = AdapterAttempt.objects.filter(agreement=agreement).count() - attempts_before
        with sim.cloud.lock:
            actuated = {cid: simulated.actuations[cid] for cid in ids}
            arrivals = sum(simulated.received[cid] for cid in ids)
    once = sum(n == 1 for n in actuated.values())
    delivery_s = finished - (issued_at or finished)
    delivery_rate = accepted / delivery_s if delivery_s else 0.0
    done = accepted == total > 0 and once == total
    seconds = finished - started
    activation_s = (issued_at or finished) - started
    rate = accepted / seconds if seconds else 0.0
    baseline_rate = fleet / baseline_s
    ratio = rate / baseline_rate if baseline_rate else 0.0
    shape = f"batches of {config.max_batch_size}"
    log_hint = "" if done else f"; worker logs under {settings.VAR_DIR}"
    return [
        Row(
            "baseline: raw signed POST loop, 1 client",
            f"{baseline_rate:,.0f} cmd/s",
            "",
            "",
            f"{fleet:,} commands in {baseline_s:.1f} s, {shape}",
        ),
        Row(
            f"activation → all accepted, {workers} workers",
            f"{seconds:.1f} s",
            f"≤ {TARGET_S:.0f} s",
            "ok" if done and seconds <= TARGET_S else "MISSED",
            f"{accepted:,} of {total:,} accepted; planning + issuing {activation_s:.1f} s"
            f"{log_hint}",
        ),
        Row(
            "delivery only: issued → all accepted",
            f"{delivery_s:.1f} s",
            "",
            "",
            f"{delivery_rate:,.0f} cmd/s; × baseline {delivery_rate / baseline_rate:.2f}",
        ),
        Row(
            "delivered commands/s (whole run)",
            f"{rate:,.0f} cmd/s",
            "",
            "",
            f"{calls:,} calls; × baseline {ratio:.2f}",
        ),
        Row(
            "carried out exactly once (simulator)",
            f"{once:,} of {total:,}",
            "all",
            "ok" if done else "MISSED",
            f"{arrivals - len(ids):,} repeated arrivals, answered from memory",
        ),
    ]


def run_delivery_benchmark(*, fleet: int = FLEET_SIZE, workers: int = WORKERS, batch: int = BATCH):
    from django.conf import settings

    from tests.bench.devices_bench import print_rows

    print()
    rows = delivery_rows(fleet=fleet, workers=workers, batch=batch)
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    print_rows(
        rows,
        title=(
            f"Dispatch delivery on PostgreSQL: {fleet:,} vehicles, {workers} Celery "
            f"workers on {broker}, fleet simulator over HTTP"
        ),
    )
    return rows


def main() -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", type=int, default=FLEET_SIZE)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--batch", type=int, default=BATCH, help="the agreement's batch size")
    args = parser.parse_args()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    run_delivery_benchmark(fleet=args.fleet, workers=args.workers, batch=args.batch)


if __name__ == "__main__":
    main()

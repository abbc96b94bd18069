"""Device benchmarks: telemetry ingest through the real HTTP API against a raw COPY
of as many rows into the same table, and the latest state of a 100,000-vehicle fleet.

* Telemetry ingest: a real web server process (``manage.py runserver --noreload``, DEBUG
  off) on the same database, a partner client issued by ``create_partner_client``, its token
  from /o/token/, and ``requests`` posting batches of 5,000 readings (1,000 vehicles × 5
  minutes, as a partner cloud uploading every 5 minutes would) — validation, normalization,
  de-duplication, storage, latest state and rollups included. The bodies are encoded before
  the clock starts: the client's own JSON work is not the portal's. The baseline COPYs the
  same readings (two days earlier) into the same table, 5,000 per transaction, alternating
  batch by batch with the API so that both meet the same load on a shared machine.
* Latest state: ``devices.selectors.latest_states`` for every vehicle of a 100,000-vehicle
  tenant (seeded in bulk the first time), median of a few runs.

``run_device_benchmarks()`` prints one table; call it after ``django.setup()`` (as
tests/bench/run.py does), or run this file: ``python tests/bench/devices_bench.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

BENCH_SLUG = "bench-devices"
BENCH_PARTNER = "Bench Motors"
FLEET_SIZE = 100_000
INGEST_VEHICLES = 1_000
INGEST_READINGS = 100_000
BATCH_SIZE = 5_000
COPY_TARGET_RATIO = 0.33
LATEST_STATE_TARGET_MS = 1_000


@dataclass(frozen=True)
class Row:
    case: str
    result: str
    target: str
    verdict: str
    note: str = ""


# --- Fixture data ---------------------------------------------------------------------------


def bench_vin(n: int) -> str:
    from devices.vin import with_check_digit

    return with_check_digit(f"7ZZBENCH0{n:08d}")


def ensure_fleet(size: int):
    """The benchmark utility, partner (with an agreement) and ``size`` active vehicles,
    created in bulk the first time. Returns (utility, partner, vehicle ids by number)."""
    from django_scopes import scope, scopes_disabled

    from devices.models import Vehicle
    from portal.models import AutomakerPartner, PartnerAgreement, Utility

    utility, _ = Utility.objects.get_or_create(
        slug=BENCH_SLUG,
        defaults={"name": "Benchmark Devices Utility", "time_zone": "America/Los_Angeles"},
    )
    partner, _ = AutomakerPartner.objects.get_or_create(
        slug="bench-motors", defaults={"name": BENCH_PARTNER}
    )
    with scopes_disabled():
        PartnerAgreement.objects.get_or_create(utility=utility, partner=partner)
    with scope(utility=utility.pk):
        have = Vehicle.objects.filter(partner=partner).count()
        if have < size:
            print(f"Seeding {size - have:,} benchmark vehicles…", flush=True)
            for start in range(have, size, 5_000):
                Vehicle.objects.bulk_create(
                    Vehicle(
                        utility=utility,
                        partner=partner,
                        vin=bench_vin(n),
                        partner_vehicle_id=f"bench-{n}",
                        model="Bench EV",
                        model_year=2025,
                        usable_battery_kwh=80,
                        supports_v2g=True,
                        max_charge_kw=11.5,
                        max_discharge_kw=9.6,
                    )
                    for n in range(start, min(start + 5_000, size))
                )
        ids = list(
            Vehicle.objects.filter(partner=partner)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
    return utility, partner, ids


# --- Telemetry ingest -----------------------------------------------------------------------


def _minutes_per_batch(vehicles: int) -> int:
    return max(BATCH_SIZE // vehicles, 1)


def _readings(vehicles: int, total: int, base: datetime) -> list[list[dict]]:
    """Batches of wire readings: each batch the next minutes of every vehicle."""
    minutes = _minutes_per_batch(vehicles)
    batches = []
    for batch in range(total // (vehicles * minutes)):
        readings = []
        for n in range(vehicles):
            for step in range(minutes):
                minute = batch * minutes + step
                power_kw = round(((n + minute) % 21) - 9.6, 1)
                readings.append(
                    {
                        "vehicle_id": f"bench-{n}",
                        "ts": (base + timedelta(minutes=minute)).isoformat(),
                        "soc": round(20 + (n + minute) % 70, 1),
                        "power_kw": power_kw,
                        "plugged_in": True,
                        "charging_state": "charging" if power_kw >= 0 else "discharging",
                    }
                )
        batches.append(readings)
    return batches


def _clear_telemetry(utility) -> None:
    from django_scopes import scope

    from devices.models import TelemetryReading, TelemetryRollup, VehicleState

    with scope(utility=utility.pk):
        for model in (TelemetryReading, TelemetryRollup, VehicleState):
            model.objects.filter(utility=utility).delete()


class RawInsert:
    """Stores rows as plainly as PostgreSQL allows — COPY (psycopg's ``write_row``, text
    format) — one transaction per batch."""

    COLUMNS = (
        "utility_id, vehicle_id, ts, soc_pct, power_kw, plugged_in, charging_state, received_at"
    )

    def __init__(self, utility, ids: list[int], shift: timedelta):
        self.utility, self.ids, self.shift = utility, ids, shift

    def rows(self, batch: list[dict]) -> list[tuple]:
        from devices.telemetry.readings import parse_timestamp

        now = datetime.now(UTC)
        return [
            (
                self.utility.pk,
                self.ids[int(r["vehicle_id"].removeprefix("bench-"))],
                parse_timestamp(r["ts"]) - self.shift,
                r["soc"],
                r["power_kw"],
                r["plugged_in"],
                r["charging_state"],
                now,
            )
            for r in batch
        ]

    def store(self, rows: list[tuple]) -> float:
        """Seconds to store ``rows`` (prepared beforehand, like the API's request bodies)."""
        from django.db import connection, transaction

        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            sql = f"COPY devices_telemetryreading ({self.COLUMNS}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return time.perf_counter() - started


class WebServer:
    """``manage.py runserver`` in its own process against this process's database."""

    def __init__(self, log_path: Path):
        from django.conf import settings

        from tests.net import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.DATABASE_URL,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
        }

    def __enter__(self) -> WebServer:
        import requests

        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The web server exited:\n{self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/api/v1/", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"The web server never answered:\n{self.log_path.read_text()}")

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def telemetry_ingest_rows(
    *, vehicles: int = INGEST_VEHICLES, readings: int = INGEST_READINGS
) -> list[Row]:
    import requests
    from django.conf import settings

    from portal.partners import create_partner_client

    utility, _, ids = ensure_fleet(max(vehicles, 1))
    _clear_telemetry(utility)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    total_minutes = readings // vehicles
    base = now - timedelta(minutes=total_minutes + 10)
    batches = _readings(vehicles, readings, base)
    count = sum(len(batch) for batch in batches)
    bodies = [json.dumps({"readings": batch}).encode() for batch in batches]

    raw = RawInsert(utility, ids, shift=timedelta(days=2))  # the same rows, two days earlier
    raw_rows = [raw.rows(batch) for batch in batches]

    credentials = create_partner_client(
        partner_name=BENCH_PARTNER, utility_slugs=[BENCH_SLUG], scopes=["telemetry:write"]
    )
    log_path = Path(settings.VAR_DIR) / "bench-devices-server.log"
    with WebServer(log_path) as server, requests.Session() as session:
        token = session.post(
            f"{server.url}/o/token/",
            data={"grant_type": "client_credentials", "scope": "telemetry:write"},
            auth=(credentials.client_id, credentials.client_secret),
            timeout=30,
        ).json()["access_token"]
        session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )
        warm_up = json.dumps(
            {"readings": [batches[0][0] | {"ts": (base - timedelta(days=1)).isoformat()}]}
        )
        session.post(f"{server.url}/api/v1/telemetry", data=warm_up, timeout=60)

        # Alternate the two, batch by batch, so both meet the same load on a shared machine.
        accepted, api_seconds, raw_seconds = 0, 0.0, 0.0
        for body, rows in zip(bodies, raw_rows, strict=True):
            started = time.perf_counter()
            response = session.post(f"{server.url}/api/v1/telemetry", data=body, timeout=300)
            api_seconds += time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
            accepted += response.json()["accepted"]
            raw_seconds += raw.store(rows)
    if accepted != count:
        raise RuntimeError(f"Only {accepted} of {count} readings were accepted.")
    api_rate, raw_rate = count / api_seconds, count / raw_seconds
    ratio = api_rate / raw_rate
    baseline = "COPY"
    shape = f"{len(bodies)} × {BATCH_SIZE:,} readings, {vehicles:,} vehicles"
    return [
        Row(f"raw {baseline}", f"{raw_rate:,.0f} readings/s", "", "", shape),
        Row("telemetry via HTTP API", f"{api_rate:,.0f} readings/s", "", "", shape),
        Row(
            f"API ÷ raw {baseline}",
            f"{ratio:.2f}",
            f"≥ {COPY_TARGET_RATIO}",
            "ok" if ratio >= COPY_TARGET_RATIO else "MISSED",
            "",
        ),
    ]


# --- Latest state ---------------------------------------------------------------------------


def _ensure_states(utility) -> None:
    """A latest state for every benchmark vehicle that has none, in one statement."""
    from django.db import connection

    now = datetime.now(UTC)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO devices_vehiclestate (vehicle_id, utility_id, ts, soc_pct, power_kw, "
            "plugged_in, charging_state, updated_at) "
            "SELECT id, utility_id, %s, 50, 0, %s, 'idle', %s FROM devices_vehicle "
            "WHERE utility_id = %s ON CONFLICT (vehicle_id) DO NOTHING",
            [adapt(now), True, adapt(now), utility.pk],
        )


def latest_state_rows(*, fleet: int = FLEET_SIZE, runs: int = 5) -> list[Row]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scope

    from devices.selectors import latest_states

    utility, _, ids = ensure_fleet(fleet)
    _ensure_states(utility)
    rows = []
    for label, kwargs in (
        (f"latest state, all {fleet:,} vehicles", {}),
        (f"latest state, {fleet:,} vehicle ids given", {"vehicle_ids": ids}),
    ):
        timings = []
        with scope(utility=utility.pk):
            latest_states(**kwargs)  # warm-up
            for _ in range(runs):
                started = time.perf_counter()
                states = latest_states(**kwargs)
                timings.append((time.perf_counter() - started) * 1000)
            with CaptureQueriesContext(connection) as queries:
                latest_states(**kwargs)
        if len(states) < fleet:
            raise RuntimeError(f"Only {len(states)} states for {fleet} vehicles.")
        median = statistics.median(timings)
        rows.append(
            Row(
                label,
                f"{median:,.0f} ms",
                f"< {LATEST_STATE_TARGET_MS:,} ms",
                "ok" if median < LATEST_STATE_TARGET_MS else "MISSED",
                f"median of {runs}, {len(queries)} quer{'y' if len(queries) == 1 else 'ies'}",
            )
        )
    return rows


# --- Report ---------------------------------------------------------------------------------


def print_rows(rows: list[Row], *, title: str) -> None:
    headers = ("case", "result", "target", "verdict", "note")
    cells = [(r.case, r.result, r.target, r.verdict, r.note) for r in rows]
    widths = [max(len(c) for c in col) for col in zip(headers, *cells, strict=False)]
    aligns = ["<", ">", "<", "<", "<"]

    def fmt(values) -> str:
        return "  ".join(f"{v:{a}{w}}" for v, a, w in zip(values, aligns, widths, strict=False))

    print(title)
    print(fmt(headers))
    print(fmt(["-" * w for w in widths]))
    for row in cells:
        print(fmt(row))


def run_device_benchmarks(
    *, fleet: int = FLEET_SIZE, vehicles: int = INGEST_VEHICLES, readings: int = INGEST_READINGS
) -> list[Row]:

    rows = [
        *telemetry_ingest_rows(vehicles=vehicles, readings=readings),
        *latest_state_rows(fleet=fleet),
    ]
    print()
    print_rows(rows, title="Devices on PostgreSQL: telemetry ingest and latest state")
    return rows


def main() -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", type=int, default=FLEET_SIZE)
    parser.add_argument("--vehicles", type=int, default=INGEST_VEHICLES)
    parser.add_argument("--readings", type=int, default=INGEST_READINGS)
    args = parser.parse_args()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    run_device_benchmarks(fleet=args.fleet, vehicles=args.vehicles, readings=args.readings)


if __name__ == "__main__":
    main()

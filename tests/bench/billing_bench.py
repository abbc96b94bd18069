"""Settlement benchmark: one settlement run for 10,000 enrollments × one month of 15-minute
meter intervals (28.8 million rows) on PostgreSQL, against one plain SQL aggregation of the
same meter rows (energy per account, month and TOU period) timed in the same process.

The tenant ("bench-billing", America/Los_Angeles) is seeded in bulk SQL the first time:
customers on one TOU tariff (imported through the rates service), an EV each, enrolled in a
managed-charging program; November 2026 of 15-minute meter data per account (house load plus
the EV), the vehicles' telemetry (plug-in 18:00 and plug-out 07:00 readings, charging rolled
up 22:00–02:00). The run is computed in this process chunk by chunk (``compute_chunk``, what
one worker does), so the time is one worker's.

``run_settlement_benchmark()`` prints one table; call it after ``django.setup()`` (as
tests/bench/run.py does), or run this file: ``python tests/bench/billing_bench.py``.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

ENROLLMENTS = 10_000
MONTH = date(2026, 11, 1)
TZ = "America/Los_Angeles"
RUN_TARGET_S = 60.0
RATIO_TARGET = 2.0
SLUG = "bench-billing"


def _tariff_document() -> dict:
    grid = [[1 if 16 <= hour < 21 else 0 for hour in range(24)] for _ in range(12)]
    return {
        "name": "Bench TOU-EV",
        "label": "bench-tou-ev",
        "energyratestructure": [
            [{"rate": 0.28, "unit": "kWh", "sell": 0.05}],
            [{"rate": 0.52, "unit": "kWh", "sell": 0.05}],
        ],
        "energyweekdayschedule": grid,
        "energyweekendschedule": grid,
        "fixedchargefirstmeter": 12.0,
        "fixedchargeunits": "$/month",
    }


def seed(n: int):
    """The benchmark tenant with ``n`` enrolled customers and their month of data (bulk SQL;
    what exists is kept). Returns (utility, program)."""
    from django.db import connection, transaction
    from django.utils import timezone
    from django_scopes import scope

    from billing.models import MeterImport, MeterInterval, Tariff
    from billing.services.tariffs import assign_tariff, import_tariff
    from devices.models import TelemetryReading, TelemetryRollup, Vehicle
    from enrollment.models import Enrollment, Program
    from portal.customers.models import ServiceAccount
    from portal.models import AutomakerPartner, Utility

    utility, _ = Utility.objects.get_or_create(
        slug=SLUG, defaults={"name": "Bench Billing Utility", "time_zone": TZ}
    )
    partner, _ = AutomakerPartner.objects.get_or_create(
        slug="bench-billing-motors", defaults={"name": "Bench Billing Motors"}
    )
    tz = ZoneInfo(TZ)
    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=tz)
    end = datetime(MONTH.year, MONTH.month + 1, 1, tzinfo=tz)
    with scope(utility=utility.pk), transaction.atomic():
        if not Tariff.objects.exists():
            tariff = import_tariff(
                utility=utility, document=_tariff_document(), effective_from=date(2025, 1, 1)
            ).tariff
            assign_tariff(
                utility=utility, tariff=tariff, effective_from=date(2025, 1, 1),
                rate_class="residential",
            )  # fmt: skip
        program, _ = Program.objects.get_or_create(
            utility=utility, slug="bench-managed-charging",
            defaults={"name": "Bench managed charging", "kind": Program.Kind.V1G,
                      "status": Program.Status.OPEN},
        )  # fmt: skip
        have = Enrollment.objects.filter(program=program).count()
    if have >= n:
        return utility, program
    print(f"Seeding {n:,} enrolled customers and a month of 15-minute data…", flush=True)
    started = time.perf_counter()
    params = {"u": utility.pk, "p": partner.pk, "program": program.pk, "n": n, "tz": TZ,
              "start": start, "end": end, "now": timezone.now()}  # fmt: skip
    statements = [
        # Customers, vehicles, enrollments (numbered 1..n by account_number).
        """INSERT INTO {account} (utility_id, account_number, customer_name,
               email, phone, premise_address, city, state, zip_code, meter_id, feeder,
               rate_class, tariff, smart_meter, income_qualified, medical_need, created_at,
               updated_at)
           SELECT %(u)s, 'B' || lpad(i::text, 9, '0'), 'Bench Customer ' || i, '', '',
                  i || ' Bench St', 'Fresno', 'CA', '93701', 'BM' || i, '', 'residential',
                  'Bench TOU-EV', true, false, false, %(now)s, %(now)s
           FROM generate_series(1, %(n)s) i
           ON CONFLICT DO NOTHING""",
        """INSERT INTO {vehicle} (utility_id, vin, partner_id, partner_vehicle_id, model,
               model_year, usable_battery_kwh, max_charge_kw, max_discharge_kw,
               firmware_version, service_account_id, status, created_at, updated_at,
               supports_v1g, supports_v2h, supports_v2g)
           SELECT %(u)s, 'BENCH' || lpad(i::text, 12, '0'), %(p)s, 'bench-' || i,
                  'Bench EV', 2025, 80, 11.5, 0, '', a.id, 'active', %(now)s, %(now)s,
                  true, false, false
           FROM generate_series(1, %(n)s) i
           JOIN {account} a
             ON a.utility_id = %(u)s AND a.account_number = 'B' || lpad(i::text, 9, '0')
           WHERE NOT EXISTS (SELECT 1 FROM {vehicle} v
                             WHERE v.utility_id = %(u)s AND v.partner_vehicle_id = 'bench-' || i)""",
        """INSERT INTO {enrollment} (utility_id, program_id, service_account_id,
               vehicle_id, partner_id, channel, status, status_reason, eligibility,
               eligibility_rules_version, failed_rules, override_reason, overridden_rules,
               income_qualified, excluded_from_events, suspension_cause, idempotency_key,
               idempotency_fingerprint, submitted_at, activated_at, updated_at)
           SELECT %(u)s, %(program)s, v.service_account_id, v.id, v.partner_id,
                  'automaker_app', 'active', '', '[]', 0, '[]', '', '[]', false, false, '',
                  '', '', %(now)s, %(start)s::timestamptz - interval '60 days', %(now)s
           FROM {vehicle} v
           WHERE v.utility_id = %(u)s AND NOT EXISTS (
               SELECT 1 FROM {enrollment} e WHERE e.vehicle_id = v.id)""",
        """INSERT INTO {meter_import} (utility_id, service_account_id, filename, sha256,
               kind, source, usage_point, readings_in_file, readings_imported,
               duplicates_skipped, readings_rejected, rejected, warnings, duration_ms,
               created_at)
           SELECT %(u)s, a.id, 'bench.csv', repeat('0', 64), 'csv', 'command', '', 0, 0, 0,
                  0, '[]', '[]', 0, %(now)s
           FROM {account} a WHERE a.utility_id = %(u)s AND NOT EXISTS (
               SELECT 1 FROM {meter_import} m WHERE m.service_account_id = a.id)""",
        # 15-minute premise data: a house load that varies by account and hour, plus the EV
        # charging 22:00–02:00 local at 7 kW (1.75 kWh a quarter hour).
        """INSERT INTO {meter} (utility_id, service_account_id, start, seconds,
               kwh, meter_import_id)
           SELECT %(u)s, m.service_account_id, t, 900,
                  round((0.12 + ((m.service_account_id + extract(hour FROM t AT TIME ZONE %(tz)s)::int) %% 7) * 0.03
                   + CASE WHEN extract(hour FROM t AT TIME ZONE %(tz)s) IN (22, 23, 0, 1)
                          THEN 1.75 ELSE 0 END)::numeric, 6), m.id
           FROM {meter_import} m
           CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '15 minutes',
                                      interval '15 minutes') t
           WHERE m.utility_id = %(u)s AND NOT EXISTS (
               SELECT 1 FROM {meter} x WHERE x.service_account_id = m.service_account_id)""",
        """INSERT INTO {rollup} (utility_id, vehicle_id, interval_start,
               energy_charged_kwh, energy_discharged_kwh, mean_power_kw, readings)
           SELECT %(u)s, v.id, t, 1.75, 0, 7.0, 3
           FROM {vehicle} v
           CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '15 minutes',
                                      interval '15 minutes') t
           WHERE v.utility_id = %(u)s
             AND extract(hour FROM t AT TIME ZONE %(tz)s) IN (22, 23, 0, 1)
           ON CONFLICT DO NOTHING""",
        """INSERT INTO {reading} (utility_id, vehicle_id, ts, soc_pct, power_kw,
               plugged_in, charging_state, received_at)
           SELECT %(u)s, v.id, d + (CASE WHEN p THEN interval '18 hours' ELSE interval '31 hours' END),
                  50, 0, p, 'idle', %(now)s
           FROM {vehicle} v
           CROSS JOIN generate_series((%(start)s::timestamptz AT TIME ZONE %(tz)s) - interval '1 day',
                                      (%(end)s::timestamptz AT TIME ZONE %(tz)s) - interval '1 day',
                                      interval '1 day') AS days(local_day)
           CROSS JOIN LATERAL (SELECT local_day AT TIME ZONE %(tz)s AS d) dd
           CROSS JOIN (VALUES (true), (false)) AS plug(p)
           WHERE v.utility_id = %(u)s
           ON CONFLICT DO NOTHING""",
    ]
    tables = {
        "account": ServiceAccount._meta.db_table, "vehicle": Vehicle._meta.db_table,
        "enrollment": Enrollment._meta.db_table, "meter_import": MeterImport._meta.db_table,
        "meter": MeterInterval._meta.db_table, "rollup": TelemetryRollup._meta.db_table,
        "reading": TelemetryReading._meta.db_table,
    }  # fmt: skip
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql.format(**tables), params)
        cursor.execute("ANALYZE " + ", ".join(tables.values()))
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return utility, program


def run_settlement_benchmark(n: int = ENROLLMENTS):
    from django.db.models import Count
    from django.utils import timezone
    from django_scopes import scope

    from billing.impact import aggregation
    from billing.impact.period import Month
    from billing.models import MeterInterval, SettlementChunk, Tariff
    from billing.services import settlement
    from tests.bench.devices_bench import Row, print_rows

    utility, program = seed(n)
    month = Month.of(MONTH, ZoneInfo(TZ))
    with scope(utility=utility.pk), timezone.override(utility.tzinfo):
        schedule = Tariff.objects.get().schedule_obj
        accounts = list(program.enrollments.values_list("service_account_id", flat=True))
        rows = MeterInterval.objects.filter(
            service_account_id__in=accounts, start__gte=month.start, start__lt=month.end
        ).count()
        slots = aggregation.month_slots(schedule, start=month.start, end=month.end, tz=month.tz)

        started = time.perf_counter()
        groups = aggregation.energy_by_account_month_period(
            account_ids=accounts, start=month.start, end=month.end, slots=slots
        )
        reference_s = time.perf_counter() - started

        started = time.perf_counter()
        run = settlement.start_run(
            program=program, period_start=MONTH, actor=None, send_to_workers=False
        )
        for chunk_id in SettlementChunk.objects.filter(run=run).values_list("pk", flat=True):
            settlement.compute_chunk(chunk_id=chunk_id)
        run_s = time.perf_counter() - started
        run.refresh_from_db()
        lines = run.lines.aggregate(n=Count("id"))["n"]
        chunks = run.chunks.count()

    ratio = run_s / reference_s if reference_s else float("nan")
    table = [
        Row(
            f"SQL aggregation, {rows:,} meter rows",
            f"{reference_s:.1f} s",
            "",
            "",
            f"energy per account, month and TOU period: {groups:,} groups",
        ),
        Row(
            f"settlement run, {len(accounts):,} enrollments",
            f"{run_s:.1f} s",
            f"≤ {RUN_TARGET_S:.0f} s",
            "ok" if run_s <= RUN_TARGET_S else "MISSED",
            f"{lines:,} lines, {chunks} chunks in one process; status {run.status}; "
            f"net benefit ${run.totals.get('net_benefit')}",
        ),
        Row(
            "run ÷ SQL aggregation",
            f"{ratio:.2f}×",
            f"≤ {RATIO_TARGET:.0f}×",
            "ok" if ratio <= RATIO_TARGET else "MISSED",
            "same rows, same process",
        ),
    ]
    print()
    print_rows(table, title=f"Settlement ({MONTH:%B %Y}, 15-minute intervals, PostgreSQL)")
    return table


def main() -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enrollments", type=int, default=ENROLLMENTS)
    args = parser.parse_args()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    run_settlement_benchmark(args.enrollments)


if __name__ == "__main__":
    main()

"""A month of interval rows grouped in PostgreSQL by enrollment and TOU period, for the
program's behaviour and the counterfactual side by side, so Python only bills a few
aggregates per customer.

The series per enrollment:

* with premise meter data: each meter interval as metered (program), and the same interval
  with the EV's delta reversed — minus what the vehicle actually drew or fed in that
  interval (telemetry rollups), plus what it would have drawn unmanaged (the counterfactual
  intervals, passed in as arrays);
* without premise meter data: the EV's own 15-minute series, actual and counterfactual.

The EV's 15-minute values are binned to the meter's interval length (e.g. an hour) before
the join. The TOU period of an interval comes from the tariff's 12×24 schedules: Python
works out each 15-minute slot of the month once (``month_slots``: local month, weekday or
weekend, hour — the engine's own ``energy_period_at`` / ``demand_period_at``, so DST and
every zone come out as the engine's), and the SQL joins the rows to those few thousand
slots on their 15-minute bin instead of converting every row to local time. GROUPING SETS
give, in one pass, the energy per energy period and the maximum kW per demand period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction

from billing.models import MeterInterval
from devices.models import TelemetryRollup

MILLI = Decimal("0.001")
WORK_MEM = "64MB"
SLOT = timedelta(minutes=15)


@dataclass(frozen=True)
class MonthSlots:
    """Every 15-minute slot of [start, end) with its energy and demand period, as arrays."""

    starts: list[datetime]
    energy_periods: list[int]
    demand_periods: list[int]  # 0 everywhere when the tariff has no TOU demand schedule

    def params(self) -> dict:
        return {"slot_starts": self.starts, "slot_energy": self.energy_periods,
                "slot_demand": self.demand_periods}  # fmt: skip


def month_slots(schedule, *, start: datetime, end: datetime, tz) -> MonthSlots:
    starts, energy, demand = [], [], []
    moment = start.astimezone(UTC)
    while moment < end:
        local = moment.astimezone(tz)
        weekend = local.weekday() >= 5
        starts.append(moment)
        energy.append(schedule.energy_period_at(local.month, local.hour, weekend=weekend))
        demand.append(schedule.demand_period_at(local.month, local.hour, weekend=weekend) or 0)
        moment += SLOT
    return MonthSlots(starts, energy, demand)


@dataclass(frozen=True, slots=True)
class Subject:
    enrollment_id: int
    vehicle_id: int
    account_id: int
    meter_seconds: int  # the account's meter interval length in the month; 0: no meter data


@dataclass
class Side:
    """One side (program or counterfactual) of an enrollment's month, as the engine needs it."""

    import_kwh: dict[int, Decimal] = field(default_factory=dict)
    export_kwh: dict[int, Decimal] = field(default_factory=dict)
    # Maximum import kW per demand period (period 0 everywhere when the tariff has no
    # time-of-use demand schedule): the month's maximum is the largest of them.
    max_kw_by_period: dict[int, Decimal] = field(default_factory=dict)

    @property
    def max_kw(self) -> Decimal:
        return max(self.max_kw_by_period.values(), default=Decimal(0))


@dataclass
class MonthAggregates:
    program: Side = field(default_factory=Side)
    counterfactual: Side = field(default_factory=Side)
    discharged_kwh: dict[int, Decimal] = field(default_factory=dict)  # by energy period
    ev_charged_kwh: Decimal = Decimal(0)
    ev_counterfactual_kwh: Decimal = Decimal(0)


def meter_seconds(account_ids: Iterable[int], *, start: datetime, end: datetime) -> dict[int, int]:
    """Each account's meter interval length in [start, end) (from its first reading there);
    accounts without meter data in the month are missing."""
    sql = f"""
        SELECT DISTINCT ON (service_account_id) service_account_id, seconds
        FROM {MeterInterval._meta.db_table}
        WHERE service_account_id = ANY(%s) AND start >= %s AND start < %s
        ORDER BY service_account_id, start
    """  # noqa: S608 - table name from the model, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(account_ids), start, end])
        return dict(cursor.fetchall())


_SQL = """
WITH subject AS (
    SELECT s.*, make_interval(secs => greatest(s.seconds, 900)) AS bin
    FROM unnest(%(enrollments)s::bigint[], %(vehicles)s::bigint[],
                %(accounts)s::bigint[], %(seconds)s::int[])
        AS s(enrollment_id, vehicle_id, account_id, seconds)
),
ev_raw AS (
    SELECT r.vehicle_id, r.interval_start AS start,
           (r.energy_charged_kwh - r.energy_discharged_kwh) AS actual_kwh,
           0.0::float8 AS cf_kwh, r.energy_discharged_kwh AS discharged_kwh
    FROM {rollup} r
    WHERE r.vehicle_id = ANY(%(vehicles)s) AND r.interval_start >= %(start)s
      AND r.interval_start < %(end)s
    UNION ALL
    SELECT c.vehicle_id, c.start, 0.0::float8, c.kwh, 0.0::float8
    FROM unnest(%(cf_vehicles)s::bigint[], %(cf_starts)s::timestamptz[], %(cf_kwh)s::float8[])
        AS c(vehicle_id, start, kwh)
    WHERE c.start >= %(start)s AND c.start < %(end)s
),
ev AS (
    SELECT s.enrollment_id, s.seconds,
           date_bin(s.bin, e.start, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start,
           sum(e.actual_kwh) AS actual_kwh, sum(e.cf_kwh) AS cf_kwh,
           sum(e.discharged_kwh) AS discharged_kwh
    FROM ev_raw e JOIN subject s USING (vehicle_id)
    GROUP BY 1, 2, 3
),
series AS (
    SELECT s.enrollment_id, m.start, m.seconds, m.kwh::float8 AS actual_kwh,
           m.kwh::float8 - coalesce(ev.actual_kwh, 0) + coalesce(ev.cf_kwh, 0) AS cf_kwh,
           coalesce(ev.discharged_kwh, 0) AS discharged_kwh,
           coalesce(ev.actual_kwh + ev.discharged_kwh, 0) AS ev_charged_kwh,
           coalesce(ev.cf_kwh, 0) AS ev_cf_kwh
    FROM {meter} m
    JOIN subject s ON s.account_id = m.service_account_id AND s.seconds > 0
    LEFT JOIN ev ON ev.enrollment_id = s.enrollment_id AND ev.start = m.start
    WHERE m.service_account_id = ANY(%(accounts)s) AND m.start >= %(start)s
      AND m.start < %(end)s
    UNION ALL
    SELECT ev.enrollment_id, ev.start, 900, ev.actual_kwh, ev.cf_kwh, ev.discharged_kwh,
           ev.actual_kwh + ev.discharged_kwh, ev.cf_kwh
    FROM ev WHERE ev.seconds = 0
),
slots AS (
    SELECT * FROM unnest(%(slot_starts)s::timestamptz[], %(slot_energy)s::int[],
                         %(slot_demand)s::int[]) AS p(start, energy_period, demand_period)
),
periods AS (
    SELECT series.*, slots.energy_period, slots.demand_period
    FROM series JOIN slots
      ON slots.start = date_bin(interval '15 minutes', series.start,
                                TIMESTAMPTZ '2000-01-01 00:00:00+00')
)
SELECT enrollment_id, GROUPING(energy_period) = 0 AS by_energy,
       coalesce(energy_period, demand_period) AS period,
       sum(greatest(actual_kwh, 0)), sum(greatest(-actual_kwh, 0)),
       sum(greatest(cf_kwh, 0)), sum(greatest(-cf_kwh, 0)),
       max(actual_kwh * 3600 / seconds), max(cf_kwh * 3600 / seconds),
       sum(discharged_kwh), sum(ev_charged_kwh), sum(ev_cf_kwh)
FROM periods
GROUP BY GROUPING SETS ((enrollment_id, energy_period), (enrollment_id, demand_period))
"""


def _kwh(value) -> Decimal:
    # Interval sums to the watt-hour: the engine prices kWh, a bill is rounded to the cent.
    return Decimal(str(round(value or 0.0, 3))).quantize(MILLI)


def month_aggregates(
    *,
    subjects: Sequence[Subject],
    counterfactual: Sequence[tuple[int, datetime, float]],
    start: datetime,
    end: datetime,
    slots: MonthSlots,
) -> dict[int, MonthAggregates]:
    """The month's aggregates per enrollment of ``subjects`` (who share one tariff).
    ``counterfactual`` holds (vehicle id, interval start, kWh) of the unmanaged charging."""
    sql = _SQL.format(rollup=TelemetryRollup._meta.db_table, meter=MeterInterval._meta.db_table)
    params = {
        "enrollments": [s.enrollment_id for s in subjects],
        "vehicles": [s.vehicle_id for s in subjects],
        "accounts": [s.account_id for s in subjects],
        "seconds": [s.meter_seconds for s in subjects],
        "cf_vehicles": [c[0] for c in counterfactual],
        "cf_starts": [c[1] for c in counterfactual],
        "cf_kwh": [c[2] for c in counterfactual],
        "start": start,
        "end": end,
        **slots.params(),
    }
    out: dict[int, MonthAggregates] = defaultdict(MonthAggregates)
    with transaction.atomic(), connection.cursor() as cursor:
        # The month of a chunk's rows is sorted and hashed in memory, not on disk.
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            (enrollment_id, by_energy, period, imp, exp, cf_imp, cf_exp,
             max_kw, cf_max_kw, discharged, ev_charged, ev_cf) = row  # fmt: skip
            agg = out[enrollment_id]
            if by_energy:
                agg.program.import_kwh[period] = _kwh(imp)
                agg.program.export_kwh[period] = _kwh(exp)
                agg.counterfactual.import_kwh[period] = _kwh(cf_imp)
                agg.counterfactual.export_kwh[period] = _kwh(cf_exp)
                agg.discharged_kwh[period] = _kwh(discharged)
                agg.ev_charged_kwh += _kwh(ev_charged)
                agg.ev_counterfactual_kwh += _kwh(ev_cf)
            else:
                agg.program.max_kw_by_period[period] = _kwh(max(max_kw or 0.0, 0.0))
                agg.counterfactual.max_kw_by_period[period] = _kwh(max(cf_max_kw or 0.0, 0.0))
    return dict(out)


REFERENCE_SQL = """
WITH slots AS (
    SELECT * FROM unnest(%(slot_starts)s::timestamptz[], %(slot_energy)s::int[],
                         %(slot_demand)s::int[]) AS p(start, energy_period, demand_period)
)
SELECT m.service_account_id, %(month)s AS month, slots.energy_period, sum(m.kwh)
FROM {meter} m
JOIN slots ON slots.start = date_bin(interval '15 minutes', m.start,
                                     TIMESTAMPTZ '2000-01-01 00:00:00+00')
WHERE m.service_account_id = ANY(%(accounts)s) AND m.start >= %(start)s AND m.start < %(end)s
GROUP BY 1, 2, 3
"""


def energy_by_account_month_period(
    *, account_ids: Sequence[int], start: datetime, end: datetime, slots: MonthSlots
) -> int:
    """One plain SQL aggregation of the meter rows (energy per account, month and TOU
    period, the period found as the settlement finds it): the yardstick the settlement's
    speed is measured against. Returns the number of groups."""
    sql = REFERENCE_SQL.format(meter=MeterInterval._meta.db_table)
    params = {"accounts": list(account_ids), "start": start, "end": end,
              "month": start.month, **slots.params()}  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(sql, params)
        return len(cursor.fetchall())

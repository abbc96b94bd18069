"""Charging sessions from telemetry: plug-in to plug-out from the readings' ``plugged_in``
flag (gaps and islands in SQL), and the net energy the vehicle took over each session from
the 15-minute rollups (charged − discharged).

A vehicle whose raw readings for the period are gone (``purge_telemetry`` keeps rollups
only) has its sessions from the rollups alone: each run of consecutive 15-minute intervals
with energy in or out is a session starting at its first interval. Its plug-in time is then
unknown, so the counterfactual starts where charging actually started — the conservative
choice: no shift out of an earlier peak is credited that the telemetry cannot show. Keep raw
readings until the month is settled to credit the shift in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.db import connection

from billing.impact.counterfactual import Session
from devices.models import TelemetryReading, TelemetryRollup

# A session that began before the month (plugged in the evening before) is found by
# looking this far back for its plug-in.
LOOKBACK = timedelta(days=2)

_SQL = """
WITH readings AS (
    SELECT vehicle_id, ts, plugged_in,
           lag(plugged_in) OVER (PARTITION BY vehicle_id ORDER BY ts) AS before
    FROM {reading}
    WHERE vehicle_id = ANY(%(vehicles)s) AND ts >= %(lookback)s AND ts < %(end)s
),
edges AS (
    SELECT vehicle_id, ts, plugged_in,
           lead(ts) OVER (PARTITION BY vehicle_id ORDER BY ts) AS next_edge
    FROM readings WHERE before IS DISTINCT FROM plugged_in
),
sessions AS (
    SELECT vehicle_id, ts AS plugged_in_at, coalesce(next_edge, %(end)s) AS unplugged_at
    FROM edges WHERE plugged_in
)
SELECT s.vehicle_id, s.plugged_in_at, s.unplugged_at,
       coalesce(sum(r.energy_charged_kwh - r.energy_discharged_kwh), 0)
FROM sessions s
LEFT JOIN {rollup} r ON r.vehicle_id = s.vehicle_id
    AND r.interval_start > s.plugged_in_at - interval '15 minutes'
    AND r.interval_start < s.unplugged_at
WHERE s.unplugged_at > %(start)s
GROUP BY 1, 2, 3
ORDER BY 1, 2
"""


_ROLLUP_ONLY_SQL = """
WITH quiet AS (
    SELECT v.id AS vehicle_id FROM unnest(%(vehicles)s::bigint[]) AS v(id)
    WHERE NOT EXISTS (
        SELECT 1 FROM {reading} t
        WHERE t.vehicle_id = v.id AND t.ts >= %(lookback)s AND t.ts < %(end)s
    )
),
active AS (
    SELECT r.vehicle_id, r.interval_start,
           r.energy_charged_kwh - r.energy_discharged_kwh AS net_kwh,
           CASE WHEN lag(r.interval_start) OVER w = r.interval_start - interval '15 minutes'
                THEN 0 ELSE 1 END AS starts_session
    FROM {rollup} r JOIN quiet q USING (vehicle_id)
    WHERE r.interval_start >= %(lookback)s AND r.interval_start < %(end)s
      AND (r.energy_charged_kwh > 0 OR r.energy_discharged_kwh > 0)
    WINDOW w AS (PARTITION BY r.vehicle_id ORDER BY r.interval_start)
),
numbered AS (
    SELECT *, sum(starts_session) OVER (PARTITION BY vehicle_id ORDER BY interval_start) AS n
    FROM active
)
SELECT vehicle_id, min(interval_start), max(interval_start) + interval '15 minutes',
       sum(net_kwh)
FROM numbered
GROUP BY vehicle_id, n
HAVING max(interval_start) + interval '15 minutes' > %(start)s
ORDER BY 1, 2
"""


def charging_sessions(
    *, full_power_kw: Mapping[int, float], start: datetime, end: datetime
) -> list[Session]:
    """Sessions of the vehicles in ``full_power_kw`` (vehicle id → unmanaged charge kW) that
    overlap [start, end)."""
    vehicles: Sequence[int] = list(full_power_kw)
    if not vehicles:
        return []
    tables = {"reading": TelemetryReading._meta.db_table, "rollup": TelemetryRollup._meta.db_table}
    params = {"vehicles": vehicles, "lookback": start - LOOKBACK, "start": start, "end": end}
    rows = []
    with connection.cursor() as cursor:
        for sql in (_SQL, _ROLLUP_ONLY_SQL):
            cursor.execute(sql.format(**tables), params)
            rows.extend(cursor.fetchall())
    return [
        Session(
            vehicle_id=vehicle_id,
            plugged_in_at=plugged,
            unplugged_at=unplugged,
            energy_kwh=float(kwh),
            full_power_kw=full_power_kw[vehicle_id],
        )
        for vehicle_id, plugged, unplugged, kwh in rows
    ]

"""Reports for the VTN, built from the devices' 15-minute telemetry rollups of the vehicles
that took part in the portal's event (dispatched, or dropped during it).

An event's ``reportDescriptors`` say what the VTN wants; the portal answers these payload
types, per vehicle (``resourceName`` = VIN) or aggregated (``AGGREGATED_REPORT``) as each
descriptor's ``aggregate`` asks:

- ``USAGE``: energy imported, kWh per interval (charged − discharged: export is negative);
- ``DEMAND``: mean power, kW per interval (the rollups' mean; export negative);
- ``STORAGE_MAX_DISCHARGE_POWER`` (availability): the kW the vehicles could discharge at
  most (their rating in the event plan), per interval.

Other payload types are not reported (the message log says which). A report is sent once,
after the event has ended and its last interval's rollups had ``OPENADR3_REPORT_DELAY_MINUTES``
to arrive.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from devices.models import TelemetryRollup, Vehicle
from dispatch.measurement.baselines import INTERVAL, mv_grid
from dispatch.models import Event, EventParticipant, OpenADR3EventVersion

USAGE, DEMAND, AVAILABILITY = "USAGE", "DEMAND", "STORAGE_MAX_DISCHARGE_POWER"
UNITS = {USAGE: "KWH", DEMAND: "KW", AVAILABILITY: "KW"}
AGGREGATED = "AGGREGATED_REPORT"
TOOK_PART = (EventParticipant.Role.SELECTED, EventParticipant.Role.DROPPED)
DIGITS = 3


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def build_report(
    *, version: OpenADR3EventVersion, event: Event, client_name: str, program_id: str
) -> dict | None:
    """The report the VTN asked for with this version of its event, or None when it asked
    for nothing the portal reports (call inside the utility's scope)."""
    wanted = [r for r in version.report_requests if r.get("payloadType") in UNITS]
    if not wanted:
        return None
    grid = mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)
    participants = dict(
        EventParticipant.objects.filter(event=event, role__in=TOOK_PART).values_list(
            "vehicle_id", "rating_kw"
        )
    )
    vins = dict(Vehicle.objects.filter(pk__in=participants).values_list("pk", "vin"))
    rollups: dict[int, dict[datetime, tuple[float, float]]] = defaultdict(dict)
    for vehicle_id, start, charged, discharged, mean_kw in TelemetryRollup.objects.filter(
        vehicle_id__in=list(participants), interval_start__in=grid
    ).values_list(
        "vehicle_id", "interval_start", "energy_charged_kwh", "energy_discharged_kwh",
        "mean_power_kw",
    ):  # fmt: skip
        rollups[vehicle_id][start] = (charged - discharged, mean_kw)

    def values(payload_type: str, vehicle_ids: list[int], start: datetime) -> float:
        if payload_type == AVAILABILITY:
            total = sum(participants[v] for v in vehicle_ids)
        else:
            column = 0 if payload_type == USAGE else 1
            total = sum(rollups[v].get(start, (0.0, 0.0))[column] for v in vehicle_ids)
        return round(total, DIGITS)

    resources: dict[str, list[int]] = {}
    types_by_resource: dict[str, list[str]] = defaultdict(list)
    for request in wanted:
        kind = request["payloadType"]
        if request.get("aggregate"):
            resources[AGGREGATED] = sorted(participants)
            types_by_resource[AGGREGATED].append(kind)
        else:
            for vehicle_id in sorted(participants):
                resources[vins[vehicle_id]] = [vehicle_id]
                types_by_resource[vins[vehicle_id]].append(kind)
    duration = f"PT{int(INTERVAL.total_seconds() // 60)}M"
    return {
        "programID": program_id,
        "eventID": version.vtn_event_id,
        "clientName": client_name,
        "reportName": f"portal-event-{event.pk}",
        "payloadDescriptors": [
            {
                "payloadType": r["payloadType"],
                "units": UNITS[r["payloadType"]],
                "readingType": "DIRECT_READ" if r["payloadType"] != AVAILABILITY else "ESTIMATED",
            }
            for r in wanted
        ],  # fmt: skip
        "resources": [
            {
                "resourceName": name,
                "intervalPeriod": {"start": _iso(grid[0]), "duration": duration},
                "intervals": [
                    {
                        "id": position,
                        "intervalPeriod": {"start": _iso(start), "duration": duration},
                        "payloads": [
                            {"type": kind, "values": [values(kind, vehicle_ids, start)]}
                            for kind in types_by_resource[name]
                        ],
                    }
                    for position, start in enumerate(grid)
                ],
            }
            for name, vehicle_ids in resources.items()
        ],
    }


def unreported_types(version: OpenADR3EventVersion) -> list[str]:
    return sorted({r.get("payloadType", "") for r in version.report_requests} - set(UNITS))

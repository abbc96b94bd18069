"""Reports from the VEN to a source's VTN (OpenADR 2.0b), from the telemetry rollups
(``devices.telemetry.rollups``, 15-minute ``TelemetryRollup`` rows).

The VEN offers two reports at registration (``oadrRegisterReport``), aggregated over the
vehicles actively enrolled in the programs the source's market contexts call:
- ``TELEMETRY_USAGE``, rID ``fleet-power``: the fleet's mean real power per interval (W with
  siScaleCode k, i.e. kW; charging positive, discharging negative);
- ``TELEMETRY_STATUS``, rID ``fleet-reporting``: how many of those vehicles reported
  telemetry in the interval.
Both are sampled every 15 minutes to 1 hour (a finer granularity is served at 15 minutes: the
rollups' grain). A report request (``oadrReportRequest`` in ``oadrRegisteredReport`` or
``oadrCreateReport``) for these is accepted (``oadrCreatedReport`` lists it as pending) and
sent as ``oadrUpdateReport`` every ``reportBackDuration`` (once, at once, when that is zero),
each interval at the requested ``granularity``. A request for a report or rID the VEN did not
offer is answered 461 ("report not supported"), and the others in the message still served.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Sum
from django_scopes import scope
from openleadr import enums

from devices.models import TelemetryRollup
from devices.telemetry.rollups import ROLLUP_INTERVAL
from dispatch.grid import oadr2b_xml
from dispatch.models import GridSignalRoute
from enrollment.models import Enrollment

REPORT_NOT_SUPPORTED = 461
USAGE_RID, STATUS_RID = "fleet-power", "fleet-reporting"
SAMPLING = {"min_period": ROLLUP_INTERVAL, "max_period": timedelta(hours=1), "on_change": False}


def specifier_ids(source_pk: int) -> dict[str, str]:
    """reportSpecifierID → its rID, per source (stable across restarts)."""
    return {f"portal-{source_pk}-usage": USAGE_RID, f"portal-{source_pk}-status": STATUS_RID}


def offered(source_pk: int, *, now: datetime) -> list[dict]:
    """The ``oadrRegisterReport`` reports (OpenLEADR's message shape)."""
    power = enums.MEASUREMENTS.REAL_POWER
    measurement = {
        **dataclasses.asdict(power),
        "unit": "W",
        "scale": "k",
    }
    usage_id, status_id = specifier_ids(source_pk)
    common = {"created_date_time": now, "duration": timedelta(hours=1), "report_request_id": 0}
    return [
        {
            **common,
            "report_name": "METADATA_TELEMETRY_USAGE",
            "report_specifier_id": usage_id,
            "report_descriptions": [
                {
                    "r_id": USAGE_RID,
                    "report_type": "usage",
                    "reading_type": "Direct Read",
                    "measurement": measurement,
                    "sampling_rate": SAMPLING,
                }
            ],
        },
        {
            **common,
            "report_name": "METADATA_TELEMETRY_STATUS",
            "report_specifier_id": status_id,
            "report_descriptions": [
                {
                    "r_id": STATUS_RID,
                    "report_type": "x-vehiclesReporting",
                    "reading_type": "Direct Read",
                    "sampling_rate": SAMPLING,
                }
            ],
        },
    ]


@dataclass
class Request:
    """One accepted report request: what to send and when next."""

    report_request_id: str
    report_specifier_id: str
    r_ids: tuple[str, ...]
    granularity: timedelta
    report_back: timedelta
    next_due: datetime
    covered_until: datetime
    done: bool = field(default=False)


def read_requests(element, source_pk: int, *, now: datetime) -> tuple[list[Request], list[str]]:
    """The requests in an ``oadrRegisteredReport`` / ``oadrCreateReport``: those the VEN serves
    and the ids of those it does not."""
    known = specifier_ids(source_pk)
    accepted, refused = [], []
    for request in element.findall("oadr:oadrReportRequest", oadr2b_xml.NS):
        request_id = oadr2b_xml.text(request, "ei:reportRequestID")
        specifier = request.find("ei:reportSpecifier", oadr2b_xml.NS)
        specifier_id = oadr2b_xml.text(specifier, "ei:reportSpecifierID")
        r_ids = tuple(oadr2b_xml.texts(specifier, "ei:specifierPayload/ei:rID"))
        if specifier_id not in known or not r_ids or any(r != known[specifier_id] for r in r_ids):
            refused.append(request_id)
            continue
        try:
            granularity = oadr2b_xml.duration_of(
                oadr2b_xml.text(specifier, "xcal:granularity/xcal:duration"),
                default=ROLLUP_INTERVAL,
            )
            back = oadr2b_xml.duration_of(
                oadr2b_xml.text(specifier, "ei:reportBackDuration/xcal:duration"),
                default=timedelta(0),
            )
        except oadr2b_xml.Malformed:
            refused.append(request_id)
            continue
        granularity = max(granularity, ROLLUP_INTERVAL)
        accepted.append(
            Request(
                report_request_id=request_id,
                report_specifier_id=specifier_id,
                r_ids=r_ids,
                granularity=granularity,
                report_back=back,
                next_due=now + back,
                covered_until=_floor(now, granularity) - granularity,
            )
        )
    return accepted, refused


def _floor(at: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return at - ((at - epoch) % step)


def fleet_rollups(source_pk: int, utility_id: int, *, start: datetime, end: datetime):
    """(interval start, total mean kW, vehicles reporting) per 15-minute rollup interval."""
    with scope(utility=utility_id):
        programs = GridSignalRoute.objects.filter(source_id=source_pk).values("program_id")
        vehicles = Enrollment.objects.filter(
            program_id__in=programs, status=Enrollment.Status.ACTIVE
        ).values("vehicle_id")
        return list(
            TelemetryRollup.objects.filter(
                vehicle_id__in=vehicles, interval_start__gte=start, interval_start__lt=end
            )
            .values("interval_start")
            .annotate(kw=Sum("mean_power_kw"), vehicles=Count("vehicle_id", distinct=True))
            .order_by("interval_start")
            .values_list("interval_start", "kw", "vehicles")
        )


def report_for(request: Request, source_pk: int, utility_id: int, *, now: datetime) -> dict:
    """The ``oadrReport`` of ``oadrUpdateReport`` for the intervals since the last one."""
    end = _floor(now, request.granularity)
    start = request.covered_until
    rows = fleet_rollups(source_pk, utility_id, start=start, end=end)
    per_step: dict[datetime, list[tuple[float, int]]] = {}
    for at, kw, vehicles in rows:
        per_step.setdefault(_floor(at, request.granularity), []).append((kw or 0.0, vehicles))
    intervals = []
    for at in sorted(per_step):
        values = per_step[at]
        steps = request.granularity / ROLLUP_INTERVAL
        # Mean power over the step (an interval without telemetry counts as 0 kW).
        value = {
            USAGE_RID: round(sum(kw for kw, _ in values) / steps, 3),
            STATUS_RID: max(v for _, v in values),
        }
        for r_id in request.r_ids:
            intervals.append(
                {
                    "dtstart": at,
                    "duration": request.granularity,
                    "report_payload": {"r_id": r_id, "value": value[r_id]},
                }
            )
    request.covered_until = end
    name = "TELEMETRY_USAGE" if request.r_ids[0] == USAGE_RID else "TELEMETRY_STATUS"
    return {
        "report_id": f"{request.report_request_id}-{int(end.timestamp())}",
        "report_request_id": request.report_request_id,
        "report_specifier_id": request.report_specifier_id,
        "report_name": name,
        "created_date_time": now,
        "dtstart": start,
        "intervals": intervals,
    }

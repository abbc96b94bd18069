"""What an OpenADR 3 event asks of the portal, read from the VTN's JSON (``read_event``) and
turned into the terms of a portal event (``Called3``).

An event's intervals are followed one by one: each interval (its own ``intervalPeriod``, or
the event's with the intervals laid end to end) keeps its payloads. Payloads the portal acts on:

- ``EXPORT_CAPACITY_LIMIT`` (kW, or W/MW per the event's ``payloadDescriptors``): the kW the
  fleet is asked to export in that interval — the interval's target.
- ``IMPORT_CAPACITY_LIMIT``: a cap on the fleet's import. The portal curtails charging by
  what would otherwise exceed it: the target is the program's worst-case charging (every
  dispatchable vehicle at its maximum charge rate, ``fleet_charge_kw``) minus the limit.
- ``SIMPLE`` (levels 0–3): level 0 asks for nothing, 1–2 for a load reduction of all that is
  available, 3 an emergency (in any interval).
- ``PRICE``: planning information. It becomes a dispatch only when the route says so
  (``GridSignalRoute.dispatch_prices``), as a price-signal event; otherwise it is recorded and
  answered, and nothing is dispatched.

The event's ``priority`` passes through: OpenADR 3's lower number wins, the portal's higher
one, so the portal's event gets 100 − priority (``events.portal_priority``). ``targets`` are honoured when the portal can: ``GROUP`` names the utility's dispatch
groups, ``RESOURCE_NAME`` vehicles by VIN, ``VEN_NAME`` must be this VEN; any other target
type (or an unknown group or vehicle) makes the portal refuse the event, saying which.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime, parse_duration

IMPORT_LIMIT, EXPORT_LIMIT, SIMPLE, PRICE = (
    "IMPORT_CAPACITY_LIMIT",
    "EXPORT_CAPACITY_LIMIT",
    "SIMPLE",
    "PRICE",
)
KNOWN_PAYLOADS = {IMPORT_LIMIT, EXPORT_LIMIT, SIMPLE, PRICE}
_KW_PER_UNIT = {"W": 0.001, "KW": 1.0, "MW": 1000.0}
_WEEKS = re.compile(r"^P(\d+)W$")
MAX_INTERVALS = 96 * 7  # a week of 15-minute intervals
HONOURED_TARGETS = {"GROUP", "RESOURCE_NAME", "VEN_NAME"}


class Malformed(ValueError):
    """The JSON lacks what an event needs; the message says what."""


@dataclass(frozen=True)
class Interval:
    starts_at: datetime
    minutes: int
    payloads: dict[str, list]  # payload type → values

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)

    def number(self, payload_type: str) -> float | None:
        values = self.payloads.get(payload_type) or []
        value = values[0] if values else None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return None
        return float(value)


@dataclass(frozen=True)
class Called3:
    """An OpenADR 3 event as the portal reads it."""

    event_id: str
    program_id: str
    modified_at: datetime | None
    name: str
    priority: int | None
    intervals: list[Interval]
    randomize_minutes: int
    targets: dict[str, list[str]]
    units: dict[str, str] = field(default_factory=dict)  # payload type → unit
    # The reports the VTN asks for: [{"payloadType", "aggregate"}] (``reportDescriptors``).
    report_requests: list[dict] = field(default_factory=list)

    @property
    def starts_at(self) -> datetime:
        return self.intervals[0].starts_at

    @property
    def ends_at(self) -> datetime:
        return max(i.ends_at for i in self.intervals)

    @property
    def duration_minutes(self) -> int:
        return math.ceil((self.ends_at - self.starts_at).total_seconds() / 60)

    @property
    def payload_types(self) -> set[str]:
        return {t for i in self.intervals for t in i.payloads}

    def kw(self, interval: Interval, payload_type: str) -> float | None:
        value = interval.number(payload_type)
        if value is None:
            return None
        unit = self.units.get(payload_type, "KW").upper()
        return abs(value) * _KW_PER_UNIT.get(unit, 1.0)

    @property
    def max_level(self) -> float | None:
        levels = [v for i in self.intervals if (v := i.number(SIMPLE)) is not None]
        return max(levels) if levels else None


def read_datetime(value: Any, what: str) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise Malformed(f"{what} is not a date-time with a time zone.")
    return parsed


def read_duration(value: Any, what: str) -> timedelta:
    """An ISO 8601 duration in days, weeks, hours, minutes, seconds (years and months have no
    fixed length and are refused)."""
    if not isinstance(value, str):
        raise Malformed(f"{what} is not an ISO 8601 duration.")
    if weeks := _WEEKS.match(value):
        return timedelta(weeks=int(weeks.group(1)))
    parsed = parse_duration(value) if value.startswith(("P", "-P")) else None
    if parsed is None:
        raise Malformed(f"{what} ({value[:40]!r}) is not an ISO 8601 duration the portal reads.")
    return parsed


def _minutes(delta: timedelta) -> int:
    return max(0, math.ceil(delta.total_seconds() / 60))


def _values_maps(items: Any, what: str) -> dict[str, list]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise Malformed(f"{what} is not a list.")
    found: dict[str, list] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise Malformed(f"{what} holds an entry without a type.")
        values = item.get("values")
        if not isinstance(values, list):
            raise Malformed(f"{what} {item['type']!r} has no list of values.")
        found.setdefault(item["type"].strip().upper(), []).extend(values)
    return found


def read_event(data: Any) -> Called3:
    if not isinstance(data, dict):
        raise Malformed("The event is not a JSON object.")
    event_id, program_id = data.get("id"), data.get("programID")
    if not isinstance(event_id, str) or not event_id.strip():
        raise Malformed("The event has no id.")
    if not isinstance(program_id, str) or not program_id.strip():
        raise Malformed("The event has no programID.")
    modified = data.get("modificationDateTime")
    modified_at = read_datetime(modified, "modificationDateTime") if modified else None
    priority = data.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise Malformed("The event's priority is not an integer.")
    period = data.get("intervalPeriod")
    default_start = default_length = None
    randomize = timedelta(0)
    if isinstance(period, dict):
        default_start = read_datetime(period.get("start"), "The event's intervalPeriod.start")
        if period.get("duration") is not None:
            default_length = read_duration(period["duration"], "The event's duration")
        if period.get("randomizeStart") is not None:
            randomize = read_duration(period["randomizeStart"], "randomizeStart")
    raw = data.get("intervals")
    if not isinstance(raw, list) or not raw:
        raise Malformed("The event has no intervals.")
    if len(raw) > MAX_INTERVALS:
        raise Malformed(f"The event has more than {MAX_INTERVALS} intervals.")
    intervals: list[Interval] = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise Malformed(f"Interval {position} is not an object.")
        own = item.get("intervalPeriod")
        if isinstance(own, dict):
            start = read_datetime(own.get("start"), f"Interval {position}'s start")
            length = (
                read_duration(own["duration"], f"Interval {position}'s duration")
                if own.get("duration") is not None
                else default_length
            )
        else:
            # Without their own period the intervals follow each other from the event's start.
            if default_start is None:
                raise Malformed(f"Interval {position} has no start, nor has the event.")
            start = intervals[-1].ends_at if intervals else default_start
            length = default_length
        if length is None or _minutes(length) <= 0:
            raise Malformed(f"Interval {position} has no duration.")
        payloads = _values_maps(item.get("payloads"), f"Interval {position}'s payloads")
        intervals.append(Interval(start, _minutes(length), payloads))
    intervals.sort(key=lambda i: i.starts_at)
    units = {}
    for descriptor in data.get("payloadDescriptors") or []:
        if isinstance(descriptor, dict) and isinstance(descriptor.get("payloadType"), str):
            units[descriptor["payloadType"].upper()] = str(descriptor.get("units") or "KW")
    reports = [
        {"payloadType": d["payloadType"].upper(), "aggregate": d.get("aggregate") is True}
        for d in data.get("reportDescriptors") or []
        if isinstance(d, dict) and isinstance(d.get("payloadType"), str)
    ]
    targets = {
        kind: [str(v) for v in values]
        for kind, values in _values_maps(data.get("targets"), "The event's targets").items()
    }
    return Called3(
        event_id=event_id.strip()[:100],
        program_id=program_id.strip()[:128],
        modified_at=modified_at,
        name=str(data.get("eventName") or "")[:200],
        priority=priority,
        intervals=intervals,
        randomize_minutes=_minutes(randomize),
        targets=targets,
        units=units,
        report_requests=reports,
    )


def refused_targets(called: Called3, *, ven_name: str) -> str:
    """Why the portal cannot honour the event's targets ("" when it can, as far as their
    kinds go; groups and vehicles are checked against the utility when scheduling)."""
    unknown = sorted(set(called.targets) - HONOURED_TARGETS)
    if unknown:
        return f"The portal cannot honour targets of type {', '.join(unknown)}."
    names = called.targets.get("VEN_NAME")
    if names and ven_name not in names:
        return f"The event targets VENs {', '.join(names[:5])}, not this VEN ({ven_name})."
    if called.targets.get("GROUP") and called.targets.get("RESOURCE_NAME"):
        return "The event targets both groups and resources; the portal honours one kind."
    return ""

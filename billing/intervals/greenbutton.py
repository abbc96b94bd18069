"""Green Button (ESPI, NAESB REQ.21) Atom feeds -> IntervalFile.

A feed is a flat list of Atom entries that point at each other by href:
UsagePoint -> MeterReading -> IntervalBlock -> IntervalReading, with the ReadingType (unit,
power-of-ten multiplier, accumulation, flow direction) linked from the MeterReading. Real files
slip (entries out of order, namespace prefixes that vary, a ReadingType embedded in its
MeterReading, missing durations or multipliers, links that point at an entry instead of its
collection), so the entries are first indexed, then linked by href or by containment (a child's
href sits under its parent's), and every fix applied is reported as a warning.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from urllib.parse import urlsplit

from lxml import etree

from billing.intervals.safe_xml import parse_untrusted_xml
from billing.intervals.series import finish_intervals
from billing.intervals.types import (
    Interval,
    IntervalFile,
    IntervalFileError,
    MultipleUsagePoints,
    UsagePointInfo,
)

WATT_HOURS = 72
_UNITS = {38: "W", 61: "VA", 63: "VAr", 71: "VAh", 72: "Wh", 73: "VArh", 42: "m3", 169: "therm"}
FORWARD, NET, REVERSE = 1, 4, 19
_PER_INTERVAL = {4, 9}  # deltaData, summation: each reading is the interval's own energy
_CUMULATIVE = {1, 2, 3}  # bulkQuantity, continuousCumulative, cumulative: register readings
ELECTRICITY = "0"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_EARLIEST_EPOCH, _LATEST_EPOCH = 0, 4_102_444_800  # 1970 .. 2100


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element, name: str) -> list:
    return [child for child in element if _local(child) == name]


def _child(element, name: str):
    for child in element:
        if _local(child) == name:
            return child
    return None


def _text(element, name: str) -> str | None:
    child = _child(element, name) if element is not None else None
    if child is None or child.text is None or not child.text.strip():
        return None
    return child.text.strip()


def _path(href: str | None) -> str | None:
    """Links are compared by path: hosts and trailing slashes vary between exports."""
    if not href:
        return None
    return urlsplit(href.strip()).path.rstrip("/") or None


@dataclass
class _Entry:
    atom_id: str
    title: str
    self_href: str | None
    up_href: str | None
    related: set[str]
    kind: str  # the ESPI resource's local name: UsagePoint, MeterReading, ...
    resource: object  # the lxml element inside <content>
    order: int

    @property
    def key(self) -> str:
        return self.self_href or self.atom_id or f"entry {self.order + 1}"

    def under(self, parent: _Entry) -> bool:
        """Whether this entry is linked to ``parent`` by href or sits under it by containment."""
        if self.up_href and self.up_href in parent.related:
            return True
        if self.self_href and self.self_href in parent.related:
            return True
        if parent.self_href:
            prefix = parent.self_href + "/"
            return any(href and href.startswith(prefix) for href in (self.self_href, self.up_href))
        return False


def _entries(root) -> list[_Entry]:
    if _local(root) == "entry":
        elements = [root]
    elif _local(root) == "feed":
        elements = _children(root, "entry")
    else:
        raise IntervalFileError(f"not a Green Button feed: the root element is <{_local(root)}>")
    entries = []
    for order, element in enumerate(elements):
        links = {"self": None, "up": None}
        related = set()
        for link in _children(element, "link"):
            rel, href = link.get("rel", "alternate"), _path(link.get("href"))
            if rel == "related" and href:
                related.add(href)
            elif rel in links:
                links[rel] = href
        content = _child(element, "content")
        resource = (
            next((child for child in content if _local(child)), None)
            if content is not None
            else None
        )
        entries.append(
            _Entry(
                atom_id=_text(element, "id") or "",
                title=_text(element, "title") or "",
                self_href=links["self"],
                up_href=links["up"],
                related=related,
                kind=_local(resource) if resource is not None else "",
                resource=resource,
                order=order,
            )
        )
    return entries


@dataclass
class _ReadingType:
    uom: int = WATT_HOURS
    multiplier: int = 0
    accumulation: int = 4
    flow: int = FORWARD
    interval_seconds: int | None = None
    fixes: list[str] = field(default_factory=list)


def _int_field(resource, name: str) -> int | None:
    value = _text(resource, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reading_type(resource, where: str) -> _ReadingType:
    found = _ReadingType(interval_seconds=_int_field(resource, "intervalLength"))
    for attribute, name, default in (
        ("uom", "uom", WATT_HOURS),
        ("multiplier", "powerOfTenMultiplier", 0),
        ("accumulation", "accumulationBehaviour", 4),
        ("flow", "flowDirection", FORWARD),
    ):
        value = _int_field(resource, name)
        if value is None:
            found.fixes.append(f"{where}: ReadingType has no {name}, assumed {default}")
            value = default
        setattr(found, attribute, value)
    # 0 means "none" in both enumerations; real files write it where they mean the usual case.
    if found.flow == 0:
        found.fixes.append(f"{where}: flowDirection 0 (none), assumed delivered (1)")
        found.flow = FORWARD
    if found.accumulation == 0:
        found.fixes.append(f"{where}: accumulationBehaviour 0 (none), assumed interval data (4)")
        found.accumulation = 4
    return found


@dataclass
class _RawReading:
    where: str
    start: int
    seconds: int | None
    value: Decimal


def _raw_readings(blocks: list, where: str, rejected: list) -> list[_RawReading]:
    readings = []
    for block_number, block in enumerate(blocks, start=1):
        for number, element in enumerate(_children(block, "IntervalReading"), start=1):
            place = f"{where}, IntervalBlock {block_number}, reading {number}"
            period = _child(element, "timePeriod")
            start, seconds = _int_field(period, "start"), _int_field(period, "duration")
            raw_value = _text(element, "value")
            if start is None:
                rejected.append((place, "timePeriod start missing or not a number"))
                continue
            if not _EARLIEST_EPOCH <= start <= _LATEST_EPOCH:
                rejected.append((place, f"start {start} is not a plausible time (epoch seconds)"))
                continue
            try:
                value = Decimal(raw_value)
                if not value.is_finite():
                    raise InvalidOperation
            except (TypeError, InvalidOperation):
                rejected.append((place, f"value {raw_value!r} is not a number"))
                continue
            if seconds is not None and seconds <= 0:
                rejected.append((place, f"duration {seconds} s is not positive"))
                continue
            readings.append(_RawReading(place, start, seconds, value))
    return readings


def _fill_durations(
    readings: list[_RawReading], reading_type: _ReadingType, where: str, warnings: list
):
    """A reading without a duration lasts until the next one starts (or as long as its
    neighbours / the ReadingType's intervalLength say, for the last)."""
    missing = [index for index, reading in enumerate(readings) if reading.seconds is None]
    if not missing:
        return
    known = Counter(reading.seconds for reading in readings if reading.seconds)
    fallback = reading_type.interval_seconds or (known.most_common(1)[0][0] if known else None)
    for index in missing:
        following = (
            readings[index + 1].start - readings[index].start if index + 1 < len(readings) else 0
        )
        readings[index].seconds = following if following > 0 else fallback
    unresolved = [reading for reading in readings if not reading.seconds]
    warnings.append(
        f"{where}: {len(missing) - len(unresolved)} reading(s) had no duration; inferred from "
        "neighbouring readings"
    )
    for reading in unresolved:
        readings.remove(reading)


def _to_intervals(
    readings: list[_RawReading],
    reading_type: _ReadingType,
    where: str,
    warnings: list,
    rejected: list,
) -> list[Interval]:
    if reading_type.uom != WATT_HOURS:
        unit = _UNITS.get(reading_type.uom, "unknown")
        for reading in readings:
            rejected.append((reading.where, f"uom {reading_type.uom} ({unit}) is not energy in Wh"))
        return []
    if reading_type.flow not in (FORWARD, NET, REVERSE):
        for reading in readings:
            rejected.append(
                (
                    reading.where,
                    f"flowDirection {reading_type.flow} is neither delivered (1), net (4) nor received (19)",
                )
            )
        return []
    if reading_type.accumulation not in _PER_INTERVAL | _CUMULATIVE:
        for reading in readings:
            rejected.append(
                (
                    reading.where,
                    f"accumulationBehaviour {reading_type.accumulation} is not interval energy",
                )
            )
        return []
    readings = sorted(readings, key=lambda reading: reading.start)
    _fill_durations(readings, reading_type, where, warnings)
    if reading_type.accumulation in _CUMULATIVE:
        warnings.append(f"{where}: cumulative register readings converted to interval deltas")
        deltas = []
        for previous, current in pairwise(readings):
            if current.value < previous.value:
                rejected.append((current.where, "register reading went backwards"))
                continue
            deltas.append(
                _RawReading(
                    previous.where,
                    previous.start,
                    current.start - previous.start,
                    current.value - previous.value,
                )
            )
        readings = deltas
    sign = -1 if reading_type.flow == REVERSE else 1
    exponent = reading_type.multiplier - 3  # Wh x 10^multiplier -> kWh
    return [
        Interval(
            start=datetime.fromtimestamp(reading.start, tz=UTC),
            seconds=reading.seconds,
            kwh=sign * reading.value.scaleb(exponent),
        )
        for reading in readings
    ]


def _usage_point_info(entry: _Entry) -> UsagePointInfo:
    return UsagePointInfo(key=entry.key, title=entry.title)


def _matches(entry: _Entry, wanted: str) -> bool:
    """A UsagePoint is chosen by its href (full or path), the tail of its href, title or id."""
    wanted = wanted.strip()
    names = {entry.key, entry.atom_id, entry.title} - {""}
    if wanted in names or _path(wanted) in names:
        return True
    tail = "/" + wanted.strip("/")
    return bool(entry.self_href and tail != "/" and entry.self_href.endswith(tail))


def _choose_usage_point(points: list[_Entry], wanted: str | None) -> _Entry | None:
    if wanted:
        chosen = [point for point in points if _matches(point, wanted)]
        if len(chosen) != 1:
            listed = "; ".join(_usage_point_info(point).label for point in points) or "none"
            raise IntervalFileError(f"no single UsagePoint {wanted!r} in the file; found: {listed}")
        return chosen[0]
    if len(points) > 1:
        raise MultipleUsagePoints([_usage_point_info(point) for point in points])
    return points[0] if points else None


def _linked(children: list[_Entry], parent: _Entry, only_parent: bool, what: str, warnings: list):
    linked = [child for child in children if child.under(parent)]
    if not linked and only_parent and children:
        warnings.append(
            f"{len(children)} {what} not linked to {parent.kind or 'its parent'} {parent.key}; assigned to it, the only one in the file"
        )
        return children
    return linked


def _reading_type_for(meter: _Entry, reading_types: list[_Entry], warnings: list) -> _ReadingType:
    where = f"MeterReading {meter.title or meter.key}"
    embedded = _child(meter.resource, "ReadingType") if meter.resource is not None else None
    if embedded is not None:
        warnings.append(
            f"{where}: ReadingType embedded in the MeterReading (not schema-conformant), used"
        )
        return _reading_type(embedded, where)
    linked = [
        entry for entry in reading_types if entry.self_href and entry.self_href in meter.related
    ]
    if not linked and len(reading_types) == 1:
        warnings.append(f"{where}: no ReadingType linked; the only one in the file used")
        linked = reading_types
    if not linked:
        warnings.append(
            f"{where}: no ReadingType; assumed Wh, multiplier 0, delivered, interval data"
        )
        return _ReadingType()
    return _reading_type(linked[0].resource, where)


def _meter_reading_intervals(
    meter, blocks, reading_types, warnings, rejected
) -> tuple[int, list[Interval]]:
    """(flow direction, intervals) of one MeterReading."""
    where = f"MeterReading {meter.title or meter.key}"
    reading_type = _reading_type_for(meter, reading_types, warnings)
    warnings.extend(reading_type.fixes)
    elements = [block.resource for block in blocks]
    if meter.resource is not None:  # containment: blocks written inside the MeterReading itself
        elements += _children(meter.resource, "IntervalBlock")
    readings = _raw_readings(elements, where, rejected)
    return reading_type.flow, _to_intervals(readings, reading_type, where, warnings, rejected)


def _combine(
    by_meter: list[tuple[str, int, list[Interval]]], warnings: list, rejected: list
) -> list[Interval]:
    """One series per usage point: per flow direction the finest MeterReading (a file may carry
    the same energy hourly and daily), then delivered (+) and received (-) netted per start."""
    chosen: dict[int, tuple[str, list[Interval]]] = {}
    for name, flow, intervals in by_meter:
        if not intervals:
            continue
        current = chosen.get(flow)
        finest = min(interval.seconds for interval in intervals)
        if current is None:
            chosen[flow] = (name, intervals)
            continue
        current_finest = min(interval.seconds for interval in current[1])
        if (finest, -len(intervals)) < (current_finest, -len(current[1])):
            warnings.append(
                f"{current[0]} skipped: {name} carries the same flow direction at a finer interval"
            )
            chosen[flow] = (name, intervals)
        else:
            warnings.append(
                f"{name} skipped: {current[0]} carries the same flow direction at a finer interval"
            )
    if len(chosen) <= 1:
        return next(iter(chosen.values()), ("", []))[1]
    merged: dict[datetime, Interval] = {}
    for name, intervals in chosen.values():
        for interval in intervals:
            existing = merged.get(interval.start)
            if existing is None:
                merged[interval.start] = interval
            elif existing.seconds != interval.seconds:
                rejected.append(
                    (
                        f"{name}, {interval.start.isoformat()}",
                        "interval length differs from the other flow direction's",
                    )
                )
            else:
                merged[interval.start] = Interval(
                    interval.start, interval.seconds, existing.kwh + interval.kwh
                )
    return list(merged.values())


def list_usage_points(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[UsagePointInfo]:
    """The UsagePoints of a Green Button file, for a person to choose from."""
    root = parse_untrusted_xml(data, max_bytes=max_bytes)
    return [_usage_point_info(entry) for entry in _entries(root) if entry.kind == "UsagePoint"]


def read_green_button(
    data: bytes, *, usage_point: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> IntervalFile:
    """Read the interval data of one UsagePoint of a Green Button feed.

    Raises HostileXml / MalformedXml (ValueErrors) for refused XML, MultipleUsagePoints when the
    file holds several and ``usage_point`` (key, href tail, title or Atom id) chose none, and
    IntervalFileError when the document is not a Green Button feed at all."""
    root = parse_untrusted_xml(data, max_bytes=max_bytes)
    entries = _entries(root)
    by_kind = defaultdict(list)
    for entry in entries:
        by_kind[entry.kind].append(entry)
    meters, blocks = by_kind["MeterReading"], by_kind["IntervalBlock"]
    if not (by_kind["UsagePoint"] or meters or blocks):
        raise IntervalFileError(
            "not a Green Button feed: no UsagePoint, MeterReading or IntervalBlock entry"
        )
    warnings: list[str] = []
    rejected: list[tuple[str, str]] = []
    point = _choose_usage_point(by_kind["UsagePoint"], usage_point)
    if point is None:
        warnings.append("no UsagePoint entry; every MeterReading in the file read as one premise")
        point_meters = meters
    else:
        category = (
            _text(_child(point.resource, "ServiceCategory"), "kind")
            if point.resource is not None
            else None
        )
        if category not in (None, ELECTRICITY):
            raise IntervalFileError(
                f"UsagePoint {point.key} is not electricity (ServiceCategory kind {category})"
            )
        point_meters = _linked(
            meters, point, len(by_kind["UsagePoint"]) == 1, "MeterReading(s)", warnings
        )
    if not point_meters and blocks:
        raise IntervalFileError("IntervalBlocks without a MeterReading: their unit is unknown")
    series = []
    for meter in point_meters:
        meter_blocks = _linked(blocks, meter, len(point_meters) == 1, "IntervalBlock(s)", warnings)
        flow, intervals = _meter_reading_intervals(
            meter, meter_blocks, by_kind["ReadingType"], warnings, rejected
        )
        series.append((f"MeterReading {meter.title or meter.key}", flow, intervals))
    intervals = _combine(series, warnings, rejected)
    if not intervals:
        warnings.append("the file holds no interval readings for this UsagePoint")
    return IntervalFile(
        intervals=finish_intervals(intervals, warnings, rejected),
        warnings=warnings,
        rejected=rejected,
        usage_point=_usage_point_info(point).label if point else None,
        kind="green_button",
    )

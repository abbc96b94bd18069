"""An OpenADR 2.0b event's target interval by interval (``Event.target_profile`` rows) and
the setpoints it is made of (see ``openadr``'s module docstring for the mapping)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from dispatch.grid.oadr2b_xml import SI_SCALE, VtnEvent

PRICE_SIGNALS = {"ELECTRICITY_PRICE", "ENERGY_PRICE", "DEMAND_CHARGE", "BID_PRICE"}
_UNITS_IN_KW = {"w": 0.001, "kw": 1.0, "mw": 1000.0, "": 1.0}


class Malformed(ValueError):
    """The event lacks what the portal needs to act on it."""


def whole_minutes(value: timedelta) -> int:
    return max(0, math.ceil(value.total_seconds() / 60))


def setpoint_kw(value: float, *, units: str, scale: str) -> float:
    """A setpoint in kW from its value, ``itemUnits`` and ``siScaleCode`` (50 W scale k is
    50 kW)."""
    unit_kw = _UNITS_IN_KW.get(units.lower(), _UNITS_IN_KW.get(units.lower().removeprefix("real")))
    if unit_kw is None:
        raise Malformed(f"LOAD_DISPATCH in {units!r} is not a power the portal can dispatch.")
    if scale not in SI_SCALE:
        raise Malformed(f"siScaleCode {scale!r} is not an OpenADR scale.")
    return abs(value) * SI_SCALE[scale] * unit_kw


def _spans(signal, *, ends_at: datetime) -> list[tuple[datetime, datetime, float]]:
    """(start, end, value) of each interval; a zero duration lasts until the next interval
    (or the event's end), as OpenLEADR writes a single interval for the whole event."""
    spans = []
    intervals = sorted(signal.intervals, key=lambda i: i.starts_at)
    for n, interval in enumerate(intervals):
        end = interval.starts_at + interval.duration
        if interval.duration <= timedelta(0):
            end = intervals[n + 1].starts_at if n + 1 < len(intervals) else ends_at
        spans.append((interval.starts_at, end, interval.value))
    return spans


def _value_at(spans, moment: datetime) -> float | None:
    return next((v for start, end, v in spans if start <= moment < end), None)


def target_profile(vtn_event: VtnEvent) -> tuple[dict, ...]:
    """The event's target interval by interval (``Event.target_profile`` rows, offsets from
    the event's start): cut wherever a signal's interval starts or ends, merged where nothing
    changes."""
    starts_at = vtn_event.starts_at
    ends_at = starts_at + vtn_event.duration
    signals = [(sig, _spans(sig, ends_at=ends_at)) for sig in vtn_event.signals]
    cuts = {starts_at, ends_at}
    for _, spans in signals:
        cuts.update(t for start, end, _ in spans for t in (start, end) if starts_at < t < ends_at)
    rows: list[dict] = []
    points = sorted(cuts)
    for begin, end in zip(points, points[1:], strict=False):
        middle = begin + (end - begin) / 2
        dispatch_kw = level = None
        calls = not signals  # no signal at all: the event itself is the call
        for signal, spans in signals:
            value = _value_at(spans, middle)
            if value is None:
                continue
            if signal.name == "LOAD_DISPATCH":
                kw = setpoint_kw(value, units=signal.units, scale=signal.scale)
                dispatch_kw = max(dispatch_kw or 0.0, kw)
            elif signal.name == "SIMPLE":
                level = max(level or 0.0, value)
            elif signal.name not in PRICE_SIGNALS:
                calls = True  # e.g. LOAD_CONTROL: a call to act, all available
        if dispatch_kw is not None:
            target = round(dispatch_kw, 6)
        elif (level or 0) > 0 or calls:
            target = None
        else:
            target = 0.0
        offset = whole_minutes(begin - starts_at)
        row = {"offset_minutes": offset, "duration_minutes": whole_minutes(end - starts_at) - offset,
               "target_kw": target, "level": level}  # fmt: skip
        if row["duration_minutes"] <= 0:
            continue
        if rows and (rows[-1]["target_kw"], rows[-1]["level"]) == (target, level):
            rows[-1]["duration_minutes"] += row["duration_minutes"]
        else:
            rows.append(row)
    return tuple(rows)


def shifted_profile(profile, *, by_minutes: int, duration_minutes: int) -> list[dict]:
    """The profile of what is left of an event called to start ``by_minutes`` later (an event
    already running at the VTN starts at the next minute here)."""
    rows = []
    for row in profile:
        begin = max(0, row["offset_minutes"] - by_minutes)
        end = min(duration_minutes, row["offset_minutes"] + row["duration_minutes"] - by_minutes)
        if end > begin:
            rows.append({**row, "offset_minutes": begin, "duration_minutes": end - begin})
    return rows

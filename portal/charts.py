"""What every server-rendered chart shares: axis ticks, number labels and time labels.

The portal's charts are inline SVG whose geometry is computed in Python and drawn by a
template: no JavaScript and no third-party code, so a chart works everywhere the page does,
and a screen reader gets a title, a summary and the data as a table. Each app builds its own
chart from these (devices: telemetry; dispatch: the event console and report; incentives:
budgets; interconnection: report bars).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from django.utils.dateformat import format as date_format

MINUS = "\u2212"


@dataclass(frozen=True)
class Tick:
    position: float  # x or y in SVG units
    label: str
    sublabel: str = ""  # the date under a time label


def nice_ticks(low: float, high: float, *, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10ⁿ apart) covering [low, high]: the finest such
    step that needs at most ``count`` intervals."""
    if high <= low:
        high = low + 1
    magnitude = 10 ** math.floor(math.log10((high - low) / count))
    for step in (m * magnitude * decade for decade in (1, 10, 100) for m in (1, 2, 2.5, 5)):
        first = math.floor(low / step + 1e-9)
        last = math.ceil(high / step - 1e-9)
        if last - first <= count:
            break
    return [round(i * step, 10) for i in range(first, last + 1)]


def number_label(value: float) -> str:
    text = f"{value:,.1f}".removesuffix(".0")
    return text.replace("-", MINUS)


def time_ticks(
    *,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    x_of: Callable[[datetime], float],
    every_minutes: int,
    date_first: bool,
) -> list[Tick]:
    """Labels at round local times every ``every_minutes`` (walked in quarter hours, so DST
    changes and zones with half-hour offsets come out right); the date under each local
    midnight, and under the first label too when ``date_first``."""
    ticks: list[Tick] = []
    moment = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    if moment < start:
        moment += timedelta(minutes=15)
    while moment <= end:
        local = moment.astimezone(tz)
        if (local.hour * 60 + local.minute) % every_minutes == 0:
            midnight = local.hour == 0 and local.minute == 0
            dated = midnight or (date_first and not ticks)
            ticks.append(
                Tick(
                    position=round(x_of(moment), 1),
                    label=date_format(local, "H:i"),
                    sublabel=date_format(local, "D j M") if dated else "",
                )
            )
        moment += timedelta(minutes=15)
    return ticks

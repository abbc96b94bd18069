"""What every server-rendered chart shares: axis ticks, number labels and time labels.

The portal's charts are inline SVG whose geometry is computed in Python and drawn by a
template: no JavaScript and no third-party code, so a chart works everywhere the page does,
and a screen reader gets a title, a summary and the data as a table. Each app builds its
charts in its own charts or reports module from these (devices: telemetry; dispatch: the
event console and report), and horizontal bars with ``bar_chart`` (incentives: budgets;
interconnection: report bars).
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


# --- Horizontal bar charts --------------------------------------------------------------------


@dataclass(frozen=True)
class BarValue:
    """One row of a bar chart as the caller knows it: what to draw, before any geometry."""

    label: str
    value: float | None  # None: no bar (nothing measured), the text says so
    text: str  # the value as written at the bar's end
    title: str = ""  # the bar's tooltip
    color: str = ""
    behind: float | None = None  # a wider, lighter bar behind this one (a 90th percentile)
    behind_title: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str
    title: str
    color: str
    y: float  # the top of the bar
    x: float
    width: float
    text_x: float  # where the value label starts, right of both bars
    text_y: float
    behind_title: str = ""
    behind_y: float = 0.0
    behind_x: float = 0.0
    behind_width: float = 0.0  # 0: nothing behind


@dataclass(frozen=True)
class BarChart:
    """Geometry of horizontal bars, one per row: a label column left of ``left``, the value
    axis from ``left`` to ``right`` (ticks at round values, zero marked), room for the value
    labels right of it. ``title`` and ``description`` are for screen readers."""

    title: str
    description: str
    bars: list[Bar]
    ticks: list[Tick]
    zero_x: float
    width: int
    left: int
    right: int
    top: int
    row_height: int
    bar_height: int
    behind_height: int
    unit: str = ""

    @property
    def plot_bottom(self) -> int:
        return self.top + len(self.bars) * self.row_height

    @property
    def tick_label_y(self) -> int:
        return self.plot_bottom + 16

    @property
    def height(self) -> int:
        return self.plot_bottom + 26

    @property
    def label_x(self) -> int:
        return self.left - 8


def bar_chart(
    *,
    title: str,
    description: str,
    values: list[BarValue],
    width: int = 640,
    left: int = 96,
    right: int | None = None,
    top: int = 8,
    row_height: int = 36,
    bar_height: int = 24,
    behind_height: int | None = None,
    high: float | None = None,
    tick_label: Callable[[float], str] = number_label,
    unit: str = "",
) -> BarChart:
    """Horizontal bars on one value axis: its ticks are ``nice_ticks`` covering zero, every
    value (and every bar behind one) and ``high`` when given. A negative value is drawn left
    of zero; a zero still shows as a hairline, a missing value (None) as nothing."""
    right = width - 96 if right is None else right
    amounts = [v for b in values for v in (b.value, b.behind) if v is not None]
    ticks = nice_ticks(min(0.0, *amounts), max(1.0, high or 0.0, *amounts))
    low, top_value = ticks[0], ticks[-1]

    def x_of(value: float) -> float:
        return round(left + (value - low) / (top_value - low) * (right - left), 1)

    zero_x = x_of(0.0)
    behind_height = bar_height if behind_height is None else behind_height
    bars = []
    for row, v in enumerate(values):
        row_top = top + row * row_height
        end = x_of(v.value) if v.value is not None else zero_x
        behind_end = x_of(v.behind) if v.behind is not None else zero_x
        bars.append(
            Bar(
                label=v.label,
                value=v.value,
                text=v.text,
                title=v.title,
                color=v.color,
                y=row_top + (row_height - bar_height) / 2,
                x=min(zero_x, end),
                # A zero still shows as a hairline; nothing measured shows no bar.
                width=round(max(abs(end - zero_x), 1.0), 1) if v.value is not None else 0.0,
                text_x=round(max(zero_x, end, behind_end) + 6, 1),
                text_y=row_top + row_height / 2 + 4,
                behind_title=v.behind_title,
                behind_y=row_top + (row_height - behind_height) / 2,
                behind_x=min(zero_x, behind_end),
                behind_width=round(abs(behind_end - zero_x), 1),
            )
        )
    return BarChart(
        title=title,
        description=description,
        bars=bars,
        ticks=[Tick(position=x_of(t), label=tick_label(t)) for t in ticks],
        zero_x=zero_x,
        width=width,
        left=left,
        right=right,
        top=top,
        row_height=row_height,
        bar_height=bar_height,
        behind_height=behind_height,
        unit=unit,
    )

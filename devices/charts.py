"""The telemetry chart: geometry for an inline SVG, computed here (with ``portal.charts``) and
drawn by templates/devices/_telemetry_chart.html.

The telemetry chart has two panels over one time axis: state of charge (0–100 %) above,
power below (+ charging, − discharging, with a zero line). Times are labelled in the
utility's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from django.utils.dateformat import format as date_format

from devices.selectors import TelemetryPoint
from portal import charts
from portal.charts import MINUS, Tick, nice_ticks, number_label

WIDTH = 760
LEFT, RIGHT = 64, 16
PANEL_HEIGHT = 150
PANEL_GAP = 34
TOP = 22
BOTTOM = 44
PLOT_WIDTH = WIDTH - LEFT - RIGHT
HEIGHT = TOP + 2 * PANEL_HEIGHT + PANEL_GAP + BOTTOM
TICK_EVERY_HOURS = 6


@dataclass(frozen=True)
class Panel:
    title: str
    top: float
    height: float
    y_ticks: list[Tick]
    path: str  # SVG path data; "M" starts each unbroken run of data
    zero_y: float | None = None  # where 0 sits, when the axis spans it (power)
    color: str = "#0b5cad"

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def title_y(self) -> float:
        return self.top - 5


@dataclass(frozen=True)
class TelemetryChart:
    title: str
    description: str
    panels: list[Panel]
    x_ticks: list[Tick]
    points: Sequence[TelemetryPoint]
    interval_minutes: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_width: int = PLOT_WIDTH
    right: int = LEFT + PLOT_WIDTH
    axis_y: int = TOP + 2 * PANEL_HEIGHT + PANEL_GAP
    x_label_y: int = TOP + 2 * PANEL_HEIGHT + PANEL_GAP + 16
    x_sublabel_y: int = TOP + 2 * PANEL_HEIGHT + PANEL_GAP + 31


def time_ticks(*, start: datetime, end: datetime, tz: tzinfo) -> list[Tick]:
    """Ticks every six local hours (00, 06, 12, 18), the date under midnight."""
    span = (end - start).total_seconds()
    return charts.time_ticks(
        start=start,
        end=end,
        tz=tz,
        x_of=lambda moment: LEFT + (moment - start).total_seconds() / span * PLOT_WIDTH,
        every_minutes=TICK_EVERY_HOURS * 60,
        date_first=False,
    )


def _path(xy: list[tuple[datetime, float]], *, start, span, top, height, low, high, gap) -> str:
    parts = []
    previous = None
    for at, value in xy:
        x = LEFT + (at - start).total_seconds() / span * PLOT_WIDTH
        y = top + height - (value - low) / (high - low) * height
        if previous is not None and at - previous <= gap:
            parts.append(f"L{x:.1f},{y:.1f}")
        else:
            # A new run after a gap. The zero-length segment keeps a lone point visible
            # (drawn as a dot by the round line cap).
            parts.append(f"M{x:.1f},{y:.1f} L{x:.1f},{y:.1f}")
        previous = at
    return " ".join(parts)


def telemetry_chart(
    *,
    points: Sequence[TelemetryPoint],
    start: datetime,
    end: datetime,
    interval_minutes: int,
    tz: tzinfo,
    subject: str,
) -> TelemetryChart | None:
    """The chart for ``points`` (oldest first) between ``start`` and ``end``, or None when
    there is nothing to draw. Each point sits at the middle of its interval; a break of more
    than an hour (or three intervals) in the data breaks the line instead of bridging it."""
    if not points:
        return None
    span = (end - start).total_seconds()
    hours = round(span / 3600)
    half = timedelta(minutes=interval_minutes / 2)
    gap = max(timedelta(hours=1), timedelta(minutes=3 * interval_minutes))

    soc_top = TOP
    soc_ticks = [0, 25, 50, 75, 100]
    soc_path = _path(
        [(p.at + half, min(100.0, max(0.0, p.soc_pct))) for p in points],
        start=start, span=span, top=soc_top, height=PANEL_HEIGHT, low=0, high=100, gap=gap,
    )  # fmt: skip

    powers = [p.power_kw for p in points]
    power_values = nice_ticks(min(0.0, min(powers)), max(0.0, max(powers), 1.0))
    low, high = power_values[0], power_values[-1]
    power_top = TOP + PANEL_HEIGHT + PANEL_GAP
    power_path = _path(
        [(p.at + half, p.power_kw) for p in points],
        start=start, span=span, top=power_top, height=PANEL_HEIGHT, low=low, high=high, gap=gap,
    )  # fmt: skip

    def y_for(value, top, lo, hi):
        return round(top + PANEL_HEIGHT - (value - lo) / (hi - lo) * PANEL_HEIGHT, 1)

    socs = [p.soc_pct for p in points]
    first, last = points[0].at.astimezone(tz), (points[-1].at + 2 * half).astimezone(tz)
    description = (
        f"{len(points)} points, each the mean of {interval_minutes}-minute intervals, "
        f"from {date_format(first, 'D j M H:i')} to {date_format(last, 'D j M H:i T')}. "
        f"State of charge between {number_label(min(socs))} % and {number_label(max(socs))} %, "
        f"latest {number_label(socs[-1])} %. "
        f"Power between {number_label(min(powers))} kW and {number_label(max(powers))} kW "
        f"(+ charging, {MINUS} discharging), latest {number_label(powers[-1])} kW."
    )
    return TelemetryChart(
        title=f"State of charge and power of {subject}, last {hours} hours",
        description=description,
        panels=[
            Panel(
                title="State of charge (%)",
                top=soc_top,
                height=PANEL_HEIGHT,
                y_ticks=[Tick(y_for(v, soc_top, 0, 100), f"{v} %") for v in soc_ticks],
                path=soc_path,
                color="#1f7a3a",
            ),
            Panel(
                title=f"Power (kW, + charging, {MINUS} discharging)",
                top=power_top,
                height=PANEL_HEIGHT,
                y_ticks=[
                    Tick(y_for(v, power_top, low, high), number_label(v)) for v in power_values
                ],
                path=power_path,
                zero_y=y_for(0, power_top, low, high),
                color="#0b5cad",
            ),
        ],
        x_ticks=time_ticks(start=start, end=end, tz=tz),
        points=points,
        interval_minutes=interval_minutes,
    )

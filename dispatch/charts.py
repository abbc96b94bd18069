"""The event console's chart: target, committed and delivered kW per interval, as geometry for
an inline SVG drawn by templates/dispatch/_event_chart.html (server-side, with the
shared ticks of ``portal.charts``). A screen reader gets a title, a
summary and the same numbers as a table.

Committed kW are bars (what the plan counts on), the target a dashed step line, delivered
kW a line through each measured interval's middle; intervals not measured yet (the future)
have no delivered point. A vertical line marks "now" while the event runs.

The event report's chart (``report_chart``, drawn by templates/dispatch/event_report.html)
is here too: target, committed, baseline, actual and delivered kW per measured interval, each
a line through the intervals' middles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from django.utils.dateformat import format as date_format

from portal import charts
from portal.charts import Tick, nice_ticks, number_label

WIDTH = 760
LEFT, RIGHT = 64, 16
TOP = 46  # room for the legend
PLOT_HEIGHT = 220
BOTTOM = 44
PLOT_WIDTH = WIDTH - LEFT - RIGHT
HEIGHT = TOP + PLOT_HEIGHT + BOTTOM
TARGET_COLOR = "#b42318"
COMMITTED_COLOR = "#9cc2ea"
DELIVERED_COLOR = "#1f7a3a"
REBOUND_COLOR = "#b54708"
# Minutes between time labels, by the chart's span in hours: about ten labels at most.
TICK_STEPS = ((3, 15), (6, 30), (12, 60), (24, 120), (72, 360))


class Interval(Protocol):
    """One row of ``dispatch.measurement.intervals.interval_summary``."""

    start: datetime
    end: datetime
    target_kw: float | None
    committed_kw: float | None
    delivered_kw: float | None
    rebound_kw: float | None


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Marker:
    x: float
    y: float


@dataclass(frozen=True)
class EventChart:
    title: str
    description: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    zero_y: float
    bars: list[Bar]  # committed
    target_path: str
    delivered_path: str
    delivered_markers: list[Marker]
    now_x: float | None
    # Load above the baseline (the fleet charging back after restores): its own line,
    # never a negative delivery.
    rebound_path: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = PLOT_WIDTH
    plot_height: int = PLOT_HEIGHT
    right: int = LEFT + PLOT_WIDTH
    bottom: int = TOP + PLOT_HEIGHT
    x_label_y: int = TOP + PLOT_HEIGHT + 16
    x_sublabel_y: int = TOP + PLOT_HEIGHT + 31
    legend_y: int = 16
    target_color: str = TARGET_COLOR
    committed_color: str = COMMITTED_COLOR
    delivered_color: str = DELIVERED_COLOR
    rebound_color: str = REBOUND_COLOR


def _tick_minutes(span_hours: float) -> int:
    for hours, minutes in TICK_STEPS:
        if span_hours <= hours:
            return minutes
    return 720


def time_ticks(*, start: datetime, end: datetime, tz: tzinfo, x_of) -> list[Tick]:
    """Labels at round local times, about ten at most; the date under the first label and
    under each local midnight."""
    return charts.time_ticks(
        start=start,
        end=end,
        tz=tz,
        x_of=x_of,
        every_minutes=_tick_minutes((end - start).total_seconds() / 3600),
        date_first=True,
    )


def _kw(value: float) -> str:
    return f"{number_label(value)} kW"


def _describe(intervals: Sequence[Interval], *, tz: tzinfo) -> str:
    first, last = intervals[0].start.astimezone(tz), intervals[-1].end.astimezone(tz)
    minutes = round((intervals[0].end - intervals[0].start).total_seconds() / 60)
    parts = [
        f"{len(intervals)} intervals of {minutes} minutes from "
        f"{date_format(first, 'D j M H:i')} to {date_format(last, 'D j M H:i T')}."
    ]
    targets = {i.target_kw for i in intervals if i.target_kw is not None}
    if not targets:
        parts.append("Target: all available.")
    elif len(targets) == 1:
        parts.append(f"Target {_kw(targets.pop())}.")
    else:
        parts.append(f"Target between {_kw(min(targets))} and {_kw(max(targets))}.")
    committed = [i.committed_kw for i in intervals if i.committed_kw is not None]
    if committed and min(committed) == max(committed):
        parts.append(f"Committed {_kw(committed[0])} throughout.")
    elif committed:
        parts.append(f"Committed between {_kw(min(committed))} and {_kw(max(committed))}.")
    else:
        parts.append("Nothing committed yet.")
    delivered = [i.delivered_kw for i in intervals if i.delivered_kw is not None]
    if delivered:
        mean = sum(delivered) / len(delivered)
        parts.append(
            f"Delivered in {len(delivered)} measured interval{'s' if len(delivered) != 1 else ''}: "
            f"mean {_kw(mean)}, latest {_kw(delivered[-1])}."
        )
    else:
        parts.append("Nothing delivered or measured yet.")
    rebound = [i.rebound_kw for i in intervals if i.rebound_kw]
    if rebound:
        parts.append(f"Rebound (load above the baseline) up to {_kw(max(rebound))}.")
    return " ".join(parts)


def event_chart(
    *, intervals: Sequence[Interval], tz: tzinfo, now: datetime, subject: str
) -> EventChart | None:
    """The chart for ``intervals`` (in time order), or None when there are none."""
    if not intervals:
        return None
    start, end = intervals[0].start, intervals[-1].end
    span = (end - start).total_seconds()

    values = [0.0, 1.0]
    for i in intervals:
        values += [
            v for v in (i.target_kw, i.committed_kw, i.delivered_kw, i.rebound_kw) if v is not None
        ]
    y_values = nice_ticks(min(values), max(values))
    low, high = y_values[0], y_values[-1]

    def x_of(at: datetime) -> float:
        return LEFT + (at - start).total_seconds() / span * PLOT_WIDTH

    def y_of(value: float) -> float:
        return TOP + PLOT_HEIGHT - (value - low) / (high - low) * PLOT_HEIGHT

    zero_y = y_of(0.0)
    bars = []
    for i in intervals:
        if i.committed_kw is None:
            continue
        x0, x1 = x_of(i.start), x_of(i.end)
        top = y_of(max(i.committed_kw, 0.0))
        bottom = y_of(min(i.committed_kw, 0.0))
        gap = min(1.0, (x1 - x0) / 6)
        bars.append(
            Bar(
                round(x0 + gap, 1),
                round(top, 1),
                round(x1 - x0 - 2 * gap, 1),
                round(bottom - top, 1),
            )
        )

    # The target holds for each whole interval: a step line, broken where there is none.
    target_parts: list[str] = []
    previous_end = None
    for i in intervals:
        if i.target_kw is None:
            previous_end = None
            continue
        x0, x1, y = x_of(i.start), x_of(i.end), y_of(i.target_kw)
        move = "L" if previous_end == i.start else "M"
        target_parts.append(f"{move}{x0:.1f},{y:.1f} L{x1:.1f},{y:.1f}")
        previous_end = i.end

    markers: list[Marker] = []
    delivered_parts: list[str] = []
    previous_end = None
    for i in intervals:
        if i.delivered_kw is None:
            previous_end = None
            continue
        x, y = x_of(i.start + (i.end - i.start) / 2), y_of(i.delivered_kw)
        delivered_parts.append(f"{'L' if previous_end == i.start else 'M'}{x:.1f},{y:.1f}")
        markers.append(Marker(round(x, 1), round(y, 1)))
        previous_end = i.end

    rebound_parts: list[str] = []
    previous_end = None
    for i in intervals:
        if not i.rebound_kw:
            previous_end = None
            continue
        x, y = x_of(i.start + (i.end - i.start) / 2), y_of(i.rebound_kw)
        rebound_parts.append(f"{'L' if previous_end == i.start else 'M'}{x:.1f},{y:.1f}")
        previous_end = i.end

    return EventChart(
        title=f"Target, committed and delivered kW of {subject}",
        description=_describe(intervals, tz=tz),
        y_ticks=[Tick(round(y_of(v), 1), number_label(v)) for v in y_values],
        x_ticks=time_ticks(start=start, end=end, tz=tz, x_of=x_of),
        zero_y=round(zero_y, 1),
        bars=bars,
        target_path=" ".join(target_parts),
        delivered_path=" ".join(delivered_parts),
        delivered_markers=markers,
        now_x=round(x_of(now), 1) if start <= now <= end else None,
        rebound_path=" ".join(rebound_parts),
    )


# --- The event report's chart ---------------------------------------------------------------
# Same width and margins as the console chart; a taller plot under a one-line legend.

REPORT_TOP, REPORT_PLOT_HEIGHT = 44, 240
# (key, label, colour, dash pattern): the series the report draws, in legend order.
REPORT_SERIES = [
    ("target_kw", "Target", "#5b6676", "6 3"),
    ("committed_kw", "Committed", "#8a5cc7", "2 3"),
    ("baseline_kw", "Baseline", "#c77c0e", ""),
    ("actual_kw", "Actual", "#0b5cad", ""),
    ("delivered_kw", "Delivered", "#1f7a3a", ""),
]


@dataclass(frozen=True)
class ReportSeries:
    label: str
    color: str
    dash: str
    path: str
    legend_x: int


@dataclass(frozen=True)
class ReportChart:
    title: str
    description: str
    series: list[ReportSeries]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    zero_y: float
    width: int = WIDTH
    height: int = REPORT_TOP + REPORT_PLOT_HEIGHT + BOTTOM
    left: int = LEFT
    right: int = LEFT + PLOT_WIDTH
    top: int = REPORT_TOP
    bottom: int = REPORT_TOP + REPORT_PLOT_HEIGHT
    plot_width: int = PLOT_WIDTH
    plot_height: int = REPORT_PLOT_HEIGHT
    legend_y: int = 18
    x_label_y: int = REPORT_TOP + REPORT_PLOT_HEIGHT + 16


def _report_tick_step(span: timedelta) -> timedelta:
    """The finest of 15 min … 6 h that labels the span with at most 8 ticks."""
    for minutes in (15, 30, 60, 120, 180, 360, 720):
        if span / timedelta(minutes=minutes) <= 8:
            return timedelta(minutes=minutes)
    return timedelta(hours=24)


def report_chart(*, rows: Sequence[dict], tz: tzinfo) -> ReportChart | None:
    """Target, committed, baseline, actual and delivered kW per interval (each value drawn at
    its interval's middle; a missing value breaks the line), or None with nothing to draw."""
    values = [r[key] for r in rows for key, *_ in REPORT_SERIES if r[key] is not None]
    if not rows or not values:
        return None
    start, end = rows[0]["start"], rows[-1]["end"]
    span = end - start
    ticks = nice_ticks(min(0.0, min(values)), max(0.0, max(values), 1.0))
    low, high = ticks[0], ticks[-1]

    def x_of(moment: datetime) -> float:
        return round(LEFT + (moment - start) / span * PLOT_WIDTH, 1)

    def y_of(value: float) -> float:
        return round(
            REPORT_TOP + REPORT_PLOT_HEIGHT - (value - low) / (high - low) * REPORT_PLOT_HEIGHT, 1
        )

    series = []
    for index, (key, label, color, dash) in enumerate(REPORT_SERIES):
        parts, drawing = [], False
        for row in rows:
            value = row[key]
            if value is None:
                drawing = False
                continue
            x, y = x_of(row["start"] + (row["end"] - row["start"]) / 2), y_of(value)
            # A lone point still shows: the zero-length segment is drawn as a dot.
            parts.append(f"L{x},{y}" if drawing else f"M{x},{y} L{x},{y}")
            drawing = True
        series.append(ReportSeries(label, color, dash, " ".join(parts), LEFT + 120 * index))

    step = _report_tick_step(span)
    x_ticks, moment = [], start
    while moment <= end:
        x_ticks.append(Tick(x_of(moment), date_format(moment.astimezone(tz), "H:i")))
        moment += step
    y_ticks = [Tick(y_of(v), number_label(v)) for v in ticks]
    delivered = [r["delivered_kw"] for r in rows if r["delivered_kw"] is not None]
    description = (
        f"{len(rows)} intervals of 15 minutes from "
        f"{date_format(start.astimezone(tz), 'D j M H:i')} to "
        f"{date_format(end.astimezone(tz), 'H:i T')}. "
        + (
            f"Delivered between {_kw(min(delivered))} and {_kw(max(delivered))}."
            if delivered
            else "Nothing was measured as delivered."
        )
    )
    return ReportChart(
        title="Target, committed, baseline, actual and delivered kW",
        description=description,
        series=series,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        zero_y=y_of(0.0),
    )

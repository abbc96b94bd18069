"""The server-rendered telemetry chart's geometry: round axis ticks, local-time ticks through
DST and odd offsets, breaks in the line where data is missing."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

from devices.charts import LEFT, PLOT_WIDTH, telemetry_chart, time_ticks
from devices.selectors import TelemetryPoint, bucket_minutes_for
from portal.charts import nice_ticks

LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")


def test_it_picks_round_ticks_covering_the_range():
    assert nice_ticks(-9.6, 11.5) == [-10, -5, 0, 5, 10, 15]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1]
    assert nice_ticks(-3, 0) == [-3, -2, -1, 0]
    assert nice_ticks(0, 1234) == [0, 250, 500, 750, 1000, 1250]
    assert nice_ticks(0, 7.2) == [0, 2, 4, 6, 8]


def test_it_buckets_48_hours_into_at_most_400_points():
    assert bucket_minutes_for(hours=48, max_points=400) == 10
    assert bucket_minutes_for(hours=1, max_points=400) == 1
    assert bucket_minutes_for(hours=10_000, max_points=400) == 60


def test_it_ticks_every_six_local_hours_through_the_end_of_dst():
    # Los Angeles falls back at 02:00 PDT on 1 Nov 2026: that day has 25 hours.
    start = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    end = start + timedelta(hours=48)

    ticks = time_ticks(start=start, end=end, tz=LOS_ANGELES)

    labels = [t.label for t in ticks]
    assert labels == ["06:00", "12:00", "18:00", "00:00", "06:00", "12:00", "18:00", "00:00"]
    assert [t.sublabel for t in ticks if t.sublabel] == ["Sun 1 Nov", "Mon 2 Nov"]
    hours_apart = [
        round((b.position - a.position) / PLOT_WIDTH * 48, 1)
        for a, b in zip(ticks, ticks[1:], strict=False)
    ]
    # Midnight to 06:00 on the long day is seven real hours.
    assert hours_apart == [6, 6, 6, 7, 6, 6, 6]
    assert all(LEFT <= t.position <= LEFT + PLOT_WIDTH for t in ticks)


def test_it_finds_local_midnight_in_a_half_hour_zone():
    start = datetime(2026, 3, 1, 0, 7, tzinfo=UTC)

    ticks = time_ticks(start=start, end=start + timedelta(hours=48), tz=KOLKATA)

    assert {t.label for t in ticks} == {"00:00", "06:00", "12:00", "18:00"}
    assert len(ticks) == 8


def _points(start, minutes):
    return [
        TelemetryPoint(at=start + timedelta(minutes=m), soc_pct=50, power_kw=-3, readings=1)
        for m in minutes
    ]


def test_it_breaks_the_line_where_data_is_missing():
    end = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    start = end - timedelta(hours=48)
    # Two runs ten minutes apart inside, three hours between them, and one lone point.
    minutes = [0, 10, 20, 200, 210, 900]

    chart = telemetry_chart(
        points=_points(start, minutes),
        start=start,
        end=end,
        interval_minutes=10,
        tz=LOS_ANGELES,
        subject="TESTVIN",
    )

    soc_path = chart.panels[0].path
    assert len(re.findall(r"M", soc_path)) == 3
    # The lone point is a zero-length segment, which the round cap draws as a dot.
    assert re.search(r"M([\d.]+,[\d.]+) L\1$", soc_path)
    assert chart.title == "State of charge and power of TESTVIN, last 48 hours"
    assert "6 points" in chart.description


def test_it_keeps_zero_on_the_power_axis():
    end = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    start = end - timedelta(hours=48)

    chart = telemetry_chart(
        points=_points(start, [0, 10]),
        start=start,
        end=end,
        interval_minutes=10,
        tz=LOS_ANGELES,
        subject="TESTVIN",
    )

    power = chart.panels[1]
    labels = [t.label for t in power.y_ticks]
    assert labels[0] == "\u22123" and "0" in labels and labels[-1] == "1"
    assert power.top <= power.zero_y <= power.bottom


def test_it_draws_nothing_without_points():
    end = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert (
        telemetry_chart(
            points=[],
            start=end - timedelta(hours=48),
            end=end,
            interval_minutes=10,
            tz=LOS_ANGELES,
            subject="X",
        )
        is None
    )

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.intervals import IntervalFileError, MultipleUsagePoints, read_interval_file
from billing.intervals.greenbutton import list_usage_points, read_green_button
from tests.billing import gb_samples as gb
from tests.shared_data import shared_data

YEAR_FILE = "Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml"
NINE_DAYS_FILE = "TestGBDataHourlyNineDaysBinnedDaily.xml"
SUBSCRIPTION_FILE = "Usage-Subscription-Feed-Anonymized.xml"


def test_it_reads_the_year_of_hourly_data():
    result = read_interval_file(shared_data("greenbutton", YEAR_FILE).read_bytes())

    assert result.kind == "green_button"
    assert len(result.intervals) == 8760
    first = result.intervals[0]
    assert first.start == datetime(2011, 1, 1, 8, tzinfo=UTC)  # epoch 1293868800
    assert (first.seconds, first.kwh) == (3600, Decimal("0.450000"))  # 450 Wh
    assert result.intervals[-1].start == datetime(2012, 1, 1, 7, tzinfo=UTC)
    assert result.rejected == []
    assert result.usage_point.startswith("Coastal Multi-Family")


def test_it_reads_the_nine_days_file_across_its_daily_blocks():
    result = read_interval_file(shared_data("greenbutton", NINE_DAYS_FILE).read_bytes())

    assert len(result.intervals) == 216  # 9 IntervalBlocks x 24 hourly readings
    assert result.intervals[0].kwh == Decimal("0.273000")
    starts = [interval.start for interval in result.intervals]
    assert starts == sorted(starts)


def test_the_non_conformant_subscription_feed_imports_with_warnings():
    result = read_interval_file(shared_data("greenbutton", SUBSCRIPTION_FILE).read_bytes())

    assert result.intervals == []
    assert any("embedded in the MeterReading" in warning for warning in result.warnings)
    assert any("no interval readings" in warning for warning in result.warnings)
    assert result.usage_point.startswith("Test Usage Point")


def test_it_applies_the_power_of_ten_multiplier_to_watt_hours():
    result = read_green_button(gb.simple_feed([(gb.JAN_1_2026, 900, 15)], multiplier=2))

    assert result.intervals[0].kwh == Decimal("1.500000")  # 15 x 10^2 Wh
    assert result.intervals[0].seconds == 900


def test_a_missing_multiplier_defaults_to_zero_with_a_warning():
    result = read_green_button(gb.simple_feed(gb.hourly(2, 700), multiplier=None))

    assert [interval.kwh for interval in result.intervals] == [Decimal("0.700000")] * 2
    assert any("no powerOfTenMultiplier, assumed 0" in warning for warning in result.warnings)


def test_received_energy_is_export_and_nets_against_delivered():
    delivered = gb.interval_block(1, "01", gb.hourly(2, 2000))
    received = gb.interval_block(1, "02", gb.hourly(2, 500))
    document = gb.feed(
        received,
        gb.meter_reading(1, "02", "export"),
        gb.reading_type("export", flow=19),
        gb.usage_point(1),
        delivered,
        gb.meter_reading(1, "01", "import"),
        gb.reading_type("import", flow=1),
    )  # entries deliberately out of order

    result = read_green_button(document)

    assert [interval.kwh for interval in result.intervals] == [Decimal("1.500000")] * 2


def test_received_energy_alone_is_negative():
    result = read_green_button(gb.simple_feed(gb.hourly(1, 1200), flow=19))

    assert result.intervals[0].kwh == Decimal("-1.200000")


def test_a_missing_duration_is_inferred_from_the_neighbours():
    readings = [
        (gb.JAN_1_2026, 900, 10),
        (gb.JAN_1_2026 + 900, None, 20),
        (gb.JAN_1_2026 + 1800, 900, 30),
    ]

    result = read_green_button(gb.simple_feed(readings))

    assert [interval.seconds for interval in result.intervals] == [900, 900, 900]
    assert any("no duration; inferred" in warning for warning in result.warnings)


def test_cumulative_register_readings_become_interval_deltas():
    readings = [
        (gb.JAN_1_2026 + 3600 * hour, 3600, value) for hour, value in enumerate([100, 1100, 1600])
    ]

    result = read_green_button(gb.simple_feed(readings, accumulation=1))

    assert [interval.kwh for interval in result.intervals] == [
        Decimal("1.000000"),
        Decimal("0.500000"),
    ]
    assert any("cumulative" in warning for warning in result.warnings)


def test_a_unit_other_than_watt_hours_is_rejected_with_the_reason():
    result = read_green_button(gb.simple_feed(gb.hourly(2), uom=38))

    assert result.intervals == []
    assert len(result.rejected) == 2
    assert "uom 38 (W) is not energy in Wh" in result.rejected[0][1]


def test_namespace_prefixes_may_vary():
    result = read_green_button(gb.simple_feed(gb.hourly(3, 250), prefix="ns7", multiplier=1))

    assert [interval.kwh for interval in result.intervals] == [Decimal("2.500000")] * 3


def test_bad_readings_are_rejected_and_the_rest_kept():
    readings = gb.hourly(2) + [(gb.JAN_1_2026 + 7200, 3600, "lots"), ("later", 3600, 5)]

    result = read_green_button(gb.simple_feed(readings))

    assert len(result.intervals) == 2
    reasons = [reason for _where, reason in result.rejected]
    assert "value 'lots' is not a number" in reasons
    assert "timePeriod start missing or not a number" in reasons


def test_repeated_readings_in_the_file_are_kept_once():
    result = read_green_button(gb.simple_feed(gb.hourly(2) + gb.hourly(2)))

    assert len(result.intervals) == 2
    assert any("2 reading(s) repeated a start" in warning for warning in result.warnings)


def _two_premises() -> bytes:
    return gb.feed(
        gb.usage_point(1, "North meter"),
        gb.usage_point(2, "South meter"),
        gb.meter_reading(1, "01", "1"),
        gb.meter_reading(2, "01", "1"),
        gb.reading_type("1"),
        gb.interval_block(1, "01", gb.hourly(2, 1000)),
        gb.interval_block(2, "01", gb.hourly(3, 3000)),
    )


def test_several_usage_points_are_refused_with_the_list_unless_one_is_chosen():
    with pytest.raises(MultipleUsagePoints) as refused:
        read_green_button(_two_premises())

    assert [point.title for point in refused.value.usage_points] == ["North meter", "South meter"]
    assert "North meter" in str(refused.value)
    assert [point.title for point in list_usage_points(_two_premises())] == [
        "North meter",
        "South meter",
    ]


@pytest.mark.parametrize("choice", ["South meter", "UsagePoint/2", f"{gb.BASE}/UsagePoint/2"])
def test_the_chosen_usage_point_is_read_alone(choice):
    result = read_green_button(_two_premises(), usage_point=choice)

    assert [interval.kwh for interval in result.intervals] == [Decimal("3.000000")] * 3
    assert result.usage_point.startswith("South meter")


def test_an_unknown_usage_point_is_refused_with_the_list():
    with pytest.raises(IntervalFileError, match="found: North meter"):
        read_green_button(_two_premises(), usage_point="East meter")


def test_a_gas_usage_point_is_refused():
    document = gb.feed(
        gb.usage_point(1, kind=1), gb.meter_reading(1, "01", "1"), gb.reading_type("1")
    )

    with pytest.raises(IntervalFileError, match="not electricity"):
        read_green_button(document)


def test_an_atom_feed_without_espi_resources_is_refused():
    with pytest.raises(IntervalFileError, match="not a Green Button feed"):
        read_interval_file(gb.feed("<entry><id>x</id><title>news</title></entry>"))

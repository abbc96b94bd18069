from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.intervals import IntervalFileError, read_interval_file
from billing.intervals.csvfile import read_interval_csv


def _csv(*rows: str, header: str = "start,kwh") -> bytes:
    return "\n".join((header, *rows)).encode()


def test_it_reads_quarter_hours_with_offsets_and_z():
    result = read_interval_file(
        _csv("2026-07-01T00:00:00Z,1.25", "2026-06-30T17:15:00-07:00,0.5", "2026-07-01T00:30Z,-2"),
        filename="meter.csv",
    )

    assert result.kind == "csv"
    assert [(interval.start, interval.seconds, interval.kwh) for interval in result.intervals] == [
        (datetime(2026, 7, 1, 0, 0, tzinfo=UTC), 900, Decimal("1.250000")),
        (datetime(2026, 7, 1, 0, 15, tzinfo=UTC), 900, Decimal("0.500000")),
        (datetime(2026, 7, 1, 0, 30, tzinfo=UTC), 900, Decimal("-2.000000")),  # export
    ]
    assert result.rejected == []


def test_a_naive_time_is_rejected_with_its_row_number():
    result = read_interval_csv(
        _csv("2026-07-01T00:00Z,1", "2026-07-01T01:00,1", "2026-07-01T02:00Z,1")
    )

    assert [interval.start.hour for interval in result.intervals] == [0, 2]
    assert result.rejected == [
        ("row 3", "start '2026-07-01T01:00' has no UTC offset; write it with an offset or Z")
    ]


def test_bad_rows_are_rejected_with_reasons():
    result = read_interval_csv(
        _csv(
            "2026-07-01T00:00Z,1",
            "yesterday,1",
            "2026-07-01T01:00Z,abc",
            "2026-07-01T02:00Z",
            "2026-07-01T00:00Z,9",
            "2026-07-01T03:00Z,NaN",
            "2026-07-01T04:00Z,2",
        )
    )

    assert [interval.kwh for interval in result.intervals] == [
        Decimal("1.000000"),
        Decimal("2.000000"),
    ]
    assert dict(result.rejected) == {
        "row 3": "start 'yesterday' is not an ISO 8601 time",
        "row 4": "kwh 'abc' is not a number",
        "row 5": "1 column(s), expected 2",
        "row 6": "start 2026-07-01T00:00Z repeats row 2",
        "row 7": "kwh 'NaN' is not a number",
    }


def test_the_interval_length_is_the_modal_spacing_and_gaps_are_reported():
    rows = [f"2026-07-01T{hour:02d}:00Z,1" for hour in (0, 1, 2, 3, 6, 7)]
    rows.append("2026-07-01T08:20Z,1")

    result = read_interval_csv(_csv(*rows))

    assert {interval.seconds for interval in result.intervals} == {3600}
    assert any("interval length 3600 s inferred" in warning for warning in result.warnings)
    assert any(
        "1 gap(s), 2 interval(s) missing, after 2026-07-01T03:00:00+00:00" in w
        for w in result.warnings
    )
    assert any("1 spacing(s) not a multiple of 3600 s" in warning for warning in result.warnings)


def test_a_row_inside_the_previous_interval_is_rejected_as_overlap():
    result = read_interval_csv(
        _csv(
            "2026-07-01T00:00Z,1",
            "2026-07-01T00:15Z,1",
            "2026-07-01T00:20Z,1",
            "2026-07-01T00:30Z,1",
            "2026-07-01T00:45Z,1",
            "2026-07-01T01:00Z,1",
        )
    )

    assert len(result.intervals) == 5
    assert result.rejected == [
        ("2026-07-01T00:20:00+00:00", "starts inside the previous interval (overlap)")
    ]


def test_rows_out_of_order_are_sorted_with_a_warning():
    result = read_interval_csv(_csv("2026-07-01T01:00Z,2", "2026-07-01T00:00Z,1"))

    assert [interval.kwh for interval in result.intervals] == [
        Decimal("1.000000"),
        Decimal("2.000000"),
    ]
    assert "readings were not in time order; sorted" in result.warnings


def test_extra_columns_and_a_byte_order_mark_are_tolerated():
    data = "\ufeffStart, kWh ,meter\n2026-07-01T00:00Z,1,A\n2026-07-01T01:00Z,2,A\n".encode()

    result = read_interval_csv(data)

    assert len(result.intervals) == 2
    assert "column(s) ignored: meter" in result.warnings


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"when,energy\n2026-07-01T00:00Z,1\n", "header must name the columns start,kwh"),
        (_csv("2026-07-01T00:00,1", "2026-07-01T01:00,1"), "no usable row: row 2: start"),
        (_csv(), "no data rows"),
        (_csv("2026-07-01T00:00Z,1"), "at least two are needed"),
        ("start,kwh\n2026-07-01T00:00Z,1\xff".encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_file_with_nothing_usable_is_refused(data, message):
    with pytest.raises(IntervalFileError, match=message):
        read_interval_csv(data)

"""CSV interval files: a ``start,kwh`` header, one interval per row.

Start times are ISO 8601 with an offset or ``Z`` (a naive time could be either side of a DST
change, so it is refused with its row number). The interval length is not in the file: it is
the modal spacing of consecutive starts, and spacings that differ from it are reported. A
negative kWh is export to the grid.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from billing.intervals.series import finish_intervals
from billing.intervals.types import Interval, IntervalFile, IntervalFileError

REQUIRED_COLUMNS = ("start", "kwh")
_EXAMPLES = 3  # anomalies listed by time before the rest are only counted


def _parse_start(text: str) -> datetime:
    start = datetime.fromisoformat(text.strip())
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("naive")
    return start.astimezone(UTC)


def _rows(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IntervalFileError(f"not UTF-8 text (byte {error.start})") from error
    numbered = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
        if any(cell.strip() for cell in row)
    ]
    if not numbered:
        raise IntervalFileError("the file is empty")
    header = [cell.strip().lower() for cell in numbered[0][1]]
    if any(column not in header for column in REQUIRED_COLUMNS):
        raise IntervalFileError(
            f"the header must name the columns start,kwh; found {','.join(header)[:200]!r}"
        )
    return header, numbered[1:]


def _spacing_report(starts: list[datetime], seconds: int) -> list[str]:
    gaps, irregular, missing = [], [], 0
    for previous, current in pairwise(starts):
        spacing = int((current - previous).total_seconds())
        if spacing == seconds:
            continue
        if spacing > seconds and spacing % seconds == 0:
            gaps.append(previous)
            missing += spacing // seconds - 1
        elif spacing > seconds:
            irregular.append(previous)

    def listed(times: list[datetime]) -> str:
        shown = ", ".join(time.isoformat() for time in times[:_EXAMPLES])
        return shown + (f" and {len(times) - _EXAMPLES} more" if len(times) > _EXAMPLES else "")

    report = []
    if gaps:
        report.append(f"{len(gaps)} gap(s), {missing} interval(s) missing, after {listed(gaps)}")
    if irregular:
        report.append(
            f"{len(irregular)} spacing(s) not a multiple of {seconds} s, after {listed(irregular)}"
        )
    return report


def read_interval_csv(data: bytes) -> IntervalFile:
    header, rows = _rows(data)
    start_column, kwh_column = header.index("start"), header.index("kwh")
    warnings: list[str] = []
    rejected: list[tuple[str, str]] = []
    if len(header) > len(REQUIRED_COLUMNS):
        extra = [column for column in header if column not in REQUIRED_COLUMNS]
        warnings.append(f"column(s) ignored: {', '.join(extra)}")
    readings: list[tuple[datetime, Decimal]] = []
    first_row_of: dict[datetime, int] = {}
    for number, row in rows:
        where = f"row {number}"
        if len(row) <= max(start_column, kwh_column):
            rejected.append((where, f"{len(row)} column(s), expected {len(header)}"))
            continue
        raw_start, raw_kwh = row[start_column].strip(), row[kwh_column].strip()
        try:
            start = _parse_start(raw_start)
        except ValueError as error:
            reason = (
                f"start {raw_start!r} has no UTC offset; write it with an offset or Z"
                if str(error) == "naive"
                else f"start {raw_start!r} is not an ISO 8601 time"
            )
            rejected.append((where, reason))
            continue
        try:
            kwh = Decimal(raw_kwh)
            if not kwh.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            rejected.append((where, f"kwh {raw_kwh!r} is not a number"))
            continue
        if start in first_row_of:
            rejected.append((where, f"start {raw_start} repeats row {first_row_of[start]}"))
            continue
        first_row_of[start] = number
        readings.append((start, kwh))
    if not readings:
        raise IntervalFileError(
            "no usable row: " + "; ".join(f"{where}: {why}" for where, why in rejected[:5])
            if rejected
            else "no data rows under the header"
        )
    if len(readings) < 2:
        raise IntervalFileError(
            "one usable row: the interval length is inferred from consecutive rows, so at "
            "least two are needed"
        )
    starts = sorted(start for start, _kwh in readings)
    spacings = Counter(
        int((current - previous).total_seconds()) for previous, current in pairwise(starts)
    )
    # The modal spacing; on a tie the shorter one (a gap lengthens spacings, never shortens).
    seconds = min(spacings, key=lambda spacing: (-spacings[spacing], spacing))
    warnings.append(f"interval length {seconds} s inferred from the spacing of consecutive rows")
    warnings.extend(_spacing_report(starts, seconds))
    intervals = [Interval(start=start, seconds=seconds, kwh=kwh) for start, kwh in readings]
    return IntervalFile(
        intervals=finish_intervals(intervals, warnings, rejected),
        warnings=warnings,
        rejected=rejected,
        kind="csv",
    )

"""Interval data readers: pure Python, no Django.

- ``types``: Interval, IntervalFile and the errors every reader raises.
- ``safe_xml``: parse_untrusted_xml, refusing hostile XML before parsing work is spent.
- ``greenbutton``: read_green_button (ESPI / NAESB REQ.21 Atom feeds).
- ``csvfile``: read_interval_csv (``start,kwh``).
- ``series``: the sort / de-duplicate / quantize step every reader ends with.

The names the rest of billing codes against are importable from here (the contract between
the billing helpers fixes ``billing.intervals.Interval`` etc.).
"""

from __future__ import annotations

from billing.intervals.csvfile import read_interval_csv
from billing.intervals.greenbutton import DEFAULT_MAX_BYTES, read_green_button
from billing.intervals.types import (
    Interval,
    IntervalFile,
    IntervalFileError,
    MultipleUsagePoints,
    UsagePointInfo,
)

__all__ = [
    "Interval",
    "IntervalFile",
    "IntervalFileError",
    "MultipleUsagePoints",
    "UsagePointInfo",
    "read_interval_file",
]


def looks_like_xml(data: bytes) -> bool:
    """XML by its content, whatever the file is called: markup first, or a UTF-16 BOM."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"<", b"\xff\xfe", b"\xfe\xff"))


def read_interval_file(
    data: bytes,
    *,
    filename: str = "",
    usage_point: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> IntervalFile:
    """Read a Green Button XML or a CSV interval file, told apart by content (``filename`` is
    only for messages: a name says nothing reliable about what a file holds).

    Raises ValueError subclasses for refused files: HostileXml, MalformedXml,
    IntervalFileError (MultipleUsagePoints lists the UsagePoints to choose from)."""
    if len(data) > max_bytes:
        raise IntervalFileError(f"the file is {len(data)} bytes, over the {max_bytes}-byte limit")
    if looks_like_xml(data):
        return read_green_button(data, usage_point=usage_point, max_bytes=max_bytes)
    return read_interval_csv(data)

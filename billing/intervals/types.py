"""The normalized interval types every reader returns and the bill engine consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Interval:
    """One metered interval: ``kwh`` > 0 is import from the grid, < 0 export to it."""

    start: datetime  # aware, UTC
    seconds: int  # duration (900 for 15 min, 3600 hourly)
    kwh: Decimal

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


@dataclass
class IntervalFile:
    intervals: list[Interval]  # sorted by start, de-duplicated within the file
    warnings: list[str] = field(default_factory=list)  # lenient fixes applied
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    usage_point: str | None = None  # Green Button UsagePoint title/href when present
    kind: str = ""  # "green_button" | "csv"


class IntervalFileError(ValueError):
    """The whole file is refused (not a readable interval file, or nothing in it is usable)."""


class MultipleUsagePoints(IntervalFileError):
    """A Green Button file holds several UsagePoints and none was chosen."""

    def __init__(self, usage_points: list[UsagePointInfo]):
        self.usage_points = usage_points
        listed = "; ".join(point.label for point in usage_points)
        super().__init__(f"the file holds {len(usage_points)} UsagePoints, choose one: {listed}")


@dataclass(frozen=True)
class UsagePointInfo:
    """A UsagePoint found in a Green Button file, as a person picks it."""

    key: str  # the entry's self href (or its Atom id when it has no href)
    title: str

    @property
    def label(self) -> str:
        return f"{self.title} ({self.key})" if self.title else self.key

"""The settlement period: a calendar month in the utility's zone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Month:
    """A calendar month in the utility's zone, and its bounds as aware datetimes."""

    first_day: date
    tz_name: str
    start: datetime
    end: datetime

    @classmethod
    def of(cls, first_day: date, tz) -> Month:
        following = (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return cls(
            first_day=first_day,
            tz_name=str(tz),
            start=datetime.combine(first_day, time(), tzinfo=tz),
            end=datetime.combine(following, time(), tzinfo=tz),
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.first_day.year, self.first_day.month)[1]

"""Staffed hours (``SUPPORT_HOURS``, e.g. ``09:00-17:00``), Asia/Tokyo, on staffed days:
Monday to Friday unless the day is a Japanese public holiday (祝日, 振替休日 and 国民の休日,
from ``jpholiday``, which computes them by the law's rules, the equinox days included).

The year-end closure (年末年始) is not assumed: it is a company's own calendar, not the law's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday

TOKYO = ZoneInfo("Asia/Tokyo")


def staffed_day(day: date) -> bool:
    """Whether staff work on ``day``: a weekday that is not a public holiday."""
    return day.weekday() < 5 and not jpholiday.is_holiday(day)


@dataclass(frozen=True)
class SupportHours:
    """Opening and closing time on staffed days."""

    opens: time
    closes: time

    @classmethod
    def parse(cls, value: str) -> SupportHours:
        """``09:00-17:00`` (a malformed value falls back to 9:00〜17:00)."""
        try:
            start, end = (part.strip() for part in value.split("-", 1))
            opens, closes = time.fromisoformat(start), time.fromisoformat(end)
        except ValueError:
            return cls(time(9), time(17))
        return cls(opens, closes) if opens < closes else cls(time(9), time(17))

    def text(self) -> str:
        """``9:00〜17:00`` as the customer reads it."""
        return f"{self.opens.hour}:{self.opens.minute:02d}〜{self.closes.hour}:{self.closes.minute:02d}"

    def is_open(self, now: datetime) -> bool:
        """Whether staff are there at ``now`` (any aware time)."""
        local = now.astimezone(TOKYO)
        return self.opens <= local.time() < self.closes and staffed_day(local.date())

    def next_opening(self, now: datetime) -> datetime:
        """When staff are next there (``now`` itself when open)."""
        local = now.astimezone(TOKYO)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while not staffed_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=TOKYO)

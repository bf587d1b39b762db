"""Staffed hours (``SUPPORT_HOURS``, e.g. ``09:00-17:00``): weekdays, Asia/Tokyo.

Japanese public holidays are not known here: a holiday counts as a weekday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class SupportHours:
    """Opening and closing time on weekdays."""

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
        return local.weekday() < 5 and self.opens <= local.time() < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """When staff are next there (``now`` itself when open)."""
        local = now.astimezone(TOKYO)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=TOKYO)

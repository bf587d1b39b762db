"""Staffed hours (``SUPPORT_HOURS``, e.g. ``09:00-17:00``), Asia/Tokyo, on staffed days:
Monday to Friday unless the day is a Japanese public holiday (祝日, 振替休日 and 国民の休日,
from ``jpholiday``, which computes them by the law's rules, the equinox days included) or one
of the days closed every year (``SUPPORT_CLOSED_DAYS``, by default 年末年始, 12-29..01-03: the
days the law closes government offices, and the usual company calendar).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import jpholiday

from storage.timezone import TOKYO

DEFAULT_CLOSED_DAYS = "12-29..01-03"  # 年末年始
_DAY_RE = re.compile(r"(\d{1,2})-(\d{1,2})")


def closed_days(value: str) -> frozenset[tuple[int, int]]:
    """``12-29..01-03,08-14`` as the (month, day) pairs it closes every year (a range may run
    over the new year; empty: none). Raises ValueError naming the entry that is not a day."""
    days: set[tuple[int, int]] = set()
    for entry in filter(None, (part.strip() for part in value.split(","))):
        first, dots, last = entry.partition("..")
        start = _month_day(first, entry)
        end = _month_day(last, entry) if dots else start
        day = start
        while True:
            days.add((day.month, day.day))
            if day == end:
                break
            day = day + timedelta(days=1) if day != date(2000, 12, 31) else date(2000, 1, 1)
    return frozenset(days)


def _month_day(text: str, entry: str) -> date:
    match = _DAY_RE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        return date(2000, int(match[1]), int(match[2]))  # a leap year: 02-29 is a day
    except ValueError:
        raise ValueError(f"{entry!r} is not MM-DD or MM-DD..MM-DD") from None


def staffed_day(day: date, closed: frozenset[tuple[int, int]] = frozenset()) -> bool:
    """Whether staff work on ``day``: a weekday that is not a public holiday nor a closed day."""
    return day.weekday() < 5 and (day.month, day.day) not in closed and not jpholiday.is_holiday(day)


@dataclass(frozen=True)
class SupportHours:
    """Opening and closing time on staffed days, and the days closed every year."""

    opens: time
    closes: time
    closed: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def parse(cls, value: str, closed: str = DEFAULT_CLOSED_DAYS) -> SupportHours:
        """``09:00-17:00`` (a malformed value falls back to 9:00〜17:00) and ``SUPPORT_CLOSED_DAYS``
        (checked at start-up; malformed here, the default)."""
        try:
            days = closed_days(closed)
        except ValueError:
            days = closed_days(DEFAULT_CLOSED_DAYS)
        try:
            start, end = (part.strip() for part in value.split("-", 1))
            opens, closes = time.fromisoformat(start), time.fromisoformat(end)
        except ValueError:
            return cls(time(9), time(17), days)
        return cls(opens, closes, days) if opens < closes else cls(time(9), time(17), days)

    def text(self) -> str:
        """``9:00〜17:00`` as the customer reads it."""
        return f"{self.opens.hour}:{self.opens.minute:02d}〜{self.closes.hour}:{self.closes.minute:02d}"

    def is_open(self, now: datetime) -> bool:
        """Whether staff are there at ``now`` (any aware time)."""
        local = now.astimezone(TOKYO)
        return self.opens <= local.time() < self.closes and staffed_day(local.date(), self.closed)

    def next_opening(self, now: datetime) -> datetime:
        """When staff are next there (``now`` itself when open)."""
        local = now.astimezone(TOKYO)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while not staffed_day(day, self.closed):
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=TOKYO)

"""Support hours (weekdays but public holidays, Asia/Tokyo) and the masking of the transcript staff see."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.flows.handoff import mask_text, no_reply_delay_seconds
from bot.hours import TOKYO, SupportHours, closed_days

HOURS = SupportHours.parse("09:00-17:00")


@pytest.mark.parametrize("moment, is_open", [
    (datetime(2026, 12, 1, 9, 0), True),     # Tuesday opening
    (datetime(2026, 12, 1, 16, 59), True),
    (datetime(2026, 12, 1, 17, 0), False),   # closing time
    (datetime(2026, 12, 1, 8, 59), False),
    (datetime(2026, 12, 5, 10, 0), False),   # Saturday
    (datetime(2026, 12, 6, 10, 0), False),   # Sunday
    (datetime(2026, 11, 23, 10, 0), False),  # a Monday, 勤労感謝の日
    (datetime(2026, 5, 6, 10, 0), False),    # a Wednesday, 振替休日 (憲法記念日 fell on a Sunday)
    (datetime(2026, 9, 22, 10, 0), False),   # a Tuesday, 国民の休日 (between two holidays)
    (datetime(2026, 11, 24, 10, 0), True),   # the Tuesday after a holiday
])
def test_open_on_weekdays_within_the_hours(moment, is_open):
    assert HOURS.is_open(moment.replace(tzinfo=TOKYO)) is is_open


@pytest.mark.parametrize("moment, opening", [
    (datetime(2026, 12, 1, 7, 0), datetime(2026, 12, 1, 9, 0)),    # before opening: the same day
    (datetime(2026, 12, 1, 18, 0), datetime(2026, 12, 2, 9, 0)),   # evening: the next day
    (datetime(2026, 12, 4, 18, 0), datetime(2026, 12, 7, 9, 0)),   # Friday evening: Monday
    (datetime(2026, 12, 6, 12, 0), datetime(2026, 12, 7, 9, 0)),   # Sunday: Monday
    (datetime(2026, 11, 20, 18, 0), datetime(2026, 11, 24, 9, 0)),  # Friday evening, Monday a holiday: Tuesday
    (datetime(2026, 9, 18, 17, 30), datetime(2026, 9, 24, 9, 0)),   # before Silver Week: the Thursday after
    (datetime(2026, 5, 1, 18, 0), datetime(2026, 5, 7, 9, 0)),     # before Golden Week: the Thursday after
    (datetime(2026, 12, 31, 18, 0), datetime(2027, 1, 4, 9, 0)),   # New Year's Eve evening: 元日, then the weekend
])
def test_next_opening(moment, opening):
    assert HOURS.next_opening(moment.replace(tzinfo=TOKYO)) == opening.replace(tzinfo=TOKYO)


def test_hours_text_and_a_bad_setting():
    assert SupportHours.parse("10:30-18:00").text() == "10:30〜18:00"
    assert SupportHours.parse("nonsense").text() == "9:00〜17:00"
    assert SupportHours.parse("18:00-09:00").text() == "9:00〜17:00"


def test_no_reply_delay_within_and_outside_hours():
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
    assert no_reply_delay_seconds("09:00-17:00", 15, tuesday) == 15 * 60
    friday_night = datetime(2026, 12, 4, 23, 0, tzinfo=TOKYO)
    assert no_reply_delay_seconds("09:00-17:00", 15, friday_night) == (58 * 60 + 15) * 60


@pytest.mark.parametrize("text, masked", [
    ("番号は12345678です", "番号は********です"),
    ("電話 0748-62-1234 まで", "電話 ************ まで"),
    ("１２３４５６７８", "********"),
    ("mail taro@example.jp です", "mail ***@*** です"),
    ("今月の料金", "今月の料金"),
    ("3月に", "3月に"),
])
def test_transcript_masks_numbers_and_mail(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize("moment, opening", [
    (datetime(2026, 12, 28, 18, 0), datetime(2027, 1, 4, 9, 0)),   # 年末年始: 12-29 to 01-03 closed
    (datetime(2027, 12, 28, 12, 0), datetime(2027, 12, 28, 12, 0)),  # the last working day: open
    (datetime(2028, 1, 3, 10, 0), datetime(2028, 1, 4, 9, 0)),      # a Monday, but 01-03
])
def test_the_year_end_closure_is_closed_by_default(moment, opening):
    assert HOURS.next_opening(moment.replace(tzinfo=TOKYO)) == opening.replace(tzinfo=TOKYO)


def test_closed_days_are_a_setting():
    assert SupportHours.parse("09:00-17:00", "").is_open(datetime(2026, 12, 29, 10, 0, tzinfo=TOKYO))
    obon = SupportHours.parse("09:00-17:00", "08-13..08-15, 12-31")
    assert not obon.is_open(datetime(2026, 8, 13, 10, 0, tzinfo=TOKYO))  # a Thursday
    assert obon.is_open(datetime(2026, 12, 29, 10, 0, tzinfo=TOKYO))  # the default is replaced
    assert obon.next_opening(datetime(2026, 12, 30, 18, 0, tzinfo=TOKYO)) == datetime(2027, 1, 4, 9, 0, tzinfo=TOKYO)
    assert no_reply_delay_seconds("09:00-17:00", 15, datetime(2026, 12, 28, 17, 0, tzinfo=TOKYO)) \
        == ((7 * 24 - 8) * 60 + 15) * 60  # Monday 17:00 → the next Monday 9:00, then 15 minutes
    for bad in ("12-32", "12-29..", "年末", "12/29"):
        with pytest.raises(ValueError, match="MM-DD"):
            closed_days(bad)


def test_a_malformed_closed_days_setting_is_a_start_up_error(make_app):
    from app import ConfigError

    with pytest.raises(ConfigError, match="SUPPORT_CLOSED_DAYS: '12/29' is not MM-DD"):
        make_app(SUPPORT_CLOSED_DAYS="12/29")

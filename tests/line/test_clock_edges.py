"""Clock edges: the month turning at midnight Asia/Tokyo while a turn runs, and a reply token
that goes stale while its turn waits for the customer's lock.

- The engine reads the clock once per turn (``CLOCK``): a turn that starts at 23:59:59.999 on
  30 November and reads a clock that has moved on meanwhile still answers about November,
  consistently (the card, its month, its link), and the link opened after midnight shows it.
- A message whose turn waited for the lock longer than the reply token lives is answered by
  one push (the token's age is checked when the answer goes out, not when the event arrives).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from storage.keys import lock_key
from tests.helpers_billing import TOKYO, seed_customer_with_account, seed_link, seed_statement
from tests.line_driver import LineUser, drain_events, drain_jobs


class TickingClock:
    """Every reading is a millisecond later than the one before (time moves during a turn)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.readings = 0

    def __call__(self) -> datetime:
        self.readings += 1
        value = self.now
        self.now += timedelta(milliseconds=1)
        return value


def test_the_month_turning_during_a_turn_gives_one_consistent_answer(app, make_app, line_api):
    clock = TickingClock(datetime(2026, 11, 30, 23, 59, 59, 999_000, tzinfo=TOKYO))
    bot = make_app(CLOCK=clock)
    user = LineUser(bot.test_client(), line_api, bot)
    taro = seed_customer_with_account(bot, number="31113111", login_id="Clock_Taro", email="clock@example.jp")
    seed_link(bot, taro.account_id, user.user_id)
    seed_statement(bot, taro.customer_id, date(2026, 11, 1), [("インターネット", 5280)])
    seed_statement(bot, taro.customer_id, date(2026, 10, 1), [("インターネット", 4180)])
    replies = user.say("今月の料金")
    assert clock.now >= datetime(2026, 12, 1, tzinfo=TOKYO)  # midnight has passed: December in Tokyo
    card = next(m for m in replies if m["type"] == "flex")
    text = str(card)
    assert "2026年11月" in card["altText"] and "5,280円" in text
    assert "2026年12月" not in text and "4,180円" not in text
    link = re.search(r"http://localhost(/mypage/bills/\d+\?t=[A-Za-z0-9_\-.]+)", text).group(1)
    page = bot.test_client().get(link, follow_redirects=True)  # opened after midnight
    assert page.status_code == 200 and "5,280" in page.get_data(as_text=True)


def test_a_reply_token_that_goes_stale_while_the_turn_waits_for_the_lock_is_answered_by_one_push(
        app, make_app, line_api):
    bot = make_app(REPLY_TOKEN_MAX_AGE_SECONDS=1)
    user = LineUser(bot.test_client(), line_api, bot)
    # Another worker is in this customer's turn for the next 2 seconds.
    bot.extensions["redis"].set(lock_key("line", user.user_id), "someone-else", px=2000)
    assert user.post([user.text_event("ヘルプ")], drain=False).status_code == 200
    assert drain_events(bot) == 1  # waited for the lock, then ran
    assert line_api.accepted("reply") == [] and [c for c in line_api.calls if c.kind == "reply"] == []
    drain_jobs(bot)
    pushes = line_api.accepted("push", user.user_id)
    assert len(pushes) == 1 and "ご用件をお選びください" in pushes[0].body["messages"][0]["text"]

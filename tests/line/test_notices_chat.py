"""Bill notices in the chat: 通知停止 / 通知再開 / 通知設定, unfollow and follow, and what the next run skips."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from storage.models import LineLink
from tests.line.test_notices import app_config, notify, pushes, seed_linked  # noqa: F401 - app_config: fixture
from tests.line_driver import quick_reply_labels


@pytest.fixture
def linked(app, line_user):
    seed_linked(app, 1)
    with app.extensions["db"].begin() as db:
        db.execute(update(LineLink).values(line_user_id=line_user.user_id))
    return line_user


def link_row(app) -> LineLink:
    with app.extensions["db"].begin() as db:
        return db.scalars(select(LineLink)).one()


def test_stop_resume_and_settings_words(app, linked):
    settings = linked.say("通知設定")
    assert "受け取る" in settings[0]["text"]
    assert "通知停止" in quick_reply_labels(settings[0])

    assert "停止しました" in linked.says("通知停止")
    assert link_row(app).notices_enabled is False
    settings = linked.say("通知設定")
    assert "停止しています" in settings[0]["text"]
    assert "通知再開" in quick_reply_labels(settings[0])

    assert "再開しました" in linked.says("通知再開")
    assert link_row(app).notices_enabled is True


def test_a_second_stop_or_resume_says_it_already_is_so(app, linked):
    """Issue 20: a second 通知停止 said 「停止しました」 again."""
    from bot import messages

    assert "停止しました" in linked.says("通知停止")
    again = linked.say("通知停止")
    assert again[0]["text"] == messages.NOTICES_ALREADY_STOPPED and "すでに停止しています" in again[0]["text"]
    assert "停止しました" not in again[0]["text"] and "通知再開" in quick_reply_labels(again[0])
    assert link_row(app).notices_enabled is False
    assert "再開しました" in linked.says("通知再開")
    again = linked.say("通知再開")
    assert again[0]["text"] == messages.NOTICES_ALREADY_ON and "再開しました" not in again[0]["text"]
    assert link_row(app).notices_enabled is True
    fresh = linked.say("通知再開")  # never stopped since: still the same answer
    assert fresh[0]["text"] == messages.NOTICES_ALREADY_ON


def test_opting_out_in_the_chat_skips_the_notice(app, linked, runner, line_api):
    linked.say("通知停止")
    result = notify(runner)
    assert "skipped 1 (opted out 1)" in result.output
    assert pushes(line_api, None, linked.user_id) == []


@pytest.mark.parametrize("word", ["通知停止", "通知再開", "通知設定"])
def test_not_linked_is_guided_to_register(line_user, word):
    replies = line_user.say(word)
    assert "登録" in replies[0]["text"]
    assert "登録" in quick_reply_labels(replies[0])


def test_unfollow_stops_notices_until_the_customer_follows_again(app, linked, runner, line_api):
    linked.send_event(linked._event("unfollow"))
    assert link_row(app).blocked_at is not None
    assert "skipped 1 (blocked 1)" in notify(runner).output
    assert pushes(line_api, None) == []

    linked.follow()
    assert link_row(app).blocked_at is None
    assert "sent 1" in notify(runner).output
    assert len(pushes(line_api, 200, linked.user_id)) == 1


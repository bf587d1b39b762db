"""POST /callback: signatures, malformed bodies, event kinds, dedup, redelivery, fallbacks."""

from __future__ import annotations

import json
import time

import pytest

from handlers.emulator.line_api_recorder import Failure
from tests.line_driver import drain_jobs, sign


def test_verify_button_empty_events_is_200(client):
    body = b'{"destination":"U0123456789abcdef0123456789abcdef","events":[]}'
    response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
    assert response.status_code == 200


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", sign(b"other body")])
def test_bad_or_missing_signature_is_400_and_changes_nothing(line_user, line_api, app, signature):
    response = line_user.post([line_user.text_event("登録")], signature=signature)
    assert response.status_code == 400
    assert line_api.calls == []
    assert app.extensions["redis"].keys("bot:*") == []


def test_signature_from_another_channel_secret_is_400(line_user):
    event = line_user.text_event("ヘルプ")
    body = json.dumps({"events": [event]}).encode()
    response = line_user.client.post("/callback", data=body,
                                     headers={"X-Line-Signature": sign(body, "another-secret")})
    assert response.status_code == 400


@pytest.mark.parametrize("body", [b"not json at all", b'{"no_events": 1}', b"[1, 2]", b""])
def test_malformed_body_with_valid_signature_is_400(client, line_api, body):
    response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
    assert response.status_code == 400
    assert line_api.calls == []


def test_unknown_text_says_so_and_offers_a_person_and_the_menu(line_user):
    replies = line_user.say("ほげほげふがふが")
    assert len(replies) == 1
    assert "うまく理解できませんでした" in replies[0]["text"]
    labels = [i["action"]["label"] for i in replies[0]["quickReply"]["items"]]
    assert {"オペレーターと話す", "メニュー"} <= set(labels)
    assert "ご用件をお選びください" in line_user.say(labels[-1])[0]["text"]


@pytest.mark.parametrize("word", ["ヘルプ", "メニュー", "ﾍﾙﾌﾟ", "ヘルプ！"])
def test_help_words_get_the_menu(line_user, word):
    assert "ご用件をお選びください" in line_user.says(word)


def test_follow_gets_a_greeting_and_the_menu(line_user):
    replies = line_user.follow()
    assert "友だち追加ありがとうございます" in replies[0]["text"]
    assert "ご用件をお選びください" in replies[1]["text"]


def test_sticker_is_answered_politely(line_user):
    replies = line_user.sticker()
    assert "スタンプ" in replies[0]["text"]


def test_standby_events_are_never_answered(line_user, line_api):
    event = line_user.text_event("ヘルプ")
    event["mode"] = "standby"
    assert line_user.post([event]).status_code == 200
    assert line_api.calls == []


def test_unknown_event_type_is_200_and_silent(line_user, line_api):
    event = line_user._event("somethingNew", extra={"a": 1})
    assert line_user.post([event]).status_code == 200
    assert line_api.calls == []


def test_group_messages_are_ignored(line_user, line_api):
    event = line_user.text_event("ヘルプ")
    event["source"] = {"type": "group", "groupId": "Cxxxxxxxx", "userId": line_user.user_id}
    assert line_user.post([event]).status_code == 200
    assert line_api.calls == []


def test_redelivered_event_is_handled_once(line_user, line_api):
    event = line_user.text_event("ヘルプ")
    assert line_user.post([event]).status_code == 200
    redelivery = dict(event, deliveryContext={"isRedelivery": True})
    assert line_user.post([redelivery]).status_code == 200
    assert len(line_api.accepted("reply")) == 1


def test_refused_reply_token_falls_back_to_push(line_user, line_api, app):
    event = line_user.text_event("ヘルプ")
    line_api.invalid_reply_tokens.add(event["replyToken"])
    assert line_user.post([event]).status_code == 200
    assert line_api.accepted("push") == []
    drain_jobs(app)
    pushes = line_api.accepted("push", line_user.user_id)
    assert len(pushes) == 1
    assert "ご用件をお選びください" in pushes[0].body["messages"][0]["text"]
    assert pushes[0].retry_key


def test_line_api_failure_queues_a_push_that_is_retried(line_user, line_api, app):
    line_api.fail_next.append(Failure(500, kind="reply"))  # not the loading animation of a slow turn
    line_user.post([line_user.text_event("ヘルプ")])
    drain_jobs(app)
    assert len(line_api.accepted("push", line_user.user_id)) == 1


def test_redis_down_asks_line_to_redeliver(make_app, line_api):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    body = json.dumps({"events": [{
        "type": "message", "mode": "active", "timestamp": 1, "replyToken": "r" * 32,
        "webhookEventId": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": "U" + "1" * 32},
        "message": {"type": "text", "id": "1", "text": "ヘルプ", "quoteToken": "q"}}]}).encode()
    response = broken.test_client().post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
    assert response.status_code == 503
    assert line_api.calls == []


def test_fake_line_refuses_a_wrong_access_token(make_app, line_api, client):
    from tests.line_driver import LineUser

    wrong = make_app(LINE_CHANNEL_ACCESS_TOKEN="not-the-token")
    user = LineUser(wrong.test_client(), line_api, wrong)
    assert user.post([user.text_event("ヘルプ")]).status_code == 200
    # The reply, refused; a turn slowed by a busy machine also shows the loading animation, refused alike.
    assert [c.status for c in line_api.calls if c.kind != "loading"] == [401]
    assert {c.status for c in line_api.calls} == {401}


def test_database_down_the_event_waits_in_the_queue_and_is_answered_once_it_is_back(make_app, line_api, app):
    """The webhook needs no database: the event is queued (200); a worker that cannot reach
    the database leaves it pending; once the database answers, it is answered, once."""
    from tests.line_driver import LineUser, drain_events

    broken = make_app(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none")
    user = LineUser(broken.test_client(), line_api, broken)
    event = user.text_event("ヘルプ")
    assert user.post([event]).status_code == 200  # queued; draining in the broken app left it pending
    assert line_api.accepted("reply") == []
    redelivery = dict(event, deliveryContext={"isRedelivery": True})
    assert user.post([redelivery]).status_code == 200  # claimed already: not queued twice
    assert drain_events(app) == 1  # a healthy worker takes over what the broken one left
    assert len(line_api.accepted("reply")) == 1
    assert drain_events(app) == 0


@pytest.mark.parametrize("word", ["オペレーター", "問い合わせ", "オペレーターと話す", "お問い合わせ"])
def test_asking_for_a_person_gives_the_free_call_number(line_user, word):
    text = line_user.says(word)
    assert "0120-00-6560" in text and "9:00〜17:00" in text


def test_a_slow_reply_shows_the_loading_animation(make_app, line_api):
    from bot.engine import Engine, Entry, Flow, words
    from bot.flows import all_flows
    from bot.flows.menu import show_menu
    from tests.line_driver import LineUser

    def slow(turn, _match):  # a turn that surely outlasts the timer (its wake-up coalesces by 50 ms)
        time.sleep(0.3)
        turn.say("お待たせしました")

    eager = make_app(LOADING_AFTER_SECONDS=0)  # every reply counts as slow
    old = eager.extensions["engine"]
    eager.extensions["engine"] = Engine(all_flows() + [Flow("slow", entries=(Entry(words("ゆっくり"), slow),))],
                                        old.store, old.sessions, old.settings, show_menu)
    user = LineUser(eager.test_client(), line_api, eager)
    assert user.post([user.text_event("ゆっくり")]).status_code == 200
    assert line_api.wait_for(lambda api: api.accepted("loading", user.user_id), timeout=5)
    call = line_api.accepted("loading", user.user_id)[0]
    assert call.body == {"chatId": user.user_id, "loadingSeconds": 5}


def test_absurdly_nested_but_signed_body_is_400_not_500(client, line_api):
    body = b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
    assert response.status_code == 400
    assert line_api.calls == []


def _app_with_a_broken_flow(app):
    """The app's engine with one more flow whose step has a bug (``故障`` starts it)."""
    from bot.engine import Engine, Entry, Flow, words
    from bot.flows import all_flows
    from bot.flows.menu import show_menu

    def broken(_turn, _match):
        raise RuntimeError("a bug in a step")

    old = app.extensions["engine"]
    app.extensions["engine"] = Engine(all_flows() + [Flow("broken", entries=(Entry(words("故障"), broken),))],
                                      old.store, old.sessions, old.settings, show_menu)


def test_a_bug_in_one_event_is_not_a_500_and_the_other_events_are_answered(app, make_line_user, line_api,
                                                                             caplog):
    from bot import messages

    _app_with_a_broken_flow(app)
    unlucky, other = make_line_user(), make_line_user()
    failing = unlucky.text_event("故障")
    response = unlucky.post([failing, other.text_event("ヘルプ")])
    assert response.status_code == 200
    assert "RuntimeError at test_webhook.py" in caplog.text and "a bug in a step" not in caplog.text
    assert [m["text"] for m in line_api.messages(unlucky.user_id)] == [messages.BUSY_RETRY]
    assert "ご用件をお選びください" in line_api.messages(other.user_id)[0]["text"]
    # The failed event was not marked as handled (its claim is gone): if it comes again, it is handled.
    from storage.keys import event_key

    assert not app.extensions["redis"].exists(event_key(failing["webhookEventId"]))


def test_the_loading_animation_never_lands_after_the_reply(make_app):
    """LINE shows the animation until the next message: one that lands after the reply would
    spin for 5 seconds under the answer."""
    from flask import Flask, request

    from handlers.emulator.line_api_fake import make_blueprint
    from handlers.emulator.line_api_recorder import LineApiRecorder
    from tests.line_driver import ACCESS_TOKEN, LineUser
    from tests.servers import ServerThread as _ServerThread

    recorder = LineApiRecorder(ACCESS_TOKEN)
    slow_line = Flask("slow_line")
    slow_line.register_blueprint(make_blueprint(recorder))

    @slow_line.before_request
    def lag():
        if request.path.endswith("/chat/loading/start"):
            time.sleep(0.5)

    def kinds() -> list[str]:
        return [c.kind for c in recorder.calls if c.kind in ("loading", "reply")]

    server = _ServerThread(slow_line)
    try:
        eager = make_app(LINE_API_BASE_URL=f"http://127.0.0.1:{server.port}", LOADING_AFTER_SECONDS=0)
        user = LineUser(eager.test_client(), recorder, eager)
        # A turn over before its animation's timer ran sends no animation at all (a busy machine's
        # fate, now and then): a few turns, until one has shown it.
        for turn in range(1, 4):
            assert user.post([user.text_event("ヘルプ")]).status_code == 200
            assert recorder.wait_for(lambda r, turn=turn: kinds().count("reply") == turn, timeout=5)
            if "loading" in kinds():
                break
    finally:
        server.stop()
    seen = kinds()
    assert "loading" in seen, seen
    # Every animation came before its turn's reply: none is last, and none follows another.
    assert seen[-1] == "reply" and "loading,loading" not in ",".join(seen), seen


"""POST /callback: signatures, malformed bodies, event kinds, dedup, redelivery, fallbacks."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from app import create_app
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


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_names_redis_when_down(make_app):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["redis"] and body["database"] == "ok"


def test_healthz_names_the_database_when_down(make_app):
    broken = make_app(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["database"]


def test_production_refuses_to_start_without_secrets(monkeypatch):
    from app import ConfigError

    for name in ("SECRET_KEY", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "DEMO_DEFAULTS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": "sqlite://"})


def test_request_logs_redact_tokens():
    import logging

    from app import RedactTokens

    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, '%s - - "%s" %s',
                               ("127.0.0.1", "GET /register/complete/AbCdEfGhIjKlMnOpQrStUvWxYz012345 HTTP/1.1",
                                "200"), None)
    RedactTokens().filter(record)
    assert "AbCdEfGh" not in record.getMessage()
    assert "/register/complete/[redacted]" in record.getMessage()


def test_fake_line_refuses_a_wrong_access_token(make_app, line_api, client):
    from tests.line_driver import LineUser

    wrong = make_app(LINE_CHANNEL_ACCESS_TOKEN="not-the-token")
    user = LineUser(wrong.test_client(), line_api, wrong)
    assert user.post([user.text_event("ヘルプ")]).status_code == 200
    # The reply, refused; a turn slowed by a busy machine also shows the loading animation, refused alike.
    assert [c.status for c in line_api.calls if c.kind != "loading"] == [401]
    assert {c.status for c in line_api.calls} == {401}


def test_gunicorn_style_mapping_args_are_redacted_too():
    import logging

    from app import RedactTokens

    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(r)s %(s)s", (), None)
    record.args = {"r": "GET /mypage/bills/3?t=AbCdEfGhIjKlMnOpQrStUvWxYz012345 HTTP/1.1", "s": "200"}
    RedactTokens().filter(record)
    assert "AbCdEfGh" not in record.getMessage()


def test_root_opens_the_my_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/mypage")


def test_get_on_the_webhook_is_405_json(client):
    response = client.get("/callback")
    assert response.status_code == 405
    assert response.is_json


def test_get_on_a_post_only_page_is_a_japanese_405(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "このページは開けません" in response.get_data(as_text=True)


def test_proxy_hops_make_the_forwarded_address_the_client(make_app):
    from flask import request

    proxied = make_app(TRUSTED_PROXY_HOPS=1)

    @proxied.get("/_whoami")
    def whoami():
        return request.remote_addr or ""

    response = proxied.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == "203.0.113.9"


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


def test_mail_is_sent_at_once_when_the_job_queue_is_unreachable(make_app, redis_url, mailbox):
    from handlers import jobs
    from tests.helpers_registration import drop_redis_login, limited_redis_login

    name, url = limited_redis_login(redis_url, "~bot:*")  # a real Redis login that may not touch rq:*
    try:
        no_queue = make_app(REDIS_URL=url)
        with no_queue.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="taro@example.jp", subject="件名", body="本文")
    finally:
        drop_redis_login(redis_url, name)
    assert [m["Subject"] for m in mailbox.wait(1)] == ["件名"]


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


@pytest.mark.parametrize("name", ["REGISTRATION_LINK_TTL_SECONDS", "TRUSTED_PROXY_HOPS"])
def test_a_non_numeric_setting_is_a_start_up_error_naming_it(monkeypatch, name):
    from app import ConfigError

    monkeypatch.setenv(name, "1 day")
    with pytest.raises(ConfigError, match=name):
        create_app({"DATABASE_URL": "sqlite://"})


def test_inline_jobs_waiting_to_retry_do_not_hold_up_other_jobs(make_app, line_api):
    """make run: four mails failing (SMTP down) wait for their retry without blocking a push."""
    from handlers import jobs

    inline = make_app(JOBS_INLINE=True, SMTP_URL="smtp://127.0.0.1:1", JOB_RETRY_INTERVALS=[30])
    runner = inline.extensions["job_runner"]
    try:
        with inline.app_context():
            for _ in range(4):
                jobs.enqueue("handlers.mail:send_mail_job", to="taro@example.jp", subject="件名", body="本文")
            time.sleep(0.3)  # the mails have failed once and wait 30 s for their retry
            jobs.enqueue("handlers.line.delivery:push_job", user_id="U" + "2" * 32,
                         messages=[{"type": "text", "text": "x"}], retry_key=str(uuid.uuid4()))
        assert line_api.wait_for(lambda api: api.accepted("push", "U" + "2" * 32), timeout=3)
        deadline = time.monotonic() + 2
        while runner.pending != 4 and time.monotonic() < deadline:  # the push's thread is finishing
            time.sleep(0.01)
        assert runner.pending == 4  # the mails are still due for a retry
    finally:
        runner.shutdown(wait=True)


def test_healthz_answers_503_when_the_database_takes_the_connection_but_never_answers(make_app, monkeypatch):
    import socket

    from storage import db

    monkeypatch.setattr(db, "CONNECT_TIMEOUT_SECONDS", 1)  # the engine's own bound (5 s), shortened here

    with socket.socket() as silent:  # accepts TCP (the backlog does), never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        stuck = make_app(DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
        started = time.monotonic()
        response = stuck.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["database"]
    assert time.monotonic() - started < 15


def test_a_refused_mail_does_not_put_the_address_in_the_worker_log(make_app, caplog):
    """The SMTP server refuses the recipient; smtplib's error quotes the address. RQ logs a failed
    job's whole traceback, so the worker log must not see that text."""
    from aiosmtpd.controller import Controller

    from handlers import jobs
    from tests.servers import free_port as _free_port

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return f"550 5.1.1 <{address}>: Recipient address rejected"

    port = _free_port()
    server = Controller(Refusing(), hostname="127.0.0.1", port=port)
    server.start()
    try:
        queued = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        with queued.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="hanako.secret@example.jp", subject="件名", body="本文")
        with caplog.at_level("INFO"):
            drain_jobs(queued)
    finally:
        server.stop()
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))  # not aiosmtpd's
    assert "SMTPRecipientsRefused" in ours  # the failure is logged...
    assert "hanako.secret" not in ours  # ...without the address


@pytest.mark.parametrize("url", ["smtp://mail.example.jp:submission", "http://mail.example.jp", "smtp://:25"])
def test_an_unusable_smtp_url_is_a_start_up_error(app_config, url):
    from app import ConfigError

    with pytest.raises(ConfigError, match="SMTP_URL"):
        create_app(dict(app_config, SMTP_URL=url))


def test_mail_to_an_internationalised_domain_reaches_a_server_without_smtputf8(make_app):
    """The validator accepts 例え.jp; many mail servers do not speak SMTPUTF8, so the domain
    travels in its ASCII (punycode) form."""
    from aiosmtpd.controller import Controller

    from handlers import jobs
    from tests.servers import Mailbox
    from tests.servers import free_port as _free_port

    box, port = Mailbox(), _free_port()
    server = Controller(box, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    server.start()
    try:
        plain = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        with plain.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="taro@例え.jp", subject="件名", body="本文")
        drain_jobs(plain)
        received = box.wait(1)
    finally:
        server.stop()
    assert [m["To"] for m in received] == ["taro@xn--r8jz45g.jp"]
    assert Mailbox.body(received[0]).strip() == "本文"


def test_a_mail_the_server_accepted_is_not_sent_again_when_quit_goes_wrong(app):
    """The server took the mail (250 after DATA), then answered QUIT oddly. Raising would make
    the job retry and the customer receive the mail twice."""
    from aiosmtpd.controller import Controller

    from handlers import mail
    from tests.servers import Mailbox
    from tests.servers import free_port as _free_port

    class GrumpyAtQuit(Mailbox):
        async def handle_QUIT(self, server, session, envelope):
            return "421 4.3.2 shutting down"

    box, port = GrumpyAtQuit(), _free_port()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        config = dict(app.config, SMTP_URL=f"smtp://127.0.0.1:{port}")
        mail.send(config, "taro@example.jp", "件名", "本文")
        received = box.wait(1)
    finally:
        server.stop()
    assert [m["Subject"] for m in received] == ["件名"]


@pytest.mark.parametrize("base", ["bot.example.jp", "ftp://bot.example.jp", "https://"])
def test_a_public_base_url_that_is_not_absolute_is_a_start_up_error(app_config, base):
    from app import ConfigError

    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(dict(app_config, PUBLIC_BASE_URL=base))


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

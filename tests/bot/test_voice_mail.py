"""One voice in mail: every mail's footer, and the Japanese sender name over real SMTP."""

from __future__ import annotations

import email.header

from bot import messages
from tests.bot.voice_reading import MAIL_TEMPLATES
from tests.helpers_registration import seed_customer, until_confirm
from tests.line_driver import drain_jobs
from tests.servers import Mailbox


# -- mail ------------------------------------------------------------------------------------------
def test_every_mail_ends_with_the_footer_and_its_send_only_line(app):
    from handlers.mail import render_mail

    with app.test_request_context("/"):
        for path in MAIL_TEMPLATES:
            subject, body = render_mail(f"mail/{path.name}", name="アイコム タロウ", nickname="たろう",
                                        login_id="aicom_taro", login_url="http://x/login", reset_url="http://x/r",
                                        minutes=30, confirm_url="http://x/c", valid_for="24時間",
                                        changed_at="2026年11月25日 10:00", new_email="new@example.jp",
                                        reminder_url="http://x/reminder")
            assert subject.startswith("【あいコムこうかマイページ】"), path.name
            assert body.endswith(messages.MAIL_FOOTER) and "送信専用" in body, path.name
    assert messages.REGISTRATION_MAIL_BODY.endswith(messages.MAIL_FOOTER)
    assert "■受付日時：" in messages.REGISTRATION_MAIL_BODY


def test_the_mail_sender_is_named_in_japanese_over_real_smtp(make_app, smtp_server, mailbox, monkeypatch, tmp_path):
    """The default sender (app.py) is あいコムこうかマイページ; a mail our code sends over SMTP carries it
    in an RFC 2047 encoded word (the header itself stays ASCII), and it decodes back to the name."""
    from app import _env_config
    from handlers.mail import send

    monkeypatch.delenv("MAIL_FROM", raising=False)
    default = _env_config(str(tmp_path))["MAIL_FROM"]
    assert default == f"{messages.MAIL_SENDER_NAME} <noreply@aicom-koka.jp>"
    application = make_app(MAIL_FROM=default)
    send(application.config, "taro@example.jp", messages.REGISTRATION_MAIL_SUBJECT, "本文")
    [raw] = mailbox.raw
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    [from_line] = [line for line in head.split(b"\r\n") if line.lower().startswith(b"from:")]
    assert from_line.isascii() and b"=?utf-8?" in from_line.lower(), from_line
    decoded = str(email.header.make_header(email.header.decode_header(from_line[5:].decode("ascii").strip())))
    assert decoded == "あいコムこうかマイページ <noreply@aicom-koka.jp>"
    [received] = mailbox.messages
    assert received["From"].addresses[0].display_name == "あいコムこうかマイページ"
    assert received["From"].addresses[0].addr_spec == "noreply@aicom-koka.jp"
    assert str(received["Subject"]) == messages.REGISTRATION_MAIL_SUBJECT


def test_the_registration_mail_over_smtp_is_from_the_japanese_sender(app, line_user, mailbox):
    """The conftest app sends as the default does: the 仮登録 mail arrives from あいコムこうかマイページ."""
    seed_customer(app)
    until_confirm(line_user)
    line_user.say("仮登録する")
    drain_jobs(app)
    [mail] = mailbox.wait(1)
    assert mail["From"].addresses[0].display_name == messages.MAIL_SENDER_NAME
    assert "■受付日時：" in Mailbox.body(mail) and "送信専用" in Mailbox.body(mail)


def test_provisional_done_names_the_registration_mail():
    assert messages.REGISTRATION_MAIL in messages.PROVISIONAL_DONE
    assert messages.REGISTRATION_MAIL_SUBJECT.endswith("仮登録受付完了")

"""Production never drops mail in silence (issue 21, point 2): outside the emulator ``SMTP_URL`` is
required at start-up, and only mail an SMTP server accepted counts as sent."""

from __future__ import annotations

import pytest

from app import ConfigError, create_app
from handlers import mail, metrics
from handlers.emulator import mailbox as dev_mailbox


def test_without_smtp_url_outside_the_emulator_the_app_does_not_start(app_config):
    with pytest.raises(ConfigError, match="SMTP_URL"):
        create_app(dict(app_config, SMTP_URL=None, EMULATOR=False))


def test_the_emulator_keeps_mail_in_its_mailbox_and_does_not_call_it_sent(make_app):
    emulator = make_app(SMTP_URL=None, EMULATOR=True)
    sent = metrics.MAILS.labels("sent")._value.get()
    kept = metrics.MAILS.labels("dev_mailbox")._value.get()
    mail.send(emulator.config, "taro@example.jp", "件名", "本文", dev_mailbox=emulator.extensions["dev_mailbox"])
    assert dev_mailbox.mails(emulator.extensions["redis"])[0]["to"] == "taro@example.jp"
    assert metrics.MAILS.labels("sent")._value.get() == sent
    assert metrics.MAILS.labels("dev_mailbox")._value.get() == kept + 1


def test_a_mail_with_nowhere_to_go_is_an_error_not_a_silent_drop(app):
    config = dict(app.config, SMTP_URL=None, EMULATOR=False)
    with pytest.raises(mail.MailError):
        mail.send(config, "taro@example.jp", "件名", "本文")
    assert dev_mailbox.mails(app.extensions["redis"]) == []


def test_smtp_accepting_the_mail_is_what_counts_as_sent(app, mailbox):
    sent = metrics.MAILS.labels("sent")._value.get()
    mail.send(app.config, "taro@example.jp", "件名", "本文")
    assert len(mailbox.wait(1)) == 1
    assert metrics.MAILS.labels("sent")._value.get() == sent + 1

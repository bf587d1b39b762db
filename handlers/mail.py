"""Outgoing mail over SMTP (``SMTP_URL``), or into the development mailbox when it is unset."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import redis

from storage.state import dev_mailbox_add

SMTP_TIMEOUT_SECONDS = 10


class MailError(Exception):
    """The mail could not be handed to the mail server (the job is retried)."""


def build_message(mail_from: str, to: str, subject: str, body: str) -> EmailMessage:
    """A UTF-8 plain-text mail with Date and Message-ID."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(ZoneInfo("Asia/Tokyo")))
    domain = parseaddr(mail_from)[1].partition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body, charset="utf-8")
    return msg


def send(config: dict, redis_client: redis.Redis, to: str, subject: str, body: str) -> None:
    """Send one mail; raise ``MailError`` when the server cannot take it."""
    msg = build_message(config["MAIL_FROM"], to, subject, body)
    url = config.get("SMTP_URL")
    if not url:
        dev_mailbox_add(redis_client, {"to": to, "subject": subject, "body": body, "date": msg["Date"]})
        return
    parts = urlsplit(url)
    options = parse_qs(parts.query)
    host, port = parts.hostname or "localhost", parts.port
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=SMTP_TIMEOUT_SECONDS,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port or 25, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if parts.scheme == "smtp" and options.get("starttls", ["0"])[0] == "1":
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP delivery failed: {exc.__class__.__name__}") from exc

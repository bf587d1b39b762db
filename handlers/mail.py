"""Outgoing mail over SMTP (``SMTP_URL``), or, in the emulator only, into its development mailbox.

Outside the emulator ``SMTP_URL`` is required at start-up (``app``); ``aicom_mails_total``
counts ``sent`` only for what an SMTP server accepted (``dev_mailbox`` for the emulator's). The
development mailbox belongs to the emulator edge, which offers its writer as
``app.extensions["dev_mailbox"]`` (``handlers.emulator.mailbox``); ``send`` is handed it.

The web's mails are templates (``templates/mail/*.txt``, first line ``Subject: ...``) queued by
``queue_mail``; every one ends with the footer the 仮登録 mail has (``messages.MAIL_FOOTER``)
and greets the contract name (``storage.accounts.contract_name``), as the printed guide does.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import idna  # installed with email-validator, which uses it to check these same domains
from flask import current_app, render_template

from bot.messages import MAIL_FOOTER
from handlers import jobs, metrics
from storage.errors import Unavailable
from storage.timezone import TOKYO

log = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 10


class MailError(Unavailable):
    """The mail could not be handed to the mail server (the job is retried)."""


def smtp_url_problem(url: str) -> str | None:
    """What is wrong with an ``SMTP_URL`` (checked at start-up), or None when it is usable."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        return "SMTP_URL must start with smtp:// or smtps://"
    if not parts.hostname:
        return "SMTP_URL has no host"
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "SMTP_URL has a port that is not a number"
    return None


def ascii_address(address: str) -> str:
    """The address with its domain in ASCII (``例え.jp`` -> ``xn--r8jz45g.jp``): a server without
    SMTPUTF8 (still common) refuses a Unicode domain, but every server takes the punycode one."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return address  # the validator let it through; the server will say what it thinks


_DOT_ATOM_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def envelope_address(address: str) -> str:
    """The address as SMTP and the To header need it: a local part that is not a dot-atom (a
    legacy carrier address such as ``taro..x@docomo.ne.jp``) is sent as a quoted string,
    ``"taro..x"@docomo.ne.jp``, which RFC 5321 (4.1.2) and RFC 5322 (3.4.1) allow."""
    address = ascii_address(address)
    local, at, domain = address.rpartition("@")
    if not at or _DOT_ATOM_RE.fullmatch(local) or (local.startswith('"') and local.endswith('"')):
        return address
    quoted = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"@{domain}'


def build_message(mail_from: str, to: str, subject: str, body: str) -> EmailMessage:
    """A UTF-8 plain-text mail with Date and Message-ID."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = envelope_address(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(TOKYO))
    domain = parseaddr(mail_from)[1].partition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body, charset="utf-8")
    return msg


def _send_message(client: smtplib.SMTP, msg: EmailMessage, rcpt: str) -> None:
    """``send_message`` to one recipient; a quoted local part is kept as it is (smtplib's own
    ``quoteaddr`` would strip the quotes and send ``<taro..x@docomo.ne.jp>``, which servers refuse)."""
    if not rcpt.startswith('"'):
        client.send_message(msg, to_addrs=[rcpt])
        return
    client.ehlo_or_helo_if_needed()
    sender = parseaddr(msg["From"])[1]
    code, answer = client.mail(sender)
    if code != 250:
        client.rset()
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    code, answer = client.docmd("RCPT", f"TO:<{rcpt}>")
    if code not in (250, 251):
        client.rset()
        raise smtplib.SMTPRecipientsRefused({rcpt: (code, answer)})
    code, answer = client.data(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
    if code != 250:
        client.rset()
        raise smtplib.SMTPDataError(code, answer)


def send(config: Mapping, to: str, subject: str, body: str,
         dev_mailbox: Callable[[dict], None] | None = None) -> None:
    """Send one mail; raise ``MailError`` when the server cannot take it. Without ``SMTP_URL``, the
    emulator's ``dev_mailbox`` (``app.extensions["dev_mailbox"]``) keeps it."""
    msg = build_message(config["MAIL_FROM"], to, subject, body)
    url = config.get("SMTP_URL")
    if not url:
        if not config.get("EMULATOR") or dev_mailbox is None:  # refused at start-up; never drop a mail in silence
            metrics.MAILS.labels("failed").inc()
            raise MailError("SMTP_URL is not set")
        dev_mailbox({"to": to, "subject": subject, "body": body, "date": msg["Date"]})
        metrics.MAILS.labels("dev_mailbox").inc()  # only what an SMTP server accepted counts as sent
        log.info("mail kept in the emulator's development mailbox (SMTP_URL unset)")
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
        try:
            if parts.scheme == "smtp" and options.get("starttls", ["0"])[0] == "1":
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            _send_message(client, msg, envelope_address(to))
        except BaseException:
            client.close()
            raise
    except (OSError, smtplib.SMTPException) as exc:
        metrics.MAILS.labels("failed").inc()
        raise MailError(f"SMTP delivery failed: {exc.__class__.__name__}") from exc
    metrics.MAILS.labels("sent").inc()
    # The server has taken the mail. Whatever QUIT answers, raising now would retry the job
    # and send the mail twice.
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def send_mail_job(to: str, subject: str, body: str) -> None:
    """The job that sends one mail (raises to be retried); queued with ``jobs.enqueue(send_mail_job, …)``."""
    send(current_app.config, to, subject, body, dev_mailbox=current_app.extensions.get("dev_mailbox"))


def render_mail(template: str, **context) -> tuple[str, str]:
    """The subject and body of a mail template (its first line is ``Subject: ...``), the footer added."""
    text = render_template(template, **context)
    first, _, body = text.partition("\n")
    subject = first.removeprefix("Subject:").strip()
    return subject, body.strip("\n") + "\n\n" + MAIL_FOOTER


def queue_mail(template: str, to: str, **context) -> None:
    """Render a mail template and queue it for sending (never inside a database transaction)."""
    subject, body = render_mail(template, **context)
    jobs.enqueue(send_mail_job, to=to, subject=subject, body=body)

"""What ``flask --app app check`` reports: what is configured, and whether each dependency answers.

Database (``SELECT 1``), Redis (``PING``), LINE (the channel access token by
``GET /v2/bot/info``, and the month's message quota: ``/v2/bot/message/quota`` and
``/quota/consumption``, through line-bot-sdk), Slack (``auth.test`` through slack_sdk,
only when ``SLACK_BOT_TOKEN`` is set), SMTP (connect, EHLO, STARTTLS when asked, QUIT:
nothing is ever sent). Exit code 1 when a configured dependency does not answer; one that
is not configured (Redis under ``make run``, Slack, SMTP) is said so and is no failure.

Secrets are never shown: URLs lose their passwords, tokens are shown as "set". The command
itself (printing, the exit code) is ``handlers.cli.ops``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

from flask import Flask
from sqlalchemy import make_url

CHECK_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Result:
    """One dependency's answer."""

    name: str
    target: str  # what is configured (secrets masked)
    configured: bool
    ok: bool
    detail: str


def mask_url(url: str) -> str:
    """The URL without its password (``smtp://user:***@host:587``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f":***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask_database_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL: say nothing of it
        return "(unreadable URL)"


def _failure(exc: BaseException) -> str:
    """A failure by its class (texts may quote addresses or hosts' banners); HTTP status when known."""
    status = getattr(exc, "status", None) or getattr(getattr(exc, "response", None), "status_code", None)
    name = exc.__class__.__name__
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps what actually happened
    if isinstance(reason, BaseException):
        name += f" <- {reason.__class__.__name__}"
    return name + (f" (HTTP {status})" if status else "")


def check_database(app: Flask) -> Result:
    target = mask_database_url(app.config["DATABASE_URL"])
    try:
        app.extensions["db"].ping()
    except Exception as exc:  # noqa: BLE001
        return Result("database", target, True, False, f"does not answer: {_failure(exc)}")
    return Result("database", target, True, True, f"answers ({app.extensions['db'].engine.dialect.name})")


def check_redis(app: Flask) -> Result:
    url = app.config.get("REDIS_URL")
    if not url:
        return Result("redis", "not configured", False, True,
                      "in-process stand-in: state, locks and jobs in this one process only (make run)")
    try:
        app.extensions["redis"].ping()
    except Exception as exc:  # noqa: BLE001
        return Result("redis", mask_url(url), True, False, f"does not answer: {_failure(exc)}")
    return Result("redis", mask_url(url), True, True, "answers")


def check_line(app: Flask) -> Result:
    base = app.config["LINE_API_BASE_URL"]
    target = f"{base} (channel access token set)"
    timeout = (CHECK_TIMEOUT_SECONDS, CHECK_TIMEOUT_SECONDS)
    api = app.extensions["line_messaging_api"]  # the LINE edge's client, as the factory wired it
    try:
        info = api.get_bot_info(_request_timeout=timeout)
        quota = api.get_message_quota(_request_timeout=timeout)
        used = api.get_message_quota_consumption(_request_timeout=timeout).total_usage
    except Exception as exc:  # noqa: BLE001
        if app.config.get("EMULATOR") and base == app.config["PUBLIC_BASE_URL"] + "/emulator/line":
            # make run: "LINE" is the emulator inside the web process, which is not running now.
            return Result("LINE", f"{base} (the emulator)", False, True,
                          "the emulator answers only while the web process runs (make run)")
        return Result("LINE", target, True, False, f"does not answer: {_failure(exc)}")
    chat_mode = getattr(info.chat_mode, "value", info.chat_mode)
    who = f"token valid for {info.basic_id} ({info.display_name}, chat mode {chat_mode})"
    if str(getattr(quota.type, "value", quota.type)) == "limited" and quota.value is not None:
        left = max(quota.value - used, 0)
        quota_text = f"quota this month {quota.value:,}, used {used:,}, left {left:,}"
    else:
        quota_text = f"no monthly quota, used {used:,}"
    return Result("LINE", target, True, True, f"{who}; {quota_text}")


def check_slack(app: Flask) -> Result:
    token = app.config.get("SLACK_BOT_TOKEN")
    if not token:
        return Result("Slack", "not configured", False, True, "SLACK_BOT_TOKEN unset: staff use the emulator's pane")
    from slack_sdk import WebClient

    base = app.config.get("SLACK_API_BASE_URL") or "https://slack.com/api/"
    target = f"{base} (bot token set)"
    try:
        answer = WebClient(token=token, base_url=base, timeout=CHECK_TIMEOUT_SECONDS).auth_test()
    except Exception as exc:  # noqa: BLE001 - SlackApiError (invalid_auth), network errors
        return Result("Slack", target, True, False, f"does not answer: {_failure(exc)}")
    return Result("Slack", target, True, True, f"token valid for {answer.get('team')} as {answer.get('user')}")


def check_smtp(app: Flask) -> Result:
    url = app.config.get("SMTP_URL")
    if not url:
        if app.config.get("EMULATOR"):
            return Result("SMTP", "not configured", False, True, "SMTP_URL unset: the emulator keeps the mail")
        return Result("SMTP", "not configured", True, False, "SMTP_URL unset: no mail can be sent")
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] == "1"
    target = mask_url(url)
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=CHECK_TIMEOUT_SECONDS,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, parts.port or 25, timeout=CHECK_TIMEOUT_SECONDS)
        try:
            code, _banner = client.ehlo()
            if code != 250:
                raise smtplib.SMTPResponseException(code, b"EHLO refused")
            if starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
    except (OSError, smtplib.SMTPException) as exc:
        return Result("SMTP", target, True, False, f"does not answer: {_failure(exc)}")
    return Result("SMTP", target, True, True, "answers EHLO" + (" and STARTTLS" if starttls else ""))


CHECKS: tuple[Callable[[Flask], Result], ...] = (check_database, check_redis, check_line, check_slack, check_smtp)


def configuration_lines(app: Flask) -> list[tuple[str, str]]:
    """The settings worth seeing, secrets shown only as set/unset."""
    config = app.config

    def is_set(name: str) -> str:
        return "set" if config.get(name) else "unset"

    jobs_mode = "in the web process" if "job_runner" in app.extensions else "RQ queue (run flask --app app worker)"
    return [
        ("PUBLIC_BASE_URL", config["PUBLIC_BASE_URL"]),
        ("SECRET_KEY", is_set("SECRET_KEY")),
        ("LINE_CHANNEL_SECRET", is_set("LINE_CHANNEL_SECRET")),
        ("LINE_CHANNEL_ACCESS_TOKEN", is_set("LINE_CHANNEL_ACCESS_TOKEN")),
        ("SLACK_SIGNING_SECRET", is_set("SLACK_SIGNING_SECRET")),
        ("SLACK_CHANNEL_ID", config.get("SLACK_CHANNEL_ID") or "unset"),
        ("METRICS_TOKEN", is_set("METRICS_TOKEN") + ("" if config.get("METRICS_TOKEN") else " (loopback only)")),
        ("MAIL_FROM", config.get("MAIL_FROM") or "unset"),
        ("EMULATOR", "on" if config.get("EMULATOR") else "off"),
        ("jobs", jobs_mode),
        ("TRUSTED_PROXY_HOPS", str(config.get("TRUSTED_PROXY_HOPS", 0))),
        ("LOG_FORMAT", config.get("LOG_FORMAT", "plain")),
    ]


def run_checks(app: Flask) -> list[Result]:
    """Every dependency's answer, in order."""
    return [check(app) for check in CHECKS]

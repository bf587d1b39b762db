"""The application factory: ``create_app(test_config=None)``; nothing runs at import."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from flask import Flask

from bot.hours import DEFAULT_CLOSED_DAYS, closed_days
from storage.errors import Misconfigured

log = logging.getLogger(__name__)

# Settings that must be given outside `make run`: no secret has a default in production.
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN")
DEMO_LINE_SECRET = "demo-channel-secret"
DEMO_LINE_TOKEN = "demo-channel-access-token"


# Link tokens travel in URLs (mail links, bill links); request logs must not keep them.
_TOKEN_IN_URL = re.compile(r"(?<=[/=])[A-Za-z0-9_\-]{20,}")


class RedactTokens(logging.Filter):
    """Replace anything token-shaped in a log record's URL arguments with ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        def clean(value):
            return _TOKEN_IN_URL.sub("[redacted]", value) if isinstance(value, str) else value

        if isinstance(record.args, tuple):
            record.args = tuple(clean(a) for a in record.args)
        elif isinstance(record.args, dict):  # gunicorn's access log passes a mapping
            record.args = {k: clean(v) for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub("[redacted]", record.msg)
        return True


class ConfigError(Misconfigured, RuntimeError):
    """A required setting is missing."""


def _int_setting(env, name: str, default: int) -> int:
    """A whole-number setting; a typo is a start-up error that names the setting."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _env_config(instance_path: str) -> dict:
    """Read the INTERFACES.md environment variables (after loading ``.env`` if present)."""
    load_dotenv(override=False)
    env = os.environ
    demo = env.get("DEMO_DEFAULTS") == "1"  # set by `make run` only
    emulator = env.get("EMULATOR", "1" if demo else "0") == "1"
    return {
        "DEMO_DEFAULTS": demo,
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'aicom.db'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "SECRET_KEY": env.get("SECRET_KEY") or (secrets.token_hex(32) if demo else None),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
        "LINE_CHANNEL_SECRET": env.get("LINE_CHANNEL_SECRET") or (DEMO_LINE_SECRET if demo else None),
        "LINE_CHANNEL_ACCESS_TOKEN": env.get("LINE_CHANNEL_ACCESS_TOKEN") or (DEMO_LINE_TOKEN if demo else None),
        "LINE_API_BASE_URL": (env.get("LINE_API_BASE_URL") or "").rstrip("/") or None,
        "LINE_DATA_API_BASE_URL": (env.get("LINE_DATA_API_BASE_URL") or "").rstrip("/") or None,
        # The official account's basic ID (@...): the add-friend link and QR code on the web pages.
        "LINE_BASIC_ID": env.get("LINE_BASIC_ID") or ("@aicomkoka" if demo else None),
        "SMTP_URL": env.get("SMTP_URL") or None,
        # The sender's name in Japanese (the glossary's brand, bot.messages.MAIL_SENDER_NAME); the mail
        # code encodes it for the header (RFC 2047), so it reads the same in every mail program.
        "MAIL_FROM": env.get("MAIL_FROM") or "あいコムこうかマイページ <noreply@aicom-koka.jp>",
        "REGISTRATION_LINK_TTL_SECONDS": _int_setting(env, "REGISTRATION_LINK_TTL_SECONDS", 86400),
        "SLACK_BOT_TOKEN": env.get("SLACK_BOT_TOKEN") or None,
        "SLACK_SIGNING_SECRET": env.get("SLACK_SIGNING_SECRET") or None,
        "SLACK_CHANNEL_ID": env.get("SLACK_CHANNEL_ID") or None,
        "SLACK_API_BASE_URL": env.get("SLACK_API_BASE_URL") or "https://slack.com/api/",
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "SUPPORT_HOURS": env.get("SUPPORT_HOURS") or "09:00-17:00",
        # Days closed every year besides weekends and public holidays; set empty for none.
        "SUPPORT_CLOSED_DAYS": env.get("SUPPORT_CLOSED_DAYS", DEFAULT_CLOSED_DAYS).strip(),
        # How often a process asks whether `import-faq` brought a new FAQ set (seconds).
        "FAQ_REFRESH_SECONDS": float(_int_setting(env, "FAQ_REFRESH_SECONDS", 2)),
        "HANDOFF_NO_REPLY_MINUTES": _int_setting(env, "HANDOFF_NO_REPLY_MINUTES", 15),
        "EMULATOR": emulator,
        # Jobs run inside the web process when there is no Redis (make run) or when asked.
        "JOBS_INLINE": env.get("JOBS_INLINE") == "1",
        # LINE events run in the web process's own threads without Redis (make run) or when asked.
        "EVENTS_INLINE": env.get("EVENTS_INLINE") == "1",
        "EVENT_PARTITIONS": _int_setting(env, "EVENT_PARTITIONS", 16),
        "EVENT_QUEUE_MAX": _int_setting(env, "EVENT_QUEUE_MAX", 50_000),
        "EVENT_WORKER_THREADS": _int_setting(env, "EVENT_WORKER_THREADS", 4),
        "EVENT_LEASE_SECONDS": float(_int_setting(env, "EVENT_LEASE_SECONDS", 15)),
        "USER_LOCK_SECONDS": _int_setting(env, "USER_LOCK_SECONDS", 30),
        "REPLY_TOKEN_MAX_AGE_SECONDS": _int_setting(env, "REPLY_TOKEN_MAX_AGE_SECONDS", 50),
        # How many reverse proxies in front of us set X-Forwarded-For/-Proto (0: none, trust nothing).
        "TRUSTED_PROXY_HOPS": _int_setting(env, "TRUSTED_PROXY_HOPS", 0),
        "LINE_ACCOUNT_LINK_URL": env.get("LINE_ACCOUNT_LINK_URL") or None,
        # Operations (handlers/ops, handlers/logs, storage/retention): README "Running it in production".
        "LOG_FORMAT": (env.get("LOG_FORMAT") or "plain").strip().lower(),
        "LOG_LEVEL": (env.get("LOG_LEVEL") or "INFO").strip().upper(),
        "RETENTION_LINK_TOKEN_DAYS": _int_setting(env, "RETENTION_LINK_TOKEN_DAYS", 7),
        "RETENTION_PROVISIONAL_DAYS": _int_setting(env, "RETENTION_PROVISIONAL_DAYS", 0),
        "RETENTION_FAQ_MISS_DAYS": _int_setting(env, "RETENTION_FAQ_MISS_DAYS", 90),
    }


def _check_operations_settings(config) -> None:
    """LOG_FORMAT, LOG_LEVEL, retention periods: a typo is a start-up error naming the setting."""
    if config["LOG_FORMAT"] not in ("plain", "json"):
        raise ConfigError(f"LOG_FORMAT must be plain or json, not {config['LOG_FORMAT']!r}")
    if config["LOG_LEVEL"] not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {config['LOG_LEVEL']!r}")
    for name in ("RETENTION_LINK_TOKEN_DAYS", "RETENTION_PROVISIONAL_DAYS", "RETENTION_FAQ_MISS_DAYS"):
        if int(config[name]) < 0:
            raise ConfigError(f"{name} must be 0 or more days")
    try:
        closed_days(config["SUPPORT_CLOSED_DAYS"])
    except ValueError as exc:
        raise ConfigError(f"SUPPORT_CLOSED_DAYS: {exc}") from None
    token = config.get("METRICS_TOKEN")
    if token is not None and len(token) < 16:
        log.warning("METRICS_TOKEN is shorter than 16 characters; use a long random value")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, storage, the bot engine and every blueprint."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(_env_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    _complete_config(app.config)
    _check_config(app.config)
    _check_operations_settings(app.config)
    _init_logging(app)
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from storage import db, state

    db.init_app(app)
    state.init_app(app)

    from handlers import cli, clock, jobs, line, ops, slack, web

    clock.init_app(app)  # the one clock (handlers.clock.now; CLOCK in tests) every edge reads
    jobs.init_app(app)
    web.init_app(app)  # first: CSRF, which the webhooks exempt themselves from
    line.init_app(app)
    slack.init_app(app)  # before the emulator, whose staff pane stands in when Slack is not configured
    cli.init_app(app)
    ops.init_app(app)  # /metrics and the probes; after the edges that register probes and rules
    if app.config["EMULATOR"]:
        from handlers import emulator

        emulator.init_app(app)
    jobs.register_effects(app, _effect_jobs(app.config))
    return app


def _effect_jobs(config: dict) -> dict:
    """How the edges meet: the job that performs each ``bot.types`` effect, in one table. A turn, a
    page or another edge asks with the effect (``jobs.perform(PushReplies(...))``), never a job path."""
    from bot.types import HandoffTimer, PushReplies, SendMail, StaffOutbox, SwitchMenu, SyncRichMenus
    from handlers import mail, slack
    from handlers.line import delivery, richmenu
    from handlers.slack import threads

    if slack.configured(config):
        staff_outbox = threads.slack_outbox_job  # escalations go to the Slack channel
    elif config["EMULATOR"]:
        from handlers.emulator.staff import staff_pane_outbox_job

        staff_outbox = staff_pane_outbox_job  # to the emulator's staff pane
    else:
        staff_outbox = threads.unseen_outbox_job  # to nobody (said loudly at start)
    return {SendMail: mail.send_mail_job, PushReplies: delivery.push_effect_job, SwitchMenu: richmenu.switch_menu_job,
            SyncRichMenus: richmenu.sync_job, HandoffTimer: threads.handoff_timer_job, StaffOutbox: staff_outbox}


def _complete_config(config: dict) -> None:
    """The settings derived from others: LINE's hosts (the emulator's under EMULATOR=1), cookies."""
    if not config["LINE_API_BASE_URL"]:
        config["LINE_API_BASE_URL"] = (
            config["PUBLIC_BASE_URL"] + "/emulator/line" if config["EMULATOR"] else "https://api.line.me"
        )
    if not config.get("LINE_DATA_API_BASE_URL"):  # rich menu images live on LINE's data host
        config["LINE_DATA_API_BASE_URL"] = (
            config["PUBLIC_BASE_URL"] + "/emulator/line-data" if config["EMULATOR"] else "https://api-data.line.me"
        )
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session bounds the form's life
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config["PUBLIC_BASE_URL"].startswith("https://"),
        MAX_CONTENT_LENGTH=1024 * 1024,
    )


def _check_config(config: dict) -> None:
    """Refuse to start without what production needs, or with a malformed base URL or mail server."""
    missing = [name for name in REQUIRED_IN_PRODUCTION if not config.get(name)]
    if missing:
        raise ConfigError(
            "missing required settings: " + ", ".join(missing)
            + " (set them in the environment or .env; `make run` supplies demo values)"
        )
    if not config["EMULATOR"] and not config.get("SMTP_URL"):
        # Without it, 本登録 and reset mails (live links) would sit in the emulator's development
        # mailbox, counted as sent: outside the emulator that is mail lost in silence.
        raise ConfigError("missing required setting: SMTP_URL (the mail server, smtp://host:port; only the "
                          "emulator, under `make run`, keeps mail in its own mailbox)")
    base = urlsplit(config["PUBLIC_BASE_URL"])
    if base.scheme not in ("http", "https") or not base.hostname:  # every link in chat and mail starts with it
        raise ConfigError("PUBLIC_BASE_URL must be an absolute http(s) URL such as https://bot.example.jp")
    if config.get("SMTP_URL"):
        from handlers.mail import smtp_url_problem

        problem = smtp_url_problem(config["SMTP_URL"])
        if problem:  # said now, not as a mail job failing for 45 minutes
            raise ConfigError(problem)


def _init_logging(app: Flask) -> None:
    """LOG_FORMAT=json: JSON lines; every request (and the jobs it queues) has an id; tokens redacted."""
    from handlers import logs

    logs.init_app(app)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("werkzeug", "gunicorn.access"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())

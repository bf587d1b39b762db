"""The service's one error tree: every error it raises on purpose derives from ``ServiceError``.

    ServiceError                  raised on purpose (anything else is a bug, or a foreign error not yet translated)
     ├── Unavailable              a dependency did not answer (Redis, the database, LINE, SMTP): keep the work and
     │    │                       try again later, or ask the sender to redeliver; never lose it, never fake success
     │    ├── StateUnavailable    Redis (storage.redis_client)        ├── QueueFull      an event partition is full
     │    ├── DatabaseUnavailable the database (storage.db)
     │    ├── OutboxBusy          a handoff's outbox is being drained ├── PushesBusy     a user's pushes are
     │    ├── MailError           the mail server (handlers.mail)     ├── RateLimited    LINE's rich-menu limits
     │    └── Transient           an event's turn met an outage (handlers.line.turn)
     ├── Refused                  a request that breaks a rule: answer politely, change nothing
     │    ├── InvalidInput        a chat answer that does not fit (bot.errors)
     │    ├── LoginIdTaken, AlreadyRegistered, TokenSpent, CustomerGone   (storage.accounts)
     │    ├── ImportFailed        a CSV with bad lines (handlers.cli)
     │    ├── RunRefused          a notice run that may not start (handlers.line.notices)
     │    └── SettingsRefused     a settings form that cannot go on (handlers.web.settings)
     ├── Misconfigured            the service's own settings are wrong: refuse to start, naming the setting
     │    ├── ConfigError (app), RedisUrlError, RetentionSettingError, FontMissing
     └── JobFailed                a background job failed; carries only the class names of its causes

It lives at the bottom layer so that storage, the conversation and the edges share it. Foreign errors
are translated into this tree where the service meets them: redis-py's in the storage rooms
(``storage.redis_client``), SQLAlchemy's "not now" at the engine and its pool (``storage.db``), the
SDKs' HTTP errors at the edge that calls them. An event's turn asks one question of what it meets:
``Unavailable`` or not.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service raises on purpose."""


class Unavailable(ServiceError):
    """A dependency did not answer: the work is kept to be retried, or its sender asked to send again."""


class Refused(ServiceError):
    """A request that breaks a rule: the customer or operator is told why; nothing changes."""


class Misconfigured(ServiceError):
    """The service's own configuration is wrong or incomplete."""

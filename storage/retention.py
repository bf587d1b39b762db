"""Retention rules: what ``flask --app app purge`` removes, as a registry other modules add to.

Personal data is kept no longer than it is needed (APPI). Each kind of row that expires
has one rule: a name, the setting that holds its retention period in days (with its
default), and a function that deletes what is past it and returns how many rows went.
``purge`` runs every rule, each in its own transaction, and prints the counts.

Adding a rule (deliveries, transcripts, event outcomes, …), in the storage module that owns
the table, so it is registered whenever the app is built::

    from storage import retention

    @retention.rule("transcripts", setting="RETENTION_TRANSCRIPT_DAYS", default_days=90,
                    description="handoff transcripts older than the period")
    def purge_transcripts(session, now, keep):
        cutoff = now - keep
        return session.execute(delete(Transcript).where(Transcript.closed_at < cutoff)).rowcount

``keep`` is a ``timedelta`` of the configured days (``app.config[setting]``, else the
environment variable of that name, else the default). A rule never commits; ``purge
--dry-run`` rolls every transaction back and prints what would go.

Erasure on 退会 (a customer deletes their My Page account): ``storage.accounts.withdraw``
deletes the account, its link tokens and its LINE link, then calls every function
registered with ``@retention.on_withdraw`` as ``func(session, account_id, line_user_id)``
(``line_user_id`` None when not linked), in the same transaction: a module that keeps
personal data about an account or a LINE user (transcripts, deliveries) erases it there.
Customers and statements stay: they are the billing system's records.

The built-in rules:

- ``provisional_registrations``: provisional accounts (仮登録) past ``expires_at`` plus
  ``RETENTION_PROVISIONAL_DAYS`` (default 0), with their link tokens; their account IDs are free.
- ``link_tokens``: link tokens (本登録, bill and reset links, LINE account-link nonces) spent
  or expired more than ``RETENTION_LINK_TOKEN_DAYS`` (default 7) ago. Until then a used link
  still says "already used" rather than "unknown".
- ``email_changes`` (``storage.accounts``): mail address changes (アカウント設定) spent, voided
  or expired more than ``RETENTION_LINK_TOKEN_DAYS`` ago.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import Misconfigured
from storage.models import Account, LinkToken

PurgeFunction = Callable[[Session, datetime, timedelta], int]


@dataclass(frozen=True)
class RetentionRule:
    """One kind of row that expires."""

    name: str
    purge: PurgeFunction
    setting: str | None = None  # the setting holding the period in days
    default_days: int = 0
    description: str = ""

    def keep(self, config: Mapping) -> timedelta:
        """The configured retention period."""
        return timedelta(days=retention_days(config, self.setting, self.default_days))


class RetentionSettingError(Misconfigured, ValueError):
    """A retention period setting that is not a whole number of days (0 or more)."""


RULES: dict[str, RetentionRule] = {}


def retention_days(config: Mapping, setting: str | None, default: int) -> int:
    """Days from ``config[setting]``, the environment, or ``default``; raises ``RetentionSettingError``."""
    if setting is None:
        return default
    raw = config.get(setting)
    if raw is None or raw == "":
        raw = os.environ.get(setting, "")
    if raw is None or str(raw).strip() == "":
        return default
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise RetentionSettingError(f"{setting} must be a whole number of days, not {raw!r}") from None
    if days < 0:
        raise RetentionSettingError(f"{setting} must be 0 or more days")
    return days


def rule(name: str, *, setting: str | None = None, default_days: int = 0,
         description: str = "") -> Callable[[PurgeFunction], PurgeFunction]:
    """Register a retention rule (a decorator); registering a name again replaces it."""
    def register(func: PurgeFunction) -> PurgeFunction:
        RULES[name] = RetentionRule(name, func, setting, default_days, description or (func.__doc__ or "").strip())
        return func
    return register


ErasureFunction = Callable[[Session, int, "str | None"], None]
ERASERS: list[ErasureFunction] = []


def on_withdraw(func: ErasureFunction) -> ErasureFunction:
    """Register what else to erase when an account is deleted by its owner (a decorator)."""
    if func not in ERASERS:
        ERASERS.append(func)
    return func


def validate(config: Mapping) -> None:
    """Raise ``RetentionSettingError`` for the first rule whose setting is unusable (start-up check)."""
    for item in RULES.values():
        item.keep(config)


@dataclass(frozen=True)
class Purged:
    """What one rule removed (or would remove, in a dry run)."""

    name: str
    count: int
    keep_days: int
    description: str


def purge_all(sessions: sessionmaker[Session], now: datetime, config: Mapping, *,
              dry_run: bool = False, only: tuple[str, ...] = ()) -> list[Purged]:
    """Run every rule (or those named in ``only``), each in its own transaction."""
    out = []
    for item in RULES.values():
        if only and item.name not in only:
            continue
        keep = item.keep(config)
        with sessions() as session:
            try:
                count = item.purge(session, now, keep)
            except BaseException:
                session.rollback()
                raise
            if dry_run:
                session.rollback()
            else:
                session.commit()
        out.append(Purged(item.name, int(count or 0), keep.days, item.description))
    return out


# -- the built-in rules ------------------------------------------------------------------------
@rule("provisional_registrations", setting="RETENTION_PROVISIONAL_DAYS", default_days=0,
      description="provisional registrations (仮登録) past their expiry, with their links")
def purge_provisional(session: Session, now: datetime, keep: timedelta) -> int:
    """Expired provisional accounts; their link tokens go by ON DELETE CASCADE (and explicitly here)."""
    cutoff = now - keep
    expired = [row_id for (row_id,) in session.execute(
        Account.__table__.select().with_only_columns(Account.id)
        .where(Account.status == "provisional", Account.expires_at.is_not(None), Account.expires_at <= cutoff))]
    if not expired:
        return 0
    session.execute(delete(LinkToken).where(LinkToken.account_id.in_(expired)))
    return session.execute(delete(Account).where(Account.id.in_(expired))).rowcount


@rule("link_tokens", setting="RETENTION_LINK_TOKEN_DAYS", default_days=7,
      description="link tokens and account-link nonces spent or expired")
def purge_link_tokens(session: Session, now: datetime, keep: timedelta) -> int:
    """Link tokens spent, or expired, more than ``keep`` ago (whichever came first)."""
    cutoff = now - keep
    return session.execute(delete(LinkToken).where(or_(LinkToken.expires_at <= cutoff,
                                                       LinkToken.used_at <= cutoff))).rowcount

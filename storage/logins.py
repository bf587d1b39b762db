"""Web My Page sign-in: active accounts, password reset links, password changes, LINE account-link nonces.

Reset links (purpose ``reset``) last 30 minutes and are spent by the POST that sets the
new password; the reset bumps ``session_version`` (every older session dies) and revokes
every other reset and bill link of the account, any pending LINE account-link nonce, and any
pending mail address change. A password changed on the settings page does the same
(``change_password``); the page then carries its own session over to the new version.

Account-link nonces (purpose ``line_link``) are kept here, in the database, rather than in
Redis: the chat's ``accountLink`` handler runs inside the engine's database transaction,
so spending the nonce and creating the LINE link commit together or not at all. They live
10 minutes and are spent once (an atomic UPDATE ... WHERE used_at IS NULL).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.accounts import cancel_email_changes
from storage.bills import BILL_PURPOSE, aware, tokyo
from storage.models import Account, LinkToken
from storage.security import hash_password, hash_token, new_token

RESET_PURPOSE = "reset"
RESET_LINK_SECONDS = 30 * 60
LINE_LINK_PURPOSE = "line_link"
LINE_LINK_NONCE_SECONDS = 10 * 60


def active_account(session: Session, account_id: int) -> Account | None:
    """The account with this id if it is active."""
    account = session.get(Account, account_id)
    return account if account is not None and account.status == "active" else None


def active_accounts_by_email(session: Session, email: str) -> list[Account]:
    """Active accounts registered with this mail address (compared ignoring case)."""
    email = email.strip().lower()
    if not email:
        return []
    return list(session.scalars(select(Account).where(Account.status == "active",
                                                      func.lower(Account.email) == email)
                                .order_by(Account.id)))


def issue_reset_link(session: Session, account: Account, now: datetime) -> str:
    """A fresh password reset token for the account (30 minutes, single use)."""
    token, token_hash = new_token()
    now = tokyo(now)
    session.add(LinkToken(token_hash=token_hash, purpose=RESET_PURPOSE, account_id=account.id, created_at=now,
                          expires_at=now + timedelta(seconds=RESET_LINK_SECONDS)))
    session.flush()
    return token


def reset_link_status(session: Session, token: str, now: datetime) -> tuple[str, LinkToken | None]:
    """``("ok", link)``, or ``("used"|"expired"|"unknown", None)`` for a reset token."""
    if not token or len(token) > 200:
        return "unknown", None
    link = session.scalar(select(LinkToken).where(LinkToken.token_hash == hash_token(token),
                                                  LinkToken.purpose == RESET_PURPOSE))
    if link is None or link.account.status != "active":
        return "unknown", None
    if link.used_at is not None:
        return "used", None
    if aware(link.expires_at) <= now:
        return "expired", None
    return "ok", link


def _spend(session: Session, token: str, purpose: str, now: datetime) -> int | None:
    """Mark a live token of ``purpose`` used in one statement (so two requests cannot both
    spend it) and return its account id; None for unknown, used or expired tokens."""
    return session.execute(
        update(LinkToken)
        .where(LinkToken.token_hash == hash_token(token), LinkToken.purpose == purpose,
               LinkToken.used_at.is_(None), LinkToken.expires_at > now)
        .values(used_at=now).returning(LinkToken.account_id)).scalar()


def reset_password(session: Session, token: str, new_password: str, now: datetime) -> Account | None:
    """Spend the reset token and set the password; None when the token was not live (raced, used, expired)."""
    now = tokyo(now)
    spent = _spend(session, token, RESET_PURPOSE, now)
    if spent is None:
        return None
    account = active_account(session, spent)
    if account is None:
        return None
    _set_password(session, account, new_password, now)
    return account


def change_password(session: Session, account: Account, new_password: str, now: datetime) -> int:
    """Set a new password (the caller checked the current one): every other session of the account
    ends, its outstanding links go. Returns the new ``session_version`` for the caller's own session."""
    _set_password(session, account, new_password, tokyo(now))
    return account.session_version


def _set_password(session: Session, account: Account, new_password: str, now: datetime) -> None:
    """The new hash; ``session_version`` bumped (older sessions die on their next request); reset, bill
    and LINE account-link tokens and pending mail address changes revoked."""
    account.password_hash = hash_password(new_password)
    account.session_version = (account.session_version or 1) + 1
    session.execute(update(LinkToken)
                    .where(LinkToken.account_id == account.id,
                           LinkToken.purpose.in_((RESET_PURPOSE, BILL_PURPOSE, LINE_LINK_PURPOSE)),
                           LinkToken.used_at.is_(None))
                    .values(used_at=now))
    cancel_email_changes(session, account.id, now)
    session.flush()


def issue_line_link_nonce(session: Session, account: Account, now: datetime) -> str:
    """A nonce (256 bits) that LINE hands back in the accountLink event; only its hash is kept."""
    nonce = secrets.token_urlsafe(32)
    now = tokyo(now)
    session.add(LinkToken(token_hash=hash_token(nonce), purpose=LINE_LINK_PURPOSE, account_id=account.id,
                          created_at=now, expires_at=now + timedelta(seconds=LINE_LINK_NONCE_SECONDS)))
    session.flush()
    return nonce


def spend_line_link_nonce(session: Session, nonce: str, now: datetime) -> Account | None:
    """The active account the nonce was issued for, spending it; None for unknown, used or expired ones."""
    if not nonce or len(nonce) > 255:
        return None
    account_id = _spend(session, nonce, LINE_LINK_PURPOSE, tokyo(now))
    return active_account(session, account_id) if account_id is not None else None

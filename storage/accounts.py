"""Repository functions for My Page accounts: provisional registration, 本登録 tokens, LINE unlink,
the settings' mail address changes (``request_email_change`` / ``confirm_email_change``).

They take a session and never commit. The database has the last word on account IDs
(unique ``login_id_key``): a race that slips past ``login_id_available`` comes back as
``LoginIdTaken`` from ``create_provisional``, with the caller's transaction still usable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import retention
from storage.errors import Refused
from storage.models import Account, Customer, EmailChange, LineLink, LinkToken
from storage.security import hash_token, new_token

PROVISIONAL = "provisional"
ACTIVE = "active"
REGISTER = "register"
EMAIL_CHANGE_LINK_SECONDS = 24 * 60 * 60  # the confirmation link mailed to the new address


def expired(moment: datetime | None, now: datetime) -> bool:
    """True when ``moment`` has passed. SQLite hands back naive datetimes: they were written in ``now``'s zone."""
    if moment is None:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return moment <= now


class LoginIdTaken(Refused):
    """Another account holds this account ID (in any letter case)."""


class AlreadyRegistered(Refused):
    """The customer already has an active account."""


class TokenSpent(Refused):
    """The 本登録 token was spent (or its account activated) by another transaction meanwhile."""


class CustomerGone(Refused):
    """The customer record no longer exists (deleted since the customer was verified)."""


def contract_name(account: Account) -> str:
    """The name a mail greets (「アイコム　タロウ 様」): the contract holder's name in katakana, as the
    contract has it and the printed guide greets, never the nickname chosen for the pages."""
    return account.customer.name_kana


def account_for_customer(session: Session, customer_id: int) -> Account | None:
    """The customer's account (provisional or active), if any."""
    return session.scalar(select(Account).where(Account.customer_id == customer_id))


def login_id_available(session: Session, login_id: str, customer_id: int, now: datetime) -> bool:
    """True when nobody else holds the ID: free, held by an expired provisional row, or by this customer's own
    provisional row (which a new 仮登録 replaces)."""
    holder = session.scalar(select(Account).where(Account.login_id_key == login_id.lower()))
    if holder is None:
        return True
    if holder.status == PROVISIONAL:
        return holder.customer_id == customer_id or expired(holder.expires_at, now)
    return False


def _issue_register_token(session: Session, account: Account, now: datetime, expires_at: datetime) -> str:
    token, token_hash = new_token()
    session.add(LinkToken(token_hash=token_hash, purpose=REGISTER, account_id=account.id, created_at=now,
                          expires_at=expires_at))
    session.flush()
    return token


def _retire_register_tokens(session: Session, account: Account, now: datetime) -> None:
    """Mark every unspent 本登録 token of the account as used (an old mail's link then says so)."""
    session.execute(update(LinkToken).where(LinkToken.account_id == account.id, LinkToken.purpose == REGISTER,
                                            LinkToken.used_at.is_(None)).values(used_at=now))
    session.flush()


def create_provisional(session: Session, *, customer_id: int, login_id: str, email: str, nickname: str,
                       line_user_id: str, now: datetime, ttl_seconds: int) -> tuple[Account, str]:
    """仮登録: replace this customer's earlier provisional row and any expired holder of the ID, insert the new
    row and its 本登録 token (stored hashed). Returns the account and the token for the mail.

    Raises ``AlreadyRegistered`` when the customer's account is active, ``CustomerGone`` when the
    customer record has been deleted, ``LoginIdTaken`` when the database refuses the ID (someone
    took it since it was checked).

    Two 仮登録 for the same customer at the same moment (two LINE users): the second one's insert
    waits for the first on the unique customer index, fails, and is tried once more, now
    replacing the first (the latest wins, as it does when they come one after the other). No
    lock is taken on the customer row beyond the foreign key's own (KEY SHARE), so a running
    customer import is not waited for.
    """
    key = login_id.lower()
    expires_at = now + timedelta(seconds=ttl_seconds)
    for attempt in range(2):
        # KEY SHARE: the customer cannot be deleted under us; ordinary updates (imports) go on.
        customer = select(Customer.id).where(Customer.id == customer_id).with_for_update(read=True, key_share=True)
        if session.scalar(customer) is None:
            raise CustomerGone
        existing = account_for_customer(session, customer_id)
        if existing is not None and existing.status == ACTIVE:
            raise AlreadyRegistered
        try:
            with session.begin_nested():
                # Link tokens go with their account (ON DELETE CASCADE).
                session.execute(delete(Account).where(Account.login_id_key == key, Account.status == PROVISIONAL,
                                                      Account.expires_at <= now))
                session.execute(delete(Account).where(Account.customer_id == customer_id,
                                                      Account.status == PROVISIONAL))
                account = Account(customer_id=customer_id, login_id=login_id, login_id_key=key, email=email,
                                  nickname=nickname, status=PROVISIONAL, pending_line_user_id=line_user_id,
                                  expires_at=expires_at, session_version=1, created_at=now)
                session.add(account)
                session.flush()
                token = _issue_register_token(session, account, now, expires_at)
        except IntegrityError as exc:
            if "login_id_key" in str(exc.orig):
                raise LoginIdTaken from exc
            if attempt == 0 and "customer_id" in str(exc.orig):
                session.expire_all()  # see the other transaction's committed row on the next try
                continue
            raise
        return account, token
    raise AssertionError("unreachable")  # pragma: no cover - the second attempt returns or raises


def pending_registration(session: Session, line_user_id: str, now: datetime) -> Account | None:
    """The unexpired provisional account this LINE user started, if any."""
    return session.scalar(
        select(Account).where(Account.pending_line_user_id == line_user_id, Account.status == PROVISIONAL,
                              Account.expires_at > now).order_by(Account.created_at.desc()).limit(1))


def reissue_register_token(session: Session, account: Account, now: datetime, ttl_seconds: int) -> str:
    """A new 本登録 token for a resent mail: the old ones stop working, the registration lives ``ttl`` again."""
    _retire_register_tokens(session, account, now)
    account.expires_at = now + timedelta(seconds=ttl_seconds)
    return _issue_register_token(session, account, now, account.expires_at)


def find_register_token(session: Session, token: str, *, for_update: bool = False) -> LinkToken | None:
    """The 本登録 token row for a token from a URL (looked up by its hash), or None."""
    query = select(LinkToken).where(LinkToken.token_hash == hash_token(token), LinkToken.purpose == REGISTER)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def activate(session: Session, link_token: LinkToken, password_hash: str, now: datetime) -> Account:
    """本登録: spend the token, set the password, make the account active (the caller links LINE).

    Both changes are conditional in SQL (``used_at IS NULL``, ``status = 'provisional'``), so
    a second POST that read the row before the first committed cannot spend it again, even
    where ``FOR UPDATE`` is not honoured (SQLite). Raises ``TokenSpent`` then: let it propagate
    out of the caller's transaction so that nothing half-done is committed.
    """
    account = link_token.account
    spent = session.execute(update(LinkToken).where(LinkToken.id == link_token.id, LinkToken.used_at.is_(None))
                            .values(used_at=now))
    if spent.rowcount != 1:
        raise TokenSpent
    activated = session.execute(update(Account).where(Account.id == account.id, Account.status == PROVISIONAL)
                                .values(password_hash=password_hash, status=ACTIVE, activated_at=now,
                                        expires_at=None))
    if activated.rowcount != 1:
        raise TokenSpent
    _retire_register_tokens(session, account, now)
    return account


def unlink_line_user(session: Session, line_user_id: str) -> bool:
    """Remove this LINE user's link; True when there was one."""
    result = session.execute(delete(LineLink).where(LineLink.line_user_id == line_user_id))
    return bool(result.rowcount)


# -- mail address changes (My Page settings) --------------------------------------------------------
def request_email_change(session: Session, account: Account, new_email: str, now: datetime) -> str:
    """Record a change to ``new_email`` and return the token for the link mailed there (256 bits; only
    its hash is kept, the link lives ``EMAIL_CHANGE_LINK_SECONDS``). The account's earlier requests are
    spent: only the newest link works."""
    cancel_email_changes(session, account.id, now)
    token, token_hash = new_token()
    session.add(EmailChange(token_hash=token_hash, account_id=account.id, new_email=new_email, created_at=now,
                            expires_at=now + timedelta(seconds=EMAIL_CHANGE_LINK_SECONDS)))
    session.flush()
    return token


def cancel_email_changes(session: Session, account_id: int, now: datetime) -> None:
    """Spend every pending mail address change of the account (a newer one, or a password change)."""
    session.execute(update(EmailChange).where(EmailChange.account_id == account_id, EmailChange.used_at.is_(None))
                    .values(used_at=now))


def email_change_status(session: Session, token: str, now: datetime) -> tuple[str, EmailChange | None]:
    """``("ok", change)``, or ``("used"|"expired"|"unknown", None)`` for the token of a change link."""
    if not token or len(token) > 200:
        return "unknown", None
    change = session.scalar(select(EmailChange).where(EmailChange.token_hash == hash_token(token)))
    if change is None or change.account.status != ACTIVE:
        return "unknown", None
    if change.used_at is not None:
        return "used", None
    if expired(change.expires_at, now):
        return "expired", None
    return "ok", change


def confirm_email_change(session: Session, token: str, now: datetime) -> tuple[Account, str] | None:
    """Spend the token and give its account the new address; returns the account and its old
    address, or None when the token was not live (unknown, used, expired, or spent meanwhile).

    The spend is one conditional UPDATE (``used_at IS NULL`` and unexpired), so two posts of
    the same link cannot both change the address, on SQLite as on PostgreSQL."""
    if not token or len(token) > 200:
        return None
    spent = session.execute(
        update(EmailChange)
        .where(EmailChange.token_hash == hash_token(token), EmailChange.used_at.is_(None),
               EmailChange.expires_at > now)
        .values(used_at=now).returning(EmailChange.account_id, EmailChange.new_email)).first()
    if spent is None:
        return None
    account = session.get(Account, spent.account_id)
    if account is None or account.status != ACTIVE:
        return None
    old_email = account.email
    account.email = spent.new_email
    cancel_email_changes(session, account.id, now)
    session.flush()
    return account, old_email


@retention.rule("email_changes", setting="RETENTION_LINK_TOKEN_DAYS", default_days=7,
                description="mail address change links spent or expired")
def purge_email_changes(session: Session, now: datetime, keep: timedelta) -> int:
    """Mail address changes spent, or expired, more than ``keep`` ago (the new address goes with them)."""
    cutoff = now - keep
    return session.execute(delete(EmailChange).where(or_(EmailChange.expires_at <= cutoff,
                                                         EmailChange.used_at <= cutoff))).rowcount


def withdraw(session: Session, account_id: int) -> str | None:
    """退会: delete the account, its link tokens and its LINE link, and whatever other modules registered
    (``retention.on_withdraw``); the customer and statements (billing records) stay. Returns the LINE
    user id that was linked, or None."""
    line_user_id = session.scalar(select(LineLink.line_user_id).where(LineLink.account_id == account_id))
    session.execute(delete(LinkToken).where(LinkToken.account_id == account_id))
    session.execute(delete(EmailChange).where(EmailChange.account_id == account_id))
    session.execute(delete(LineLink).where(LineLink.account_id == account_id))
    session.execute(delete(Account).where(Account.id == account_id))
    for erase in retention.ERASERS:
        erase(session, account_id, line_user_id)
    session.expire_all()
    return line_user_id

"""Login and logout on the My Page, with the login throttle.

Sessions are server-side (``handlers.web.sessions``). A login starts a new session (a new id: no fixation)
holding the account id and its ``session_version``; every page checks the version against the database
(``handlers.web.mypage.access``), so a password reset, or a change on the settings page
(``handlers.web.settings``), ends every older session.

Login throttling: 5 failures per typed account ID or 20 per client address within 15 minutes refuse further
tries until the window passes. A try is counted first, atomically, and only then is the password verified, so
parallel wrong passwords cannot get more than the limit of verifications through; a success forgets its
tries. The reminder pages are not throttled by it, and a password reset clears the account's counter, so the
real owner is never locked out. Typed form fields holding control characters (NUL, which PostgreSQL refuses
outright) are treated like any other wrong answer.

The same form completes a LINE account link (``?link=1``, ``handlers.web.mypage.link``): then the password
check is followed by LINE's dialog, or by the confirm step when another LINE user has the account.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import redirect, render_template, request, session, url_for

from bot import validators
from handlers import clock, metrics
from handlers.web import sessions
from handlers.web.common import (
    CONTROL_RE,
    MAX_FIELD,
    client_address,
    counter_ident,
    database,
    form_text,
    limits,
    redis_client,
)
from handlers.web.mypage.access import bp, current_account, safe_next
from handlers.web.mypage.link import held_attempt, link_cookie, link_page, start_again, to_line
from storage import link_attempts, logins, repositories, richmenus
from storage.limits import Limits
from storage.models import Account
from storage.redis_client import StateUnavailable
from storage.security import hash_password, needs_rehash, verify_password

log = logging.getLogger(__name__)

LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class SigningIn:
    """A password that matched: who signs in, and where a LINE account link goes on from here."""

    account_id: int
    version: int  # the account's session_version
    moving: bool = False  # another LINE user has this account: ask first (link_confirm)
    spent: link_attempts.Attempt | None = None  # the link attempt spent for LINE's dialog
    nonce: str | None = None  # the nonce LINE's dialog carries back


@bp.get("/login")
def login():
    """The login form; ``?link=1``: the same form for the LINE account link this browser started."""
    if request.args.get("linkToken") is not None:
        # The URL the chat carried before our own binding: a link token alone no longer links.
        return start_again("old")
    if request.args.get("link") is not None:
        attempt, problem = held_attempt()
        if attempt is None:
            return start_again(problem)
        return render_template("mypage/login.html", next=None, error=None, **link_page(attempt))
    next_path = safe_next(request.args.get("next"))
    with database().begin() as db:
        if current_account(db) is not None:
            return redirect(next_path or url_for("mypage.menu"))
    return render_template("mypage/login.html", next=next_path, link=None, error=None,
                           logged_out=request.args.get("logged_out") == "1")


@bp.post("/login")
def login_post():
    """Check the account ID (any letter case) and password; the same answer for every failure.

    With ``link`` (the form of a LINE account link), the browser must hold that link attempt's
    cookie, or nothing is checked and the customer is asked to start again from the chat."""
    attempt, refused = _form_attempt()
    if refused is not None:
        return refused
    login_key = (form_text("account_id") or "").lower()  # control characters: no such ID
    password = validators.normalize_password(request.form.get("password", ""))[:MAX_FIELD]
    next_path = None if attempt else safe_next(request.form.get("next"))
    typed = CONTROL_RE.sub("", request.form.get("account_id", ""))[:60]
    page = {"next": next_path, "account_id": typed, **link_page(attempt)}
    counts = limits()
    account_ident, address = counter_ident(login_key), counter_ident(client_address())
    try:
        address_mark = _count_try(counts, account_ident, address)
    except StateUnavailable:
        return render_template("mypage/login.html", error="unavailable", **page), 503
    if address_mark is None:
        metrics.WEB_LOGINS.labels("throttled").inc()
        log.info("web login refused: too many failures")
        return render_template("mypage/login.html", error="throttled", **page), 429
    signing_in = _check_password(login_key, password, attempt)
    if signing_in is None:  # the tries stay counted
        metrics.WEB_LOGINS.labels("failed").inc()
        return render_template("mypage/login.html", error="failed", **page), 200
    _forget_tries(counts, account_ident, address, address_mark)
    if attempt is not None and not signing_in.moving and signing_in.spent is None:
        log.info("account link login refused: the attempt was spent meanwhile")
        return start_again("expired")
    _sign_in(signing_in)
    if signing_in.moving:
        return _ask_to_move(attempt, signing_in)
    if signing_in.spent is not None:
        return to_line(signing_in.spent.link_token, signing_in.nonce)
    return redirect(next_path or url_for("mypage.menu"))


@bp.post("/logout")
def logout():
    """End the session (its Redis key and cookie are deleted)."""
    session.clear()
    return redirect(url_for("mypage.login", logged_out="1"))


# -- the steps of a login ---------------------------------------------------------------------------
def _form_attempt():
    """(the LINE account link this form completes, or None for a plain login; the page refusing it, or None)."""
    if request.form.get("linkToken") is not None:
        return None, start_again("old")  # a form from before our own binding
    if request.form.get("link") is None:
        return None, None
    attempt, problem = held_attempt()
    if attempt is None or not secrets.compare_digest(attempt.ref, request.form.get("link", "")[:64]):
        log.info("account link login refused: %s", problem or "another attempt")
        return None, start_again(problem or "browser")
    return attempt, None


def _count_try(counts: Limits, account_ident: str, address: str) -> str | None:
    """Count this try against the typed account ID and the client address, before any password is verified;
    the address's mark (for ``_forget_tries``), or None when either limit is reached (that try counts nowhere)."""
    tries: list[tuple[str, str, str]] = []
    for name, ident, limit in (("web_login_id", account_ident, LOGIN_FAILURES_PER_ACCOUNT),
                               ("web_login_addr", address, LOGIN_FAILURES_PER_ADDRESS)):
        mark = counts.try_within(name, ident, LOGIN_WINDOW_SECONDS, limit)
        if mark is None:
            break
        tries.append((name, ident, mark))
    if len(tries) == 2:
        return tries[1][2]
    for name, ident, mark in tries:
        counts.untry(name, ident, mark)
    return None


def _check_password(login_key: str, password: str, attempt: link_attempts.Attempt | None) -> SigningIn | None:
    """The active account of this ID with this password (its hash renewed when due), or None."""
    now = clock.now()
    with database().begin() as db:
        account = repositories.find_account_by_login_id(db, login_key) if login_key else None
        usable = account if account is not None and account.status == "active" else None
        # verify_password(None, ...) still hashes: unknown IDs take as long as wrong passwords.
        if not verify_password(usable.password_hash if usable else None, password) or usable is None:
            return None
        if needs_rehash(usable.password_hash):
            usable.password_hash = hash_password(password)
        if attempt is None:
            return SigningIn(usable.id, usable.session_version)
        return _link_on(db, usable, attempt, now)


def _link_on(db, account: Account, attempt: link_attempts.Attempt, now: datetime) -> SigningIn:
    """After the password of a link login: ask first when another LINE user has the account, else spend the
    attempt and issue the nonce for LINE's dialog (neither, when the attempt was spent meanwhile)."""
    if richmenus.other_line_user_of_account(db, account.id, attempt.user_id):
        return SigningIn(account.id, account.session_version, moving=True)
    spent = link_attempts.spend(redis_client(), *link_cookie(), now.timestamp())
    if spent is None:
        return SigningIn(account.id, account.session_version)
    return SigningIn(account.id, account.session_version, spent=spent,
                     nonce=logins.issue_line_link_nonce(db, account, now))


def _forget_tries(counts: Limits, account_ident: str, address: str, address_mark: str) -> None:
    """A success forgets its tries: the account ID's count, and this try against the address."""
    try:
        counts.reset_count("web_login_id", account_ident)
        counts.untry("web_login_addr", address, address_mark)
    except StateUnavailable:
        log.warning("could not reset the login failure counter")


def _sign_in(signing_in: SigningIn) -> None:
    """A new session (a new id at login: no fixation) holding the account and its session version."""
    session.clear()
    sessions.renew(session)
    session["account_id"], session["session_version"] = signing_in.account_id, signing_in.version
    metrics.WEB_LOGINS.labels("ok").inc()
    log.info("web login for account %s", signing_in.account_id)


def _ask_to_move(attempt: link_attempts.Attempt, signing_in: SigningIn):
    """On to the confirm step: the account is linked to another LINE user."""
    if not link_attempts.ask_to_move(redis_client(), attempt, signing_in.account_id, signing_in.version):
        return start_again("expired")
    log.info("account link: account %s is linked to another LINE user, asking first", signing_in.account_id)
    return redirect(url_for("mypage.link_confirm"), 303)

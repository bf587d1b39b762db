"""The web My Page: login/logout, お客様メニュー, ご利用料金の一覧, the bill detail page, リマインダー.

Sessions are server-side (``handlers.sessions``). A logged-in session holds the account
id and its ``session_version``; every page checks the version against the database, so
a password reset, or a change on the settings page (``handlers.web.settings``), ends every
older session.

The bill detail page opens for (a) the logged-in owner, or (b) the chat's bearer link
(``?t=``) for exactly that statement and account within its 15 minutes. The bearer link
is reusable within those minutes (the customer may tap 「明細を見る」 again); on first use
it is exchanged for a grant in the session that ends when the link does, and the browser
is sent to the clean URL so the token does not linger in history. After that, the same
URL asks for login and then shows the bill. Another customer's statement is a 404, the
same as an unknown one; without a login nothing tells them apart (both ask for login).

Login throttling: 5 failures per typed account ID or 20 per client address within 15
minutes refuse further tries until the window passes. The reminder pages are not
throttled by it, and a password reset clears the account's counter, so the real owner is
never locked out.

LINE account link (issue 21): the chat's 「ログインして連携」 opens ``/link/start?t=<id>`` in
LINE's in-app browser. The id names a link attempt kept in Redis (``storage.link_attempts``:
LINE's link token, the LINE user, their display name); the first browser to open it gets a
10-minute HttpOnly, SameSite=Lax cookie (Secure over https) bound to it, and sees the login
page naming the LINE account to be linked. The login POST that completes a link needs that
cookie; without it (another browser, a forwarded URL), or once the attempt is spent or
expired, the customer is asked politely to start again from the chat. When the account is
already linked to another LINE user, the password check is followed by a confirm step
(「連携を移す」 / 「やめる」). Only then is the nonce issued and the browser sent to LINE's
dialog with the link token; the attempt is spent once, either way.

Failing dependencies: when Redis (the sessions) or the database does not answer, every
page of this blueprint answers 503 with a polite page (``mypage/unavailable.html``), a
POST included (it is answered before the CSRF check, which needs the session); any other
unexpected error is a plain 500 page in the same style, never a stack trace. Typed form
fields holding control characters (NUL, which PostgreSQL refuses outright) are treated
like any other wrong answer.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from functools import wraps
from urllib.parse import quote, urlencode, urlsplit

import redis
import segno
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import InternalServerError

from bot import charts, messages, validators
from bot.errors import InvalidInput
from bot.messages import PASSWORD_MISMATCH
from bot.normalize import mask_email
from bot.types import PushReplies, TextReply
from handlers import jobs, metrics
from handlers.mail import queue_mail
from handlers.web import sessions
from handlers.web.common import (
    CONTROL_RE,
    MAX_FIELD,
    client_address,
    counter_ident,
    current_time,
    database,
    form_text,
    redis_client,
    secure_cookies,
    state_store,
    unavailable_page,
)
from storage import accounts as account_store
from storage import bills, link_attempts, logins, repositories, richmenus
from storage.bills import aware
from storage.models import Account
from storage.security import hash_password, needs_rehash, verify_password
from storage.state import StateUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("mypage", __name__)

LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20
REMINDER_WINDOW_SECONDS = 60 * 60
REMINDERS_PER_TARGET = 5  # mails per account ID / mail address per hour
REMINDERS_PER_ADDRESS = 10  # requests per client address per hour
# Where the browser goes after a link login; the emulator may point it at itself.
LINE_ACCOUNT_LINK_URL = "https://access.line.me/dialog/bot/accountLink"
LINK_COOKIE = "aicom_link"  # "<attempt id>.<browser secret>": the browser that opened /link/start


# -- helpers ----------------------------------------------------------------------------------
def safe_next(value: str | None) -> str | None:
    """``next`` only as a same-site relative path (``/mypage/...``); anything else is dropped."""
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _login_url(next_path: str | None = None) -> str:
    return url_for("mypage.login", next=next_path) if next_path else url_for("mypage.login")


def current_account(db) -> Account | None:
    """The logged-in account, or None (a session of an older ``session_version`` is ended)."""
    account_id = session.get("account_id")
    if not account_id:
        return None
    account = logins.active_account(db, int(account_id))
    if account is None or account.session_version != session.get("session_version"):
        # An older session (password reset) or a closed account: the login ends, nothing else.
        session.pop("account_id", None)
        session.pop("session_version", None)
        return None
    return account


def login_required(view):
    """Run the view with the logged-in account, or send the visitor to /login?next=<this page>."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        with database().begin() as db:
            account = current_account(db)
            if account is None:
                return redirect(_login_url(request.full_path.rstrip("?")))
            return view(db, account, *args, **kwargs)

    return wrapper


# -- login and logout -------------------------------------------------------------------------
@bp.get("/login")
def login():
    """The login form; ``?link=1``: the same form for the LINE account link this browser started."""
    if request.args.get("linkToken") is not None:
        # The URL the chat carried before our own binding: a link token alone no longer links.
        return _start_again("old")
    if request.args.get("link") is not None:
        attempt, problem = _held_attempt()
        if attempt is None:
            return _start_again(problem)
        return render_template("mypage/login.html", next=None, error=None, **_link_page(attempt))
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
    attempt, held = None, _link_cookie()
    if request.form.get("linkToken") is not None:
        return _start_again("old")  # a form from before our own binding
    if request.form.get("link") is not None:
        attempt, problem = _held_attempt()
        if attempt is None or not secrets.compare_digest(attempt.ref, request.form.get("link", "")[:64]):
            log.info("account link login refused: %s", problem or "another attempt")
            return _start_again(problem or "browser")
    login_key = (form_text("account_id") or "").lower()  # control characters: no such ID
    password = validators.normalize_password(request.form.get("password", ""))[:MAX_FIELD]
    next_path = None if attempt else safe_next(request.form.get("next"))
    typed = CONTROL_RE.sub("", request.form.get("account_id", ""))[:60]
    page = {"next": next_path, "account_id": typed, **_link_page(attempt)}
    state = state_store()
    account_ident, address = counter_ident(login_key), counter_ident(client_address())
    # Counted first, atomically, then verified: parallel wrong passwords cannot get more than the
    # limit of verifications through (issue 21). A success forgets its tries.
    tries: list[tuple[str, str, str]] = []
    try:
        for name, ident, limit in (("web_login_id", account_ident, LOGIN_FAILURES_PER_ACCOUNT),
                                   ("web_login_addr", address, LOGIN_FAILURES_PER_ADDRESS)):
            mark = state.try_within(name, ident, LOGIN_WINDOW_SECONDS, limit)
            if mark is None:
                break
            tries.append((name, ident, mark))
        throttled = len(tries) < 2
        if throttled:
            for name, ident, mark in tries:  # the refused try counts nowhere
                state.untry(name, ident, mark)
    except StateUnavailable:
        return render_template("mypage/login.html", error="unavailable", **page), 503
    if throttled:
        metrics.WEB_LOGINS.labels("throttled").inc()
        log.info("web login refused: too many failures")
        return render_template("mypage/login.html", error="throttled", **page), 429

    now = current_time()
    nonce = None
    moving = spent = None
    with database().begin() as db:
        account = repositories.find_account_by_login_id(db, login_key) if login_key else None
        usable = account if account is not None and account.status == "active" else None
        # verify_password(None, ...) still hashes: unknown IDs take as long as wrong passwords.
        ok = verify_password(usable.password_hash if usable else None, password) and usable is not None
        if ok:
            if needs_rehash(usable.password_hash):
                usable.password_hash = hash_password(password)
            signed_in = (usable.id, usable.session_version)
            if attempt is not None:
                if richmenus.other_line_user_of_account(db, usable.id, attempt.user_id):
                    moving = signed_in  # another LINE user has this account: ask first (link_confirm)
                else:
                    spent = link_attempts.spend(redis_client(), *held, now.timestamp())
                    if spent is not None:
                        nonce = logins.issue_line_link_nonce(db, usable, now)
    if not ok:  # the tries stay counted
        metrics.WEB_LOGINS.labels("failed").inc()
        return render_template("mypage/login.html", error="failed", **page), 200
    try:
        state.reset_count("web_login_id", account_ident)
        state.untry("web_login_addr", address, tries[1][2])
    except StateUnavailable:
        log.warning("could not reset the login failure counter")
    if attempt is not None and moving is None and spent is None:
        log.info("account link login refused: the attempt was spent meanwhile")
        return _start_again("expired")
    session.clear()
    sessions.renew(session)  # a new session id at login: no fixation
    session["account_id"], session["session_version"] = signed_in
    metrics.WEB_LOGINS.labels("ok").inc()
    log.info("web login for account %s", signed_in[0])
    if moving is not None:
        if not link_attempts.ask_to_move(redis_client(), attempt, *moving):
            return _start_again("expired")
        log.info("account link: account %s is linked to another LINE user, asking first", signed_in[0])
        return redirect(url_for("mypage.link_confirm"), 303)
    if spent is not None:
        return _to_line(spent.link_token, nonce)
    return redirect(next_path or url_for("mypage.menu"))


@bp.post("/logout")
def logout():
    """End the session (its Redis key and cookie are deleted)."""
    session.clear()
    return redirect(url_for("mypage.login", logged_out="1"))


# -- LINE account link: our own binding of the chat's 「ログインして連携」 to one browser ----------
@bp.get("/link/start")
def link_start():
    """Where the chat's 「ログインして連携」 opens (LINE's in-app browser): binds the link attempt
    to this browser with a cookie, then shows the login page (``/login?link=1``).

    The first browser to open the URL keeps the attempt; any other is asked to start again
    from the chat. The same browser may open it again (a second tap on the button)."""
    attempt_id = request.args.get("t", "")
    store, now = redis_client(), current_time().timestamp()
    attempt = link_attempts.find(store, attempt_id, now)
    if attempt is None:
        log.info("account link start refused: unknown, spent or expired attempt")
        return _start_again("expired")
    held = _link_cookie()
    if held is not None and held[0] == attempt_id and link_attempts.bound(store, *held, now) is not None:
        return redirect(url_for("mypage.login", link="1"), 303)
    secret = link_attempts.bind(store, attempt)
    if secret is None:
        log.info("account link start refused: the attempt was opened in another browser")
        return _start_again("browser")
    response = redirect(url_for("mypage.login", link="1"), 303)
    response.set_cookie(LINK_COOKIE, f"{attempt_id}.{secret}", max_age=link_attempts.ATTEMPT_SECONDS, path="/",
                        secure=secure_cookies(), httponly=True, samesite="Lax")
    return response


@bp.get("/link/confirm")
def link_confirm():
    """After the password: this account is linked to another LINE user; move the link here?"""
    attempt, problem = _held_attempt()
    if attempt is None or attempt.account_id is None:
        return _start_again(problem or "browser")
    with database().begin() as db:
        account = current_account(db)
        if account is None or account.id != attempt.account_id or account.session_version != attempt.version:
            return _start_again("browser")
        return render_template("mypage/link_confirm.html", account=account, **_link_page(attempt))


@bp.post("/link/confirm")
def link_confirm_post():
    """「連携を移す」 goes on to LINE's dialog; 「やめる」 (or anything else) changes nothing. Either
    way the attempt is spent."""
    move = request.form.get("decision") == "move"
    held = _link_cookie()
    attempt, problem = _held_attempt()
    if held is None or attempt is None or attempt.account_id is None:
        return _start_again(problem or "browser")
    now = current_time()
    with database().begin() as db:
        account = current_account(db)
        if account is None or account.id != attempt.account_id or account.session_version != attempt.version:
            return _start_again("browser")
        spent = link_attempts.spend(redis_client(), *held, now.timestamp())
        if spent is None or spent.account_id != account.id:
            return _start_again("expired")
        nonce = logins.issue_line_link_nonce(db, account, now) if move else None
        account_id = account.id
    if nonce is None:
        log.info("account link: moving the link of account %s cancelled by the customer", account_id)
        response = current_app.make_response(render_template("mypage/link_cancelled.html"))
        _drop_link_cookie(response)
        return response
    log.info("account link: the customer chose to move the link of account %s", account_id)
    return _to_line(spent.link_token, nonce)


def _link_cookie() -> tuple[str, str] | None:
    """(attempt id, browser secret) from this browser's link cookie, when it is one of ours."""
    attempt_id, _dot, secret = request.cookies.get(LINK_COOKIE, "").partition(".")
    if link_attempts.well_formed(attempt_id) and link_attempts.well_formed(secret):
        return attempt_id, secret
    return None


def _held_attempt() -> tuple[link_attempts.Attempt | None, str | None]:
    """The live link attempt this browser holds, or None and why: ``browser`` (no cookie of
    ours: another browser, or the cookie is gone), ``expired`` (spent, expired, unknown)."""
    held = _link_cookie()
    if held is None:
        return None, "browser"
    attempt = link_attempts.bound(redis_client(), *held, current_time().timestamp())
    return (attempt, None) if attempt is not None else (None, "expired")


def _drop_link_cookie(response) -> None:
    response.delete_cookie(LINK_COOKIE, path="/", secure=secure_cookies(), httponly=True, samesite="Lax")


def _start_again(reason: str | None):
    """The polite page: start the link again from the LINE chat (the link cookie goes)."""
    status = 410 if reason == "expired" else 400
    response = current_app.make_response((render_template("mypage/link_invalid.html", reason=reason), status))
    _drop_link_cookie(response)
    return response


def _link_page(attempt: link_attempts.Attempt | None) -> dict:
    """What the login and confirm pages show of the LINE account to be linked."""
    if attempt is None:
        return {"link": None}
    user_id = attempt.user_id
    masked = f"{user_id[:5]}…{user_id[-4:]}" if len(user_id) > 10 else "…"
    return {"link": attempt.ref, "line_name": attempt.name, "line_id": masked}


def _to_line(link_token: str, nonce: str):
    """On to LINE's account-link dialog (the emulator's stand-in under ``make run``); the cookie goes."""
    target = current_app.config.get("LINE_ACCOUNT_LINK_URL") or LINE_ACCOUNT_LINK_URL
    response = redirect(target + "?" + urlencode({"linkToken": link_token, "nonce": nonce}))
    _drop_link_cookie(response)
    return response


# -- お客様メニュー and bills -----------------------------------------------------------------
@bp.get("/mypage")
@login_required
def menu(db, account: Account):
    """お客様メニュー."""
    return render_template("mypage/menu.html", account=account)


@bp.get("/mypage/bills")
@login_required
def bill_list(db, account: Account):
    """ご利用料金の一覧: newest first, at most one year, nothing before 2020-07, over its bar chart
    (the same bars as the chat's 料金一覧, drawn as SVG)."""
    statements = bills.recent_statements(db, account.customer_id)
    return render_template("mypage/bills.html", account=account, statements=statements,
                           chart=charts.bill_bars(statements))


def _granted_account(db, statement_id: int, now: datetime) -> Account | None:
    """The account a bearer link (exchanged into this session) lets see this statement now."""
    grant = (session.get("bill_grants") or {}).get(str(statement_id))
    if not grant or grant.get("until", 0) <= now.timestamp():
        return None
    account = logins.active_account(db, int(grant.get("account_id", 0)))
    if account is None or account.session_version != grant.get("version"):
        return None
    return account


@bp.get("/mypage/bills/<int:statement_id>")
def bill_detail(statement_id: int):
    """One statement: every line item, the total, due date and payment method."""
    clean_path = url_for("mypage.bill_detail", statement_id=statement_id)
    token = request.args.get("t")
    now = current_time()
    with database().begin() as db:
        if token is not None:
            link = bills.check_bill_link(db, token, statement_id, now)
            if link is not None:
                grants = {key: grant for key, grant in (session.get("bill_grants") or {}).items()
                          if grant.get("until", 0) > now.timestamp()}
                grants[str(statement_id)] = {"account_id": link.account_id,
                                             "version": link.account.session_version,
                                             "until": aware(link.expires_at).timestamp()}
                session["bill_grants"] = grants
                return redirect(clean_path, 303)
            if current_account(db) is None:
                return redirect(_login_url(clean_path))
            return redirect(clean_path, 303)
        viewer = _granted_account(db, statement_id, now)
        if viewer is None:
            viewer = current_account(db)
            if viewer is None:
                return redirect(_login_url(clean_path))
            logged_in = True
        else:
            logged_in = current_account(db) is not None
        statement = bills.customer_statement(db, viewer.customer_id, statement_id)
        if statement is None:
            abort(404)
        return render_template("mypage/bill_detail.html", account=viewer, statement=statement,
                               logged_in=logged_in)


# -- 退会 (delete my My Page account) -----------------------------------------------------------


@bp.get("/mypage/withdraw")
@login_required
def withdraw(db, account: Account):
    """退会: what it deletes and keeps, and the password that confirms it."""
    return render_template("mypage/withdraw.html", account=account, error=None,
                           linked=account.line_link is not None)


@bp.post("/mypage/withdraw")
def withdraw_post():
    """Check the password, then delete the account, its links and LINE link; tell the LINE user by push."""
    password = validators.normalize_password(request.form.get("password", ""))[:MAX_FIELD]
    state = state_store()
    with database().begin() as db:
        account = current_account(db)
        if account is None:
            return redirect(_login_url(url_for("mypage.withdraw")))
        ident = counter_ident(account.login_id_key)
        try:  # counted first, like a login (a borrowed session cannot guess on, even in parallel)
            mark = state.try_within("web_login_id", ident, LOGIN_WINDOW_SECONDS, LOGIN_FAILURES_PER_ACCOUNT)
        except StateUnavailable:
            return unavailable_page()
        throttled = mark is None
        linked = account.line_link is not None
        if throttled or not verify_password(account.password_hash, password):
            return render_template("mypage/withdraw.html", account=account, linked=linked,
                                   error="throttled" if throttled else "password"), 200
        account_id = account.id
        line_user_id = account_store.withdraw(db, account_id)
    session.clear()  # this session's key goes; any other session of the account ends on its next request
    metrics.WITHDRAWALS.inc()
    log.info("account %s deleted by its owner (LINE linked: %s)", account_id, bool(line_user_id))
    try:
        state.reset_count("web_login_id", ident)
        if line_user_id:
            state.save(line_user_id, None)  # a conversation in progress goes with the link
    except StateUnavailable:
        log.warning("could not clear the Redis state of a deleted account (it expires by itself)")
    if line_user_id:
        try:
            jobs.perform(PushReplies(line_user_id, (TextReply(messages.WITHDRAWN_PUSH),)))  # the LINE edge's job
        except Exception:  # noqa: BLE001 - the deletion has committed; an error page would only mislead
            log.error("could not queue the withdrawal push for account %s", account_id)
    return render_template("mypage/withdraw_done.html")


# -- リマインダー -------------------------------------------------------------------------------
def _reminder_allowed(kind: str, target: str) -> bool:
    """Quietly limit reminder mails per target and per client address (the page never tells)."""
    try:
        by_address = state_store().count_hit(f"web_reminder_addr_{kind}", counter_ident(client_address()),
                                        REMINDER_WINDOW_SECONDS)
        by_target = state_store().count_hit(f"web_reminder_{kind}", counter_ident(target), REMINDER_WINDOW_SECONDS)
    except StateUnavailable:
        return False
    return by_address <= REMINDERS_PER_ADDRESS and by_target <= REMINDERS_PER_TARGET


@bp.get("/reminder")
def reminder():
    """リマインダー: choose forgotten account ID or forgotten password."""
    return render_template("mypage/reminder.html")


@bp.route("/reminder/account-id", methods=["GET", "POST"])
def reminder_account_id():
    """Forgot account ID: mail it to the registered address; the page is the same either way."""
    if request.method == "GET":
        return render_template("mypage/reminder_account_id.html", error=None)
    email = (form_text("email") or "").lower()
    if "@" not in email:
        return render_template("mypage/reminder_account_id.html", error="email"), 200
    if _reminder_allowed("id", email):
        with database().begin() as db:
            accounts = logins.active_accounts_by_email(db, email)
            mails = [(a.email, account_store.contract_name(a), a.login_id) for a in accounts]
        for to, name, login_id in mails:
            queue_mail("mail/reminder_account_id.txt", to, name=name, login_id=login_id,
                       login_url=current_app.config["PUBLIC_BASE_URL"] + url_for("mypage.login"))
        log.info("account ID reminder for %s: %d mail(s)", mask_email(email), len(mails))
    return render_template("mypage/reminder_sent.html", kind="account_id")


@bp.route("/reminder/password", methods=["GET", "POST"])
def reminder_password():
    """Forgot password: mail a reset link (30 minutes, single use); the page is the same either way."""
    if request.method == "GET":
        return render_template("mypage/reminder_password.html", error=None)
    typed = form_text("login")
    if typed == "":
        return render_template("mypage/reminder_password.html", error="empty"), 200
    target = (typed or "").lower()
    if target and _reminder_allowed("password", target):
        now = current_time()
        with database().begin() as db:
            if "@" in target:
                accounts = logins.active_accounts_by_email(db, target)[:3]
            else:
                account = repositories.find_account_by_login_id(db, target)
                accounts = [account] if account is not None and account.status == "active" else []
            mails = [(a.email, account_store.contract_name(a), logins.issue_reset_link(db, a, now))
                     for a in accounts]
        base = current_app.config["PUBLIC_BASE_URL"]
        for to, name, token in mails:
            queue_mail("mail/password_reset.txt", to, name=name,
                       reset_url=base + url_for("mypage.password_reset", t=token),
                       minutes=logins.RESET_LINK_SECONDS // 60)
        log.info("password reset requested: %d mail(s)", len(mails))
    return render_template("mypage/reminder_sent.html", kind="password")


@bp.get("/reminder/password/reset")
def password_reset():
    """The reset link: GET shows the form (nothing is spent)."""
    token = request.args.get("t", "")
    with database().begin() as db:
        status, _link = logins.reset_link_status(db, token, current_time())
    if status != "ok":
        return render_template("mypage/reset_invalid.html", status=status), 410 if status != "unknown" else 404
    return render_template("mypage/reset.html", token=token, error=None)


@bp.post("/reminder/password/reset")
def password_reset_post():
    """Set the new password (twice): spends the link, ends older sessions, revokes older links."""
    token = request.form.get("t", "")
    new_password = request.form.get("password", "")
    confirm = request.form.get("password_confirm", "")
    now = current_time()
    with database().begin() as db:
        status, link = logins.reset_link_status(db, token, now)
        if status != "ok" or link is None:
            return render_template("mypage/reset_invalid.html", status=status), 410 if status != "unknown" else 404
        account = link.account
        try:
            value = validators.password(new_password, account_id=account.login_id, phone=account.customer.phone,
                                        customer_number=account.customer.customer_number)
            if validators.normalize_password(confirm) != value:
                raise InvalidInput(PASSWORD_MISMATCH)
        except InvalidInput as exc:
            return render_template("mypage/reset.html", token=token, error=exc.message), 200
        account = logins.reset_password(db, token, value, now)
        if account is None:
            return render_template("mypage/reset_invalid.html", status="used"), 410
        login_key = account.login_id_key
    try:
        state_store().reset_count("web_login_id", counter_ident(login_key))
    except StateUnavailable:
        log.warning("could not clear the login failure counter after a reset")
    session.clear()
    log.info("password reset for an account")
    return render_template("mypage/reset_done.html")


# -- the way in for newcomers: add the LINE official account as a friend --------------------------
ADD_FRIEND_URL = "https://line.me/R/ti/p/{basic_id}"  # opens LINE's add-friend screen (the app on a phone)
QR_SCALE = 5


def add_friend(basic_id: str | None) -> dict | None:
    """The add-friend link and its QR code (an SVG data URI: the CSP allows ``img-src data:``), or None."""
    basic_id = (basic_id or "").strip()
    if not basic_id:
        return None
    url = ADD_FRIEND_URL.format(basic_id=quote(basic_id, safe=""))
    qr = segno.make(url, error="m")
    border = 2
    return {"basic_id": basic_id, "url": url, "qr": qr.svg_data_uri(scale=QR_SCALE, border=border),
            "qr_size": (qr.symbol_size(scale=1, border=border)[0]) * QR_SCALE}


def _add_friend_context() -> dict:
    return {"add_friend": current_app.extensions.get("line_add_friend")}


# -- failing dependencies ---------------------------------------------------------------------
SESSION_BLUEPRINTS = ("mypage", "settings")  # the pages that need their session (login, CSRF)


def _refuse_without_sessions():
    """Every My Page page needs its session (login, CSRF): without Redis, say so politely."""
    if request.blueprint in SESSION_BLUEPRINTS and sessions.unavailable(session):
        return unavailable_page()
    return None


def _server_error(error: InternalServerError):
    """A database or Redis that does not answer is 503 ("try again later"); anything else a plain 500 page.

    Registered for the whole app (the 本登録 page too, issue 14), not only this blueprint."""
    cause = getattr(error, "original_exception", None)
    if isinstance(cause, OperationalError | redis.RedisError | StateUnavailable) or (
            isinstance(cause, DBAPIError) and cause.connection_invalidated):
        return unavailable_page()
    return render_template("mypage/unavailable.html", kind="error"), 500


def init_app(app: Flask) -> None:
    """Install the Redis sessions, the money/month filters, and register the pages."""
    sessions.init_app(app)
    # First of the app's before-request hooks, ahead of CSRFProtect's: its check needs the session.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_without_sessions)
    app.add_template_filter(messages.yen, "yen")
    app.add_template_filter(messages.month_label, "month_label")
    app.add_template_filter(messages.date_label, "date_label")
    app.extensions["line_add_friend"] = add_friend(app.config.get("LINE_BASIC_ID"))  # drawn once
    app.context_processor(_add_friend_context)
    app.register_blueprint(bp)
    app.register_error_handler(InternalServerError, _server_error)

"""アカウント設定 on the web My Page: パスワード変更, メールアドレス変更, ニックネーム変更.

Every form carries the CSRF token (``CSRFProtect`` refuses a POST without it), and every
change is told to the account's mail address by a notice mail that greets the contract name
(``handlers.mail.queue_mail``). Mails are queued after the transaction has committed.

パスワード変更: the current password, then the new one twice under the rules of 本登録 and the
reset (``validators.password``), and not the current one. It ends every other session of the
account (``session_version`` is bumped, so they are signed out on their next request, as after a
reset), revokes the account's reset and bill links and pending address changes; this session
gets a new id and stays signed in.

メールアドレス変更: the current password, then the new address. A link goes to the new address
(a 256-bit token of which only the hash is kept, 24 hours, single use); the address changes
only when the page it opens is *posted* (a GET shows a button, so a mail scanner that follows
links changes nothing). Then the old address is told. A newer request, or a password change,
voids older links. The link works without a login: it proves the new mailbox, and the request
behind it proved the password.

ニックネーム変更: the nickname rules of the chat's registration (``validators.nickname``).

Throttling: a wrong current password counts as a failed login of the account (the login page's
``web_login_id`` counter: 5 in 15 minutes, shared with 退会), so a borrowed session cannot
guess on; and each account may make ``CHANGES_PER_HOUR`` changes or address change requests an
hour (each sends a mail), after which the form says to try later (HTTP 429).

When Redis or the database does not answer, these pages answer 503 like the rest of the My
Page (``mypage.failures.refuse_without_sessions`` covers this blueprint too).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for

from bot import messages, validators
from bot.errors import InvalidInput
from bot.normalize import mask_email
from handlers import clock
from handlers.mail import queue_mail
from handlers.web import sessions
from handlers.web.common import (
    MAX_FIELD,
    counter_ident,
    database,
    form_text,
    limits,
    unavailable_page,
)
from handlers.web.mypage.access import current_account, login_required
from handlers.web.mypage.auth import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_SECONDS
from storage import accounts, logins
from storage.errors import Refused
from storage.limits import Limits
from storage.models import Account
from storage.redis_client import StateUnavailable
from storage.security import verify_password

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__, url_prefix="/mypage/settings")

CHANGES_WINDOW_SECONDS = 60 * 60
CHANGES_PER_HOUR = 10  # changes and address change requests per account (each sends a mail)


class SettingsRefused(Refused):
    """A settings form cannot go on; ``error`` names what the page says (``password``, ``throttled``, …)."""

    def __init__(self, error: str, status: int = 200, message: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.message = message  # the validator's own words, when it refused the value


# -- helpers ------------------------------------------------------------------------------------
def _login_redirect(endpoint: str):
    return redirect(url_for("mypage.login", next=url_for(endpoint)))


def _changes_ident(account_id: int) -> str:
    return counter_ident(f"account:{account_id}")


def _check_allowed(counters: Limits, account: Account, *, password: str | None) -> None:
    """Raise ``SettingsRefused`` when the account made too many changes this hour, or (when a current password
    is asked for) after too many wrong ones or for a wrong one, which is counted like a failed login."""
    login_ident = counter_ident(account.login_id_key)
    if counters.count("web_settings_change", _changes_ident(account.id), CHANGES_WINDOW_SECONDS) >= CHANGES_PER_HOUR:
        raise SettingsRefused("too_many", 429)
    if password is None:
        return
    # Counted first, atomically, like a login: parallel guesses cannot get past the limit.
    if counters.try_within("web_login_id", login_ident, LOGIN_WINDOW_SECONDS, LOGIN_FAILURES_PER_ACCOUNT) is None:
        raise SettingsRefused("throttled", 429)
    if not verify_password(account.password_hash, validators.normalize_password(password)[:MAX_FIELD]):
        raise SettingsRefused("password")  # the try stays counted, as a failed login
    counters.reset_count("web_login_id", login_ident)


def _count_change(counters: Limits, account_id: int) -> None:
    try:
        counters.count_hit("web_settings_change", _changes_ident(account_id), CHANGES_WINDOW_SECONDS)
    except StateUnavailable:
        log.warning("could not count a settings change")


def _notice(template: str, to: str, name: str, account_id: int, **context) -> None:
    """Queue a notice mail; the change has committed, so a failure here only goes to the log."""
    try:
        queue_mail(template, to, name=name, **context)
    except Exception:  # noqa: BLE001 - the change is made; an error page would only mislead
        log.error("could not queue the %s mail for account %s", template, account_id)


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


# -- アカウント設定 --------------------------------------------------------------------------------
@bp.get("")
@login_required
def index(db, account: Account):
    """アカウント設定: what the account holds, and the three changes."""
    return render_template("mypage/settings.html", account=account, changed=request.args.get("changed"))


# -- パスワード変更 ---------------------------------------------------------------------------------
@bp.get("/password")
@login_required
def password(db, account: Account):
    """The password form: current, new, new again."""
    return render_template("mypage/settings_password.html", account=account, error=None, message=None)


@bp.post("/password")
def password_post():
    """Check the current password, then the new one twice; change it and end the other sessions."""
    counters = limits()
    now = clock.now()
    with database().begin() as db:
        account = current_account(db)
        if account is None:
            return _login_redirect("settings.password")
        page = {"account": account, "error": None, "message": None}
        try:
            _check_allowed(counters, account, password=request.form.get("current_password", ""))
            try:
                value = validators.password(request.form.get("password", ""), account_id=account.login_id,
                                            phone=account.customer.phone,
                                            customer_number=account.customer.customer_number)
            except InvalidInput as exc:
                raise SettingsRefused("rules", message=exc.message) from exc
            if validators.normalize_password(request.form.get("password_confirm", "")) != value:
                raise SettingsRefused("mismatch")
            if verify_password(account.password_hash, value):
                raise SettingsRefused("same")
        except SettingsRefused as refused:
            page.update(error=refused.error, message=refused.message)
            return render_template("mypage/settings_password.html", **page), refused.status
        except StateUnavailable:
            return unavailable_page()
        version = logins.change_password(db, account, value, now)
        account_id, to, name = account.id, account.email, accounts.contract_name(account)
    sessions.renew(session)  # a new id for this session; every other one ends (the version moved on)
    session["session_version"] = version
    session.pop("bill_grants", None)
    _count_change(counters, account_id)
    log.info("password changed by the owner of account %s", account_id)
    _notice("mail/password_changed.txt", to, name, account_id, changed_at=messages.datetime_label(now),
            reminder_url=_base_url() + url_for("mypage.reminder_password"))
    return render_template("mypage/settings_done.html", kind="password")


# -- メールアドレス変更 -------------------------------------------------------------------------------
@bp.get("/email")
@login_required
def email(db, account: Account):
    """The mail address form: current password, new address."""
    return render_template("mypage/settings_email.html", account=account, error=None, message=None, typed="")


@bp.post("/email")
def email_post():
    """Check the password and the new address; mail the confirmation link to the new address."""
    counters = limits()
    now = clock.now()
    typed = form_text("email")
    with database().begin() as db:
        account = current_account(db)
        if account is None:
            return _login_redirect("settings.email")
        page = {"account": account, "error": None, "message": None, "typed": typed or ""}
        try:
            _check_allowed(counters, account, password=request.form.get("current_password", ""))
            try:
                new_email = validators.email(typed or "")
            except InvalidInput as exc:
                raise SettingsRefused("invalid", message=exc.message) from exc
            if new_email.lower() == account.email.lower():
                raise SettingsRefused("same")
        except SettingsRefused as refused:
            page.update(error=refused.error, message=refused.message)
            return render_template("mypage/settings_email.html", **page), refused.status
        except StateUnavailable:
            return unavailable_page()
        token = accounts.request_email_change(db, account, new_email, now)
        account_id, name = account.id, accounts.contract_name(account)
    _count_change(counters, account_id)
    log.info("mail address change requested for account %s", account_id)
    _notice("mail/email_change_confirm.txt", new_email, name, account_id,
            confirm_url=_base_url() + url_for("settings.email_confirm", t=token),
            valid_for=messages.valid_for_label(accounts.EMAIL_CHANGE_LINK_SECONDS))
    return render_template("mypage/settings_email_sent.html", new_email=new_email,
                           valid_for=messages.valid_for_label(accounts.EMAIL_CHANGE_LINK_SECONDS))


def _invalid_link(status: str):
    return render_template("mypage/settings_email_invalid.html", status=status), 404 if status == "unknown" else 410


@bp.get("/email/confirm")
def email_confirm():
    """The link in the mail to the new address: shows the change and a button (a GET changes nothing)."""
    token = request.args.get("t", "")
    with database().begin() as db:
        status, change = accounts.email_change_status(db, token, clock.now())
        if status != "ok" or change is None:
            return _invalid_link(status)
        new_email = change.new_email
    return render_template("mypage/settings_email_confirm.html", token=token, new_email=new_email)


@bp.post("/email/confirm")
def email_confirm_post():
    """Spend the link and change the address; tell the old address."""
    token = request.form.get("t", "")
    now = clock.now()
    with database().begin() as db:
        changed = accounts.confirm_email_change(db, token, now)
        if changed is None:
            status, _change = accounts.email_change_status(db, token, now)
            return _invalid_link("used" if status == "ok" else status)  # "ok": spent by another post meanwhile
        account, old_email = changed
        account_id, new_email, name = account.id, account.email, accounts.contract_name(account)
        signed_in = current_account(db) is not None
    log.info("mail address changed for account %s", account_id)
    _notice("mail/email_changed.txt", old_email, name, account_id, changed_at=messages.datetime_label(now),
            new_email=mask_email(new_email))
    return render_template("mypage/settings_done.html", kind="email", new_email=new_email, signed_in=signed_in)


# -- ニックネーム変更 ---------------------------------------------------------------------------------
@bp.get("/nickname")
@login_required
def nickname(db, account: Account):
    """The nickname form."""
    return render_template("mypage/settings_nickname.html", account=account, error=None, message=None,
                           typed=account.nickname)


@bp.post("/nickname")
def nickname_post():
    """Check the new nickname and save it."""
    counters = limits()
    now = clock.now()
    typed = request.form.get("nickname", "")[:MAX_FIELD]
    with database().begin() as db:
        account = current_account(db)
        if account is None:
            return _login_redirect("settings.nickname")
        page = {"account": account, "error": None, "message": None, "typed": typed}
        try:
            _check_allowed(counters, account, password=None)
            try:
                value = validators.nickname(typed)
            except InvalidInput as exc:
                raise SettingsRefused("invalid", message=exc.message) from exc
            if value == account.nickname:
                raise SettingsRefused("same")
        except SettingsRefused as refused:
            page.update(error=refused.error, message=refused.message)
            return render_template("mypage/settings_nickname.html", **page), refused.status
        except StateUnavailable:
            return unavailable_page()
        account.nickname = value
        account_id, to, name = account.id, account.email, accounts.contract_name(account)
    _count_change(counters, account_id)
    log.info("nickname changed for account %s", account_id)
    _notice("mail/nickname_changed.txt", to, name, account_id, changed_at=messages.datetime_label(now),
            nickname=value)
    return render_template("mypage/settings_done.html", kind="nickname", nickname=value)


def init_app(app: Flask) -> None:
    """Register the settings pages (after ``mypage``, whose login and session checks they use)."""
    app.register_blueprint(bp)

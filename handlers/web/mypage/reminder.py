"""リマインダー: a forgotten account ID is mailed to the registered address, a forgotten password gets a reset
link (30 minutes, single use), and the reset page sets the new password.

The pages answer the same whether or not an account was found, and quietly limit the mails per target and per
client address. They are not throttled by the login's counter, and a reset clears the account's, so the real
owner is never locked out.
"""

from __future__ import annotations

import logging

from flask import current_app, render_template, request, session, url_for

from bot import validators
from bot.errors import InvalidInput
from bot.messages import PASSWORD_MISMATCH
from bot.normalize import mask_email
from handlers import clock
from handlers.mail import queue_mail
from handlers.web.common import client_address, counter_ident, database, form_text, limits
from handlers.web.mypage.access import bp
from storage import accounts as account_store
from storage import logins, repositories
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)

REMINDER_WINDOW_SECONDS = 60 * 60
REMINDERS_PER_TARGET = 5  # mails per account ID / mail address per hour
REMINDERS_PER_ADDRESS = 10  # requests per client address per hour


def _reminder_allowed(kind: str, target: str) -> bool:
    """Quietly limit reminder mails per target and per client address (the page never tells)."""
    try:
        by_address = limits().count_hit(f"web_reminder_addr_{kind}", counter_ident(client_address()),
                                        REMINDER_WINDOW_SECONDS)
        by_target = limits().count_hit(f"web_reminder_{kind}", counter_ident(target), REMINDER_WINDOW_SECONDS)
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
        now = clock.now()
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
        status, _link = logins.reset_link_status(db, token, clock.now())
    if status != "ok":
        return render_template("mypage/reset_invalid.html", status=status), 410 if status != "unknown" else 404
    return render_template("mypage/reset.html", token=token, error=None)


@bp.post("/reminder/password/reset")
def password_reset_post():
    """Set the new password (twice): spends the link, ends older sessions, revokes older links."""
    token = request.form.get("t", "")
    new_password = request.form.get("password", "")
    confirm = request.form.get("password_confirm", "")
    now = clock.now()
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
        limits().reset_count("web_login_id", counter_ident(login_key))
    except StateUnavailable:
        log.warning("could not clear the login failure counter after a reset")
    session.clear()
    log.info("password reset for an account")
    return render_template("mypage/reset_done.html")

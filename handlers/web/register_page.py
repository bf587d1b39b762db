"""The 本登録 page: reached only through the link in the 仮登録 mail; the customer sets the password here.

GET shows the form and never spends the token; POST checks the password policy and, in
one transaction, spends the token, activates the account and links the LINE user who
started the registration, then queues a push to that user. An unknown, used or expired
link gets a page that says which, and how to start again. Nothing on these pages tells
whether a customer or an account exists beyond what the link itself proves.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from flask import Blueprint, Flask, current_app, render_template, request, session

from bot import messages, validators
from bot.errors import InvalidInput
from bot.types import PushReplies, QuickReply, SwitchMenu, TextReply
from handlers import clock, jobs, metrics
from handlers.web import sessions
from storage import accounts, repositories
from storage.models import LinkToken
from storage.security import hash_password

log = logging.getLogger(__name__)
bp = Blueprint("register_page", __name__)

_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]{20,100}")


def _problem(link_token: LinkToken | None, now: datetime) -> str | None:
    """Why this link cannot be used: ``unknown``, ``used`` or ``expired``; None when it can."""
    if link_token is None:
        return "unknown"
    if link_token.used_at is not None or link_token.account.status != accounts.PROVISIONAL:
        return "used"
    if accounts.expired(link_token.expires_at, now) or accounts.expired(link_token.account.expires_at, now):
        return "expired"
    return None


def _lookup(db, token: str, *, for_update: bool = False) -> LinkToken | None:
    if not _TOKEN_RE.fullmatch(token):
        return None
    return accounts.find_register_token(db, token, for_update=for_update)


def _page(template: str, **context) -> str:
    valid_for = messages.valid_for_label(current_app.config["REGISTRATION_LINK_TTL_SECONDS"])
    return render_template(template, valid_for=valid_for, **context)


def _invalid(kind: str):
    status = {"unknown": 404, "used": 410, "expired": 410}[kind]
    return _page("register/invalid.html", kind=kind), status


@bp.get("/register/complete/<token>")
def complete(token: str):
    """The password form (the token is only looked at, not spent)."""
    now = clock.now()
    with current_app.extensions["db"].begin() as db:
        link_token = _lookup(db, token)
        problem = _problem(link_token, now)
        if problem:
            return _invalid(problem)
        login_id = link_token.account.login_id
    return _page("register/form.html", login_id=login_id, errors=[])


@bp.post("/register/complete/<token>")
def complete_post(token: str):
    """Check the password twice over, then spend the token and finish the registration."""
    password = request.form.get("password", "")
    confirm = request.form.get("password_confirm", "")
    now = clock.now()
    try:
        with current_app.extensions["db"].begin() as db:
            link_token = _lookup(db, token, for_update=True)  # two tabs posting at once: one wins
            problem = _problem(link_token, now)
            if problem:
                return _invalid(problem)
            account = link_token.account
            login_id = account.login_id
            errors = []
            value = None
            try:
                value = validators.password(password, account_id=account.login_id, phone=account.customer.phone,
                                            customer_number=account.customer.customer_number)
            except InvalidInput as exc:
                errors.append(exc.message)
            if value is not None and validators.normalize_password(confirm) != value:
                errors.append(messages.PASSWORD_MISMATCH)
            if errors:
                return _page("register/form.html", login_id=login_id, errors=errors), 200
            accounts.activate(db, link_token, hash_password(value), now)
            line_user_id = account.pending_line_user_id
            if line_user_id:
                repositories.link_line_user(db, account, line_user_id, now)
                account.pending_line_user_id = None
            signed_in = (account.id, account.session_version)
    except accounts.TokenSpent:  # spent by another request meanwhile; this transaction rolled back
        return _invalid("used")
    log.info("本登録 completed for account %s (LINE linked: %s)", signed_in[0], bool(line_user_id))
    metrics.count_signals(["registration_completed"])
    if line_user_id:
        try:
            pushed = [TextReply(messages.REGISTERED_PUSH, (QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                                           QuickReply(messages.QR_HELP, messages.QR_HELP)))]
            jobs.perform(PushReplies(line_user_id, tuple(pushed)))  # the LINE edge renders and pushes
        except Exception:  # noqa: BLE001 - the registration has committed; an error page would only mislead
            log.error("could not queue the registration push for account %s", signed_in[0])
        try:
            jobs.perform(SwitchMenu(line_user_id, linked=True))  # the linked customers' rich menu, at once
        except Exception:  # noqa: BLE001 - as above; the next follow or sync puts the menu right
            log.error("could not queue the rich menu switch for account %s", signed_in[0])
    _sign_in(*signed_in)
    return _page("register/done.html", login_id=login_id)


def _sign_in(account_id: int, session_version: int) -> None:
    """Sign the new account in, as the web login does, so 「そのままログイン」 opens My Page directly."""
    session.clear()
    sessions.renew(session)
    session["account_id"], session["session_version"] = account_id, session_version


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)

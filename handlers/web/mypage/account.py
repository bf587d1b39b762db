"""The account's own pages: お客様メニュー, and 退会 (the owner deletes the My Page account; the LINE user
it was linked to is told by a push)."""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, session, url_for

from bot import messages, validators
from bot.types import PushReplies, TextReply
from handlers import jobs, metrics
from handlers.web.common import MAX_FIELD, counter_ident, database, limits, state_store, unavailable_page
from handlers.web.mypage.access import bp, current_account, login_required, login_url
from handlers.web.mypage.auth import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_SECONDS
from storage import accounts as account_store
from storage.models import Account
from storage.redis_client import StateUnavailable
from storage.security import verify_password

log = logging.getLogger(__name__)


@bp.get("/mypage")
@login_required
def menu(db, account: Account):
    """お客様メニュー."""
    return render_template("mypage/menu.html", account=account)


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
    counts = limits()
    with database().begin() as db:
        account = current_account(db)
        if account is None:
            return redirect(login_url(url_for("mypage.withdraw")))
        ident = counter_ident(account.login_id_key)
        try:  # counted first, like a login (a borrowed session cannot guess on, even in parallel)
            mark = counts.try_within("web_login_id", ident, LOGIN_WINDOW_SECONDS, LOGIN_FAILURES_PER_ACCOUNT)
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
    _forget(ident, line_user_id)
    if line_user_id:
        try:
            jobs.perform(PushReplies(line_user_id, (TextReply(messages.WITHDRAWN_PUSH),)))  # the LINE edge's job
        except Exception:  # noqa: BLE001 - the deletion has committed; an error page would only mislead
            log.error("could not queue the withdrawal push for account %s", account_id)
    return render_template("mypage/withdraw_done.html")


def _forget(login_ident: str, line_user_id: str | None) -> None:
    """What Redis held of a deleted account: its failed logins, and a conversation in progress on LINE."""
    try:
        limits().reset_count("web_login_id", login_ident)
        if line_user_id:
            state_store().save(line_user_id, None)  # a conversation in progress goes with the link
    except StateUnavailable:
        log.warning("could not clear the Redis state of a deleted account (it expires by itself)")

"""The LINE account link's own pages: ``/link/start`` binds the chat's 「ログインして連携」 to one browser, and
``/link/confirm`` asks before a link moves from another LINE user; with the helpers the login page shares.

The chat's 「ログインして連携」 opens ``/link/start?t=<id>`` in LINE's in-app browser. The id names a link
attempt kept in Redis (``storage.link_attempts``: LINE's link token, the LINE user, their display name); the
first browser to open it gets a 10-minute HttpOnly, SameSite=Lax cookie (Secure over https) bound to it, and
sees the login page naming the LINE account to be linked. The login POST that completes a link
(``handlers.web.mypage.auth``) needs that cookie; without it (another browser, a forwarded URL), or once the
attempt is spent or expired, the customer is asked politely to start again from the chat. When the account is
already linked to another LINE user, the password check is followed by a confirm step (「連携を移す」 /
「やめる」). Only then is the nonce issued and the browser sent to LINE's dialog with the link token; the
attempt is spent once, either way.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request, url_for

from handlers import clock
from handlers.web.common import database, redis_client, secure_cookies
from handlers.web.mypage.access import bp, current_account
from storage import link_attempts, logins

log = logging.getLogger(__name__)

# Where the browser goes after a link login; the emulator may point it at itself.
LINE_ACCOUNT_LINK_URL = "https://access.line.me/dialog/bot/accountLink"
LINK_COOKIE = "aicom_link"  # "<attempt id>.<browser secret>": the browser that opened /link/start


# -- the pages ----------------------------------------------------------------------------------
@bp.get("/link/start")
def link_start():
    """Where the chat's 「ログインして連携」 opens (LINE's in-app browser): binds the link attempt
    to this browser with a cookie, then shows the login page (``/login?link=1``).

    The first browser to open the URL keeps the attempt; any other is asked to start again
    from the chat. The same browser may open it again (a second tap on the button)."""
    attempt_id = request.args.get("t", "")
    store, now = redis_client(), clock.now().timestamp()
    attempt = link_attempts.find(store, attempt_id, now)
    if attempt is None:
        log.info("account link start refused: unknown, spent or expired attempt")
        return start_again("expired")
    held = link_cookie()
    if held is not None and held[0] == attempt_id and link_attempts.bound(store, *held, now) is not None:
        return redirect(url_for("mypage.login", link="1"), 303)
    secret = link_attempts.bind(store, attempt)
    if secret is None:
        log.info("account link start refused: the attempt was opened in another browser")
        return start_again("browser")
    response = redirect(url_for("mypage.login", link="1"), 303)
    response.set_cookie(LINK_COOKIE, f"{attempt_id}.{secret}", max_age=link_attempts.ATTEMPT_SECONDS, path="/",
                        secure=secure_cookies(), httponly=True, samesite="Lax")
    return response


@bp.get("/link/confirm")
def link_confirm():
    """After the password: this account is linked to another LINE user; move the link here?"""
    attempt, problem = held_attempt()
    if attempt is None or attempt.account_id is None:
        return start_again(problem or "browser")
    with database().begin() as db:
        account = current_account(db)
        if account is None or account.id != attempt.account_id or account.session_version != attempt.version:
            return start_again("browser")
        return render_template("mypage/link_confirm.html", account=account, **link_page(attempt))


@bp.post("/link/confirm")
def link_confirm_post():
    """「連携を移す」 goes on to LINE's dialog; 「やめる」 (or anything else) changes nothing. Either
    way the attempt is spent."""
    move = request.form.get("decision") == "move"
    held = link_cookie()
    attempt, problem = held_attempt()
    if held is None or attempt is None or attempt.account_id is None:
        return start_again(problem or "browser")
    now = clock.now()
    with database().begin() as db:
        account = current_account(db)
        if account is None or account.id != attempt.account_id or account.session_version != attempt.version:
            return start_again("browser")
        spent = link_attempts.spend(redis_client(), *held, now.timestamp())
        if spent is None or spent.account_id != account.id:
            return start_again("expired")
        nonce = logins.issue_line_link_nonce(db, account, now) if move else None
        account_id = account.id
    if nonce is None:
        log.info("account link: moving the link of account %s cancelled by the customer", account_id)
        response = current_app.make_response(render_template("mypage/link_cancelled.html"))
        _drop_link_cookie(response)
        return response
    log.info("account link: the customer chose to move the link of account %s", account_id)
    return to_line(spent.link_token, nonce)


# -- shared with the login page -------------------------------------------------------------------
def link_cookie() -> tuple[str, str] | None:
    """(attempt id, browser secret) from this browser's link cookie, when it is one of ours."""
    attempt_id, _dot, secret = request.cookies.get(LINK_COOKIE, "").partition(".")
    if link_attempts.well_formed(attempt_id) and link_attempts.well_formed(secret):
        return attempt_id, secret
    return None


def held_attempt() -> tuple[link_attempts.Attempt | None, str | None]:
    """The live link attempt this browser holds, or None and why: ``browser`` (no cookie of
    ours: another browser, or the cookie is gone), ``expired`` (spent, expired, unknown)."""
    held = link_cookie()
    if held is None:
        return None, "browser"
    attempt = link_attempts.bound(redis_client(), *held, clock.now().timestamp())
    return (attempt, None) if attempt is not None else (None, "expired")


def _drop_link_cookie(response) -> None:
    response.delete_cookie(LINK_COOKIE, path="/", secure=secure_cookies(), httponly=True, samesite="Lax")


def start_again(reason: str | None):
    """The polite page: start the link again from the LINE chat (the link cookie goes)."""
    status = 410 if reason == "expired" else 400
    response = current_app.make_response((render_template("mypage/link_invalid.html", reason=reason), status))
    _drop_link_cookie(response)
    return response


def link_page(attempt: link_attempts.Attempt | None) -> dict:
    """What the login and confirm pages show of the LINE account to be linked."""
    if attempt is None:
        return {"link": None}
    user_id = attempt.user_id
    masked = f"{user_id[:5]}…{user_id[-4:]}" if len(user_id) > 10 else "…"
    return {"link": attempt.ref, "line_name": attempt.name, "line_id": masked}


def to_line(link_token: str, nonce: str):
    """On to LINE's account-link dialog (the emulator's stand-in under ``make run``); the cookie goes."""
    target = current_app.config.get("LINE_ACCOUNT_LINK_URL") or LINE_ACCOUNT_LINK_URL
    response = redirect(target + "?" + urlencode({"linkToken": link_token, "nonce": nonce}))
    _drop_link_cookie(response)
    return response

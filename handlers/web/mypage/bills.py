"""ご利用料金 on the My Page: the list of bills over its bar chart, and the bill detail page.

The bill detail page opens for (a) the logged-in owner, or (b) the chat's bearer link (``?t=``) for exactly
that statement and account within its 15 minutes. The bearer link is reusable within those minutes (the
customer may tap 「明細を見る」 again); on first use it is exchanged for a grant in the session that ends when
the link does, and the browser is sent to the clean URL so the token does not linger in history. After that,
the same URL asks for login and then shows the bill. Another customer's statement is a 404, the same as an
unknown one; without a login nothing tells them apart (both ask for login).
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, redirect, render_template, request, session, url_for

from bot import charts
from handlers import clock
from handlers.web.common import database
from handlers.web.mypage.access import bp, current_account, login_required, login_url
from storage import bills, logins
from storage.bills import aware
from storage.models import Account


@bp.get("/mypage/bills")
@login_required
def bill_list(db, account: Account):
    """ご利用料金の一覧: newest first, at most one year, nothing before 2020-07, over its bar chart
    (the same bars as the chat's 料金一覧, drawn as SVG)."""
    statements = bills.recent_statements(db, account.customer_id)
    return render_template("mypage/bills.html", account=account, statements=statements,
                           chart=charts.bill_bars(statements))


@bp.get("/mypage/bills/<int:statement_id>")
def bill_detail(statement_id: int):
    """One statement: every line item, the total, due date and payment method."""
    clean_path = url_for("mypage.bill_detail", statement_id=statement_id)
    token = request.args.get("t")
    now = clock.now()
    with database().begin() as db:
        if token is not None:
            return _exchange_link(db, token, statement_id, clean_path, now)
        viewer = _granted_account(db, statement_id, now)
        if viewer is None:
            viewer = current_account(db)
            if viewer is None:
                return redirect(login_url(clean_path))
            logged_in = True
        else:
            logged_in = current_account(db) is not None
        statement = bills.customer_statement(db, viewer.customer_id, statement_id)
        if statement is None:
            abort(404)
        return render_template("mypage/bill_detail.html", account=viewer, statement=statement,
                               logged_in=logged_in)


def _exchange_link(db, token: str, statement_id: int, clean_path: str, now: datetime):
    """A bearer link: a live one becomes a grant in this session (older grants that ended are dropped);
    either way the browser goes on to the clean URL (through the login when nothing lets it in)."""
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
        return redirect(login_url(clean_path))
    return redirect(clean_path, 303)


def _granted_account(db, statement_id: int, now: datetime) -> Account | None:
    """The account a bearer link (exchanged into this session) lets see this statement now."""
    grant = (session.get("bill_grants") or {}).get(str(statement_id))
    if not grant or grant.get("until", 0) <= now.timestamp():
        return None
    account = logins.active_account(db, int(grant.get("account_id", 0)))
    if account is None or account.session_version != grant.get("version"):
        return None
    return account

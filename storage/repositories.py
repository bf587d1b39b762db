"""Repository functions: take a session, never commit. Shared by the chat, the pages and the commands."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Account, Customer, LineLink


def find_customer(session: Session, customer_number: str) -> Customer | None:
    """The customer with this canonical number."""
    return session.scalar(select(Customer).where(Customer.customer_number == customer_number))


def find_line_link(session: Session, line_user_id: str) -> LineLink | None:
    """The link of this LINE user to an account, if any."""
    return session.scalar(select(LineLink).where(LineLink.line_user_id == line_user_id))


def find_account_by_login_id(session: Session, login_id: str) -> Account | None:
    """The account with this アカウントID, in any letter case."""
    return session.scalar(select(Account).where(Account.login_id_key == login_id.lower()))


def link_line_user(session: Session, account: Account, line_user_id: str, now) -> LineLink:
    """Link a LINE user to an account, replacing any older link of either side."""
    from sqlalchemy import delete

    session.execute(delete(LineLink).where((LineLink.line_user_id == line_user_id)
                                           | (LineLink.account_id == account.id)))
    session.flush()
    link = LineLink(line_user_id=line_user_id, account_id=account.id, notices_enabled=True, linked_at=now)
    session.add(link)
    session.flush()
    return link

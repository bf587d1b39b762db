"""The rich menus in use on LINE (one per kind) and the LINE users each should show.

Repository functions: they take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Account, LineLink, RichMenu


def current_menus(session: Session) -> dict[str, RichMenu]:
    """Every synced rich menu, by kind (empty before the first ``richmenu sync``)."""
    return {menu.kind: menu for menu in session.scalars(select(RichMenu))}


def save_menu(session: Session, kind: str, rich_menu_id: str, content_hash: str, now: datetime) -> None:
    """Record the rich menu now in use for ``kind``."""
    menu = session.get(RichMenu, kind)
    if menu is None:
        session.add(RichMenu(kind=kind, rich_menu_id=rich_menu_id, content_hash=content_hash, synced_at=now))
    else:
        menu.rich_menu_id, menu.content_hash, menu.synced_at = rich_menu_id, content_hash, now
    session.flush()


def is_linked(session: Session, line_user_id: str) -> bool:
    """Whether this LINE user is linked to an active account (the linked customers' menu)."""
    link = session.scalar(select(LineLink).where(LineLink.line_user_id == line_user_id))
    return link is not None and link.account.status == "active"


def linked_line_users(session: Session, batch: int = 500) -> Iterator[list[str]]:
    """The LINE users linked to active accounts, in batches (LINE's bulk link takes 500 at most)."""
    query = (select(LineLink.line_user_id).join(Account, Account.id == LineLink.account_id)
             .where(Account.status == "active").order_by(LineLink.id))
    chunk: list[str] = []
    for user_id in session.scalars(query):
        chunk.append(user_id)
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def other_line_user_of_account(session: Session, account_id: int, line_user_id: str) -> str | None:
    """The LINE user this account is linked to now, when it is not ``line_user_id`` (a new link displaces it)."""
    other = session.scalar(select(LineLink.line_user_id).where(LineLink.account_id == account_id))
    return other if other and other != line_user_id else None

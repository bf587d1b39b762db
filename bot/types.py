"""Values that cross the border between the edges and the conversation.

``Incoming`` is what a person did (platform-neutral); ``Reply`` values are what the bot
says back; ``Effect`` values are slow work (mail, pushes) that the edge runs after the
conversation's database transaction has committed, outside the webhook request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class EventKind(StrEnum):
    """What kind of thing the person did."""

    TEXT = "text"
    POSTBACK = "postback"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    STICKER = "sticker"
    MEDIA = "media"  # image, video, audio, file, location
    ACCOUNT_LINK = "account_link"
    OTHER = "other"


@dataclass(frozen=True)
class Incoming:
    """One event from one person, already translated from the platform's format."""

    user_id: str
    kind: EventKind
    text: str = ""
    postback_data: str = ""
    link_nonce: str = ""  # accountLink events: the nonce LINE hands back
    link_ok: bool = False  # accountLink events: result == "ok"


@dataclass(frozen=True)
class QuickReply:
    """A quick reply button: sends ``text`` as if typed (or ``postback_data`` when set)."""

    label: str
    text: str
    postback_data: str = ""


@dataclass(frozen=True)
class LinkButton:
    """A button that opens a web page."""

    label: str
    url: str


@dataclass(frozen=True)
class TextReply:
    """A text message, optionally with quick replies and link buttons."""

    text: str
    quick_replies: tuple[QuickReply, ...] = ()
    buttons: tuple[LinkButton, ...] = ()


@dataclass(frozen=True)
class BillLine:
    """One line item of a bill as shown to the customer."""

    name: str
    amount: int


@dataclass(frozen=True)
class BillCard:
    """One month's bill at a glance, rendered by the edge (Flex on LINE)."""

    billing_month: date
    total: int
    items: tuple[BillLine, ...]
    detail_url: str
    due_date: date | None = None
    payment_method: str | None = None
    note: str = ""
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True)
class BillListEntry:
    """One row of the bill list: a month, its total, and what to send to open it."""

    billing_month: date
    total: int
    command: str


@dataclass(frozen=True)
class BillList:
    """Up to 12 months of bills, newest first, each tappable."""

    entries: tuple[BillListEntry, ...]
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True)
class AccountLinkPrompt:
    """Ask the edge to issue a platform link token and show the web login link carrying it."""

    text: str
    button_label: str


Reply = TextReply | BillCard | BillList | AccountLinkPrompt


@dataclass(frozen=True)
class SendMail:
    """Send one plain-text mail (done by a background job, retried on failure)."""

    to: str
    subject: str
    body: str


Effect = SendMail


@dataclass
class Outcome:
    """Everything one incoming event produced."""

    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

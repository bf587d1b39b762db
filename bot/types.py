"""Values that cross the border between the edges and the conversation.

``Incoming`` is what a person did (platform-neutral); ``Reply`` values are what the bot
says back; ``Effect`` values are slow work (mail, pushes) that the edge runs after the
conversation's database transaction has committed, outside the webhook request.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
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


@dataclass(frozen=True)
class SwitchMenu:
    """Show this LINE user the rich menu that fits them now (linked customers' or newcomers').

    The job reads the link from the database when it runs, so jobs that run out of order
    still leave the right menu; ``linked`` says what the turn saw.
    """

    user_id: str
    linked: bool


@dataclass(frozen=True)
class StaffOutbox:
    """Show staff what is pending for this handoff (Slack, or the emulator's staff pane), in order."""

    handoff_id: int


@dataclass(frozen=True)
class HandoffTimer:
    """Start the handoff's no-reply timer: if no person has answered in time, the customer is told."""

    handoff_id: int


@dataclass(frozen=True)
class PushReplies:
    """Push text messages to another LINE user than the one in the turn (a displaced link's owner is told)."""

    user_id: str
    replies: tuple[TextReply, ...]


@dataclass(frozen=True)
class SyncRichMenus:
    """Make LINE's rich menus match ``bot.menus`` (``richmenu sync``): the emulator asks when it has none."""


Effect = SendMail | SwitchMenu | StaffOutbox | HandoffTimer | PushReplies | SyncRichMenus


@dataclass
class Outcome:
    """Everything one incoming event produced."""

    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)  # names of things worth counting (metrics)


# -- values as JSON: replies and effects cross processes (outbox rows, job arguments) ------------
WIRE_TYPES: dict[str, type] = {}


def wire(cls):
    """Register a reply, effect or part dataclass for ``to_json``/``from_json`` (a class decorator)."""
    WIRE_TYPES[cls.__name__] = cls
    return cls


for _cls in (QuickReply, LinkButton, TextReply, BillLine, BillCard, BillListEntry, BillList, AccountLinkPrompt,
             SendMail, SwitchMenu, StaffOutbox, HandoffTimer, PushReplies, SyncRichMenus):
    wire(_cls)


@functools.cache
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _dump(value):
    cls = type(value)
    if cls is str or cls is int or value is None or cls is bool:  # the most common leaves first
        return value
    if hasattr(cls, "__dataclass_fields__"):
        return {name: _dump(getattr(value, name)) for name in _field_names(cls)}
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


_type_hints = functools.cache(typing.get_type_hints)  # per class, once: resolving them is slow


def _load(cls, data: dict):
    hints = _type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple and args and getattr(args[0], "__name__", "") in WIRE_TYPES:
            value = tuple(_load(args[0], v) for v in value)
        elif value is not None and date in (hint, *args):
            value = date.fromisoformat(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def fields_of(value) -> dict:
    """A registered value's fields as JSON-safe keyword arguments (an effect's job arguments)."""
    return _dump(value)


def to_json(values: list) -> list[dict]:
    """Registered values (replies, effects) as JSON-safe dicts; ``from_json`` reads them back."""
    return [{"type": type(v).__name__, **_dump(v)} for v in values]


def from_json(data: list[dict]) -> list:
    """The values ``to_json`` wrote."""
    return [_load(WIRE_TYPES[item["type"]], {k: v for k, v in item.items() if k != "type"}) for item in data]


replies_to_json = to_json
replies_from_json = from_json


@wire
@dataclass(frozen=True)
class BillNotice:
    """The monthly push that a bill is final: month, total, due date, and a button that asks the bot
    for that month's bill (``command``) rather than carrying a link, so it is fresh when tapped."""

    billing_month: date
    total: int
    command: str
    due_date: date | None = None

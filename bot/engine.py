"""The engine: take the user's lock, load the state, step the flow, commit, save, reply.

The whole dialogue is a table of ``Flow`` values (entry points, states mapped to steps),
read like python-telegram-bot's ConversationHandler but with readable string states
kept in Redis so every worker shares them. A step returns the next state, or ``None``
when the conversation is over; to re-ask, it returns its own state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot import messages
from bot.hours import DEFAULT_CLOSED_DAYS
from bot.normalize import command_text
from bot.types import (
    Effect,
    EventKind,
    Incoming,
    LinkButton,
    Outcome,
    QuickReply,
    Reply,
    TextReply,
)
from bot.understanding.intents import HANDOFF
from storage.limits import Limits
from storage.redis_client import StateUnavailable
from storage.state import Conversation, Held, StateStore
from storage.timezone import TOKYO

log = logging.getLogger(__name__)

HELP_KEYS = frozenset(command_text(w) for w in ("ヘルプ", "へるぷ", "メニュー", "help", messages.QR_HELP))
CANCEL_WORDS = frozenset({"キャンセル", "きゃんせる", "中止", "やめる", "取消", "取り消し"})


@dataclass(frozen=True)
class BotSettings:
    """What the conversation needs to know about its deployment."""

    public_base_url: str = "http://127.0.0.1:8000"
    registration_ttl_seconds: int = 86400
    idle_seconds: int = 1800
    support_hours: str = "09:00-17:00"
    support_closed_days: str = DEFAULT_CLOSED_DAYS
    secret: str = ""  # keys the hashes that stand in for personal data in Redis key names


@dataclass
class Turn:
    """One step's working area: the event, the database session, the data, and what to say."""

    incoming: Incoming
    db: Session
    now: datetime  # aware, Asia/Tokyo
    settings: BotSettings
    data: dict[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)  # things worth counting (metrics), by name
    state: str | None = None  # the conversation's state when the event came (None: outside any flow)
    recent: list[dict[str, str]] = field(default_factory=list)  # masked texts to keep for a later handoff
    understood: str = ""  # what the bot made of free text (shown to staff beside the text)
    store: StateStore | None = None  # the conversation's store: the recent texts a handoff shows
    limits: Limits | None = None  # counters and refusals (rate and mismatch limits), on the same Redis

    @property
    def user_id(self) -> str:
        return self.incoming.user_id

    @property
    def text(self) -> str:
        return self.incoming.text

    def say(self, text: str, quick_replies: tuple[QuickReply, ...] | list[QuickReply] = (),
            buttons: tuple[LinkButton, ...] | list[LinkButton] = ()) -> None:
        """Add a text reply."""
        self.replies.append(TextReply(text, tuple(quick_replies), tuple(buttons)))

    def reply(self, reply: Reply) -> None:
        """Add any reply value (bill card, list, ...)."""
        self.replies.append(reply)

    def effect(self, effect: Effect) -> None:
        """Ask the edge for slow work after the transaction commits."""
        self.effects.append(effect)

    def signal(self, name: str) -> None:
        """Note something worth counting (``verification_failed``, ``registration_started``, …);
        the edge turns signals into metrics, so the conversation imports no metrics library."""
        self.signals.append(name)

    def remember(self, masked_text: str) -> None:
        """Keep this (already masked) text among the customer's last few, once the turn commits."""
        self.recent.append({"text": masked_text})

    def url(self, path: str) -> str:
        """An absolute URL under PUBLIC_BASE_URL."""
        return self.settings.public_base_url.rstrip("/") + path


Step = Callable[[Turn], "str | None"]


@dataclass(frozen=True)
class StateSpec:
    """A state: ``step`` handles the answer, ``prompt`` (re-)asks the question."""

    step: Step
    prompt: Callable[[Turn], None]


@dataclass(frozen=True)
class Entry:
    """An entry point: ``match`` looks at the command text (see ``command_text``); ``intent`` names
    it for free text (``bot.understanding.intents``), which starts it with the month it read."""

    match: Callable[[str], Any]
    start: Callable[[Turn, Any], str | None]
    intent: str | None = None


# What reads free text when no entry matched: (turn, entries by intent, the menu) -> next state.
FreeText = Callable[[Turn, "dict[str, Entry]", Callable[[Turn], None]], "str | None"]


def words(*candidates: str) -> Callable[[str], bool]:
    """A matcher for exact command words (compared after ``command_text``)."""
    keys = frozenset(command_text(c) for c in candidates)
    return lambda key: key in keys


@dataclass(frozen=True)
class Flow:
    """One flow's table: entry points, states, and optional handlers.

    ``intercept`` is asked first, for every event but follow/unfollow/accountLink: when it
    returns True it has handled the event and no other routing happens (a chat handed to
    staff takes everything the customer sends). ``on_follow``/``on_unfollow``/
    ``on_account_link`` run for those events, every flow's in turn.
    """

    name: str
    entries: tuple[Entry, ...] = ()
    states: dict[str, StateSpec] = field(default_factory=dict)
    on_account_link: Callable[[Turn], None] | None = None
    intercept: Callable[[Turn], bool] | None = None
    on_follow: Callable[[Turn], None] | None = None
    on_unfollow: Callable[[Turn], None] | None = None


class Engine:
    """Routes an ``Incoming`` through the flow table, one person at a time."""

    def __init__(self, flows: list[Flow], store: StateStore, sessions: sessionmaker[Session],
                 settings: BotSettings, menu: Callable[[Turn], None],
                 clock: Callable[[], datetime] | None = None, free_text: FreeText | None = None,
                 limits: Limits | None = None) -> None:
        self.flows = flows
        self.free_text = free_text
        self.intents = {entry.intent: entry for flow in flows for entry in flow.entries if entry.intent}
        self._handoff = self.intents.get(HANDOFF)  # the entry whose words leave any flow
        self.store = store
        self.limits = limits if limits is not None else Limits(store.redis)  # the same Redis by default
        self.sessions = sessions
        self.settings = settings
        self.menu = menu
        self.clock = clock or (lambda: datetime.now(TOKYO))
        self.states: dict[str, StateSpec] = {}
        for flow in flows:
            for name, spec in flow.states.items():
                if name in self.states:
                    raise ValueError(f"state {name} defined twice")
                self.states[name] = spec

    def _leaves_flow(self, key: str) -> bool:
        """INTERFACES.md: inside a flow the customer's text is that flow's answer, and only キャンセル,
        ヘルプ and オペレーター words leave it (ヘルプ shows the menu, オペレーター hands the chat over)."""
        return key in HELP_KEYS or (self._handoff is not None and bool(self._handoff.match(key)))

    def handle(self, incoming: Incoming,
               on_commit: Callable[[Session, Outcome], None] | None = None) -> Outcome:
        """Handle one event under the user's lock; raises ``storage.errors.Unavailable`` when Redis or
        the database did not answer (the edge tries the event again later).

        ``on_commit(db, outcome)`` runs inside the turn's transaction, after the step: the
        edge writes its outbox row there, so the turn and what it must say commit together.
        """
        with self.store.locked_conversation(incoming.user_id) as held:
            conversation = held.conversation
            had_conversation = conversation is not None
            now = self.clock()
            with self.sessions.begin() as db:
                turn = Turn(incoming, db, now, self.settings, store=self.store, limits=self.limits)
                if conversation and time.time() - conversation.updated_at > self.settings.idle_seconds:
                    if incoming.kind in (EventKind.TEXT, EventKind.POSTBACK, EventKind.STICKER, EventKind.MEDIA):
                        turn.say(messages.SESSION_EXPIRED)
                    conversation = None
                if conversation:
                    turn.data = dict(conversation.data)
                    turn.state = conversation.state
                next_state = self._route(turn, conversation)
                if turn.understood:
                    for item in turn.recent:
                        item["understood"] = turn.understood
                outcome = Outcome(turn.replies, turn.effects, turn.signals)
                if on_commit is not None:
                    on_commit(db, outcome)
            # The database has committed; only now does the conversation move on.
            self._save(held, next_state, turn.data, had_conversation, turn.recent)
        return outcome

    def _save(self, held: Held, next_state: str | None, data: dict[str, Any], had_conversation: bool,
              recent: list[dict[str, str]]) -> None:
        """Store where the conversation goes next, release the lock, keep the recent texts (one
        round trip). The turn has already committed, so a failure here must not undo it:
        raising would lose its replies and effects (a mail the customer was promised) and a
        redelivery would run the step twice. End the conversation instead. A step that
        outlived its lock writes nothing: the newer message's state stands."""
        try:
            conversation = Conversation(next_state, data, time.time()) if next_state else None
            saved = self.store.finish_turn(held, conversation, keep=not next_state and not had_conversation,
                                           idle_seconds=self.settings.idle_seconds, recent=recent)
            if not saved:
                log.warning("a step outlived the user lock; its conversation state was not saved")
        except StateUnavailable:
            log.error("conversation state not saved after the turn committed; ending the conversation")
            try:
                self.store.save(held.user_id, None)
            except StateUnavailable:
                log.error("could not end the conversation either; it expires by itself")

    def _route(self, turn: Turn, conversation: Conversation | None) -> str | None:
        incoming = turn.incoming
        current = conversation.state if conversation else None
        if incoming.kind == EventKind.UNFOLLOW:
            for flow in self.flows:
                if flow.on_unfollow:
                    flow.on_unfollow(turn)
            return None
        if incoming.kind == EventKind.FOLLOW:
            for flow in self.flows:
                if flow.on_follow:
                    flow.on_follow(turn)
            turn.say(messages.GREETING)
            self.menu(turn)
            return None
        if incoming.kind == EventKind.ACCOUNT_LINK:
            for flow in self.flows:
                if flow.on_account_link:
                    flow.on_account_link(turn)
            return None
        if incoming.kind == EventKind.OTHER:
            return current
        for flow in self.flows:
            if flow.intercept and flow.intercept(turn):
                return current

        key = command_text(incoming.text)
        spec = self.states.get(current) if current else None
        if spec is not None:
            if incoming.kind in (EventKind.STICKER, EventKind.MEDIA):
                turn.say(messages.NOT_TEXT_IN_FLOW)
                spec.prompt(turn)
                return current
            if key in CANCEL_WORDS:
                turn.say(messages.CANCELLED)
                self.menu(turn)
                return None
            if not self._leaves_flow(key):
                return spec.step(turn)
            # ヘルプ or an オペレーター word: the flow is left and the words are read as anywhere else.

        if incoming.kind in (EventKind.STICKER, EventKind.MEDIA):
            turn.say(messages.NOT_TEXT)
            self.menu(turn)
            return None
        if key in CANCEL_WORDS:
            turn.say(messages.NOTHING_TO_CANCEL)
            self.menu(turn)
            return None
        for flow in self.flows:
            for entry in flow.entries:
                match = entry.match(key)
                if match:
                    return entry.start(turn, match)
        if self.free_text is not None and incoming.kind == EventKind.TEXT and key:
            return self.free_text(turn, self.intents, self.menu)
        self.menu(turn)
        return None

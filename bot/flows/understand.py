"""Free text: what the customer wrote, read (``bot.understanding``) and answered.

Asked by the engine only when no flow is waiting for an answer and no command word matched
(so 「リョウキン」 typed as the カナ answer stays the answer). The reading decides:

- an intent: the flow entry that carries it starts, with the month read (「8月分の明細」); the
  likeliest of several is answered and the others are offered as quick replies;
- an FAQ entry: its answer verbatim (with the reminder page's link when the entry is the operator's
  own answer to a forgotten password), its link in a message of its own, the nearest other entries and a
  person as quick replies;
- nothing: 「申し訳ありません、うまく理解できませんでした」 with up to three near FAQ questions,
  a person and the menu; never a bill, a registration or a handoff that was not asked for.

Misses (not understood, or an FAQ answer given with low confidence) are kept masked for
``faq misses``; each outcome is a turn signal (``understanding_answered`` …) for ``/metrics``;
what the bot understood is kept beside the customer's text for staff (``Turn.understood``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from bot import messages
from bot.engine import Entry, Turn
from bot.flows.billing import MonthRequest, today
from bot.flows.handoff import known_names, mask_text
from bot.types import LinkButton, QuickReply
from bot.understanding import intents
from bot.understanding.library import FaqLibrary
from bot.understanding.months import resolve
from bot.understanding.reader import DEFAULT_THRESHOLDS, Reading, Thresholds, read
from storage import faq as faq_store
from storage import repositories

# What a quick reply sends to start an intent (the command words the flows match exactly).
INTENT_WORDS = {
    intents.BILL_THIS_MONTH: messages.QR_THIS_MONTH,
    intents.BILL_LAST_MONTH: messages.QR_LAST_MONTH,
    intents.BILL_LIST: messages.QR_BILL_LIST,
    intents.REGISTER: messages.QR_REGISTER,
    intents.LINK: messages.LOGIN_LINK_BUTTON,
    intents.UNLINK: "連携解除",
    intents.HANDOFF: messages.QR_OPERATOR,
    intents.NOTICES_STOP: messages.QR_NOTICES_STOP,
    intents.NOTICES_RESUME: messages.QR_NOTICES_RESUME,
    intents.NOTICES_SETTINGS: messages.QR_NOTICES_SETTINGS,
    intents.HELP: messages.QR_HELP,
}
MAX_REPLIES = 5  # LINE's limit of messages in one reply
# Intents whose action follows the operator's own FAQ answer about it (``reader.OWN_WORDS``): the
# registration's first question after the entry on how to register, the bill card after the entry on
# where bills are shown, the bill list after the entry on how far back bills go. A forgotten
# password's reminder button rides on the answer (``_faq``).
ACTS_BESIDE_FAQ = frozenset({intents.REGISTER, intents.BILL_THIS_MONTH, intents.BILL_LAST_MONTH, intents.BILL_MONTH,
                             intents.BILL_LIST, intents.LINK})
LABEL_LIMIT = 20  # LINE's limit of a quick reply label


def question_button(question: str) -> QuickReply:
    """A quick reply that asks an FAQ question (its label cut to LINE's 20 characters)."""
    label = question if len(question) <= LABEL_LIMIT else question[:LABEL_LIMIT - 1] + "…"
    return QuickReply(label, question)


def _operator() -> QuickReply:
    return QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)


class FreeTextReader:
    """The engine's ``free_text``: one per process, holding the FAQ library (refreshed by version)."""

    def __init__(self, library: FaqLibrary | None = None, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.library = library or FaqLibrary()
        self.thresholds = thresholds

    def reading(self, db: Session, text: str) -> Reading:
        """What ``text`` means (the FAQ index checked against the database first); ``faq ask`` too."""
        return read(text, self.library.index(db), self.thresholds)

    def __call__(self, turn: Turn, entries: dict[str, Entry], menu: Callable[[Turn], None]) -> str | None:
        reading = self.reading(turn.db, turn.text)
        turn.signal(f"understanding_{reading.outcome}")
        if reading.faq is not None and not self._reminder_is_the_answer(turn, reading):
            self._faq(turn, reading)
            if reading.intent in ACTS_BESIDE_FAQ:  # 「マイページの登録方法は？」: the answer, then the action
                faq_understood = turn.understood
                next_state = self._intent(turn, reading, entries, menu)
                turn.understood = f"{faq_understood}／{turn.understood}"
                return next_state
            return None
        if reading.intent is not None:
            return self._intent(turn, reading, entries, menu)
        self._not_understood(turn, reading)
        return None

    @staticmethod
    def _reminder_is_the_answer(turn: Turn, reading: Reading) -> bool:
        """A forgotten password whose FAQ entry only points at our reminder page: the intent's own
        reply (the reminder's button) says the same, better."""
        entry = reading.faq.entry if reading.faq else None
        return reading.intent == intents.FORGOT and entry is not None and \
            entry.link in ("/reminder", turn.url("/reminder"))

    # -- an intent ------------------------------------------------------------------------------
    def _intent(self, turn: Turn, reading: Reading, entries: dict[str, Entry],
                menu: Callable[[Turn], None]) -> str | None:
        intent = reading.intent
        assert intent is not None
        label = messages.INTENT_LABELS.get(intent, intent)
        next_state: str | None = None
        if intent == intents.GREETING:
            turn.say(messages.SMALL_TALK_GREETING, [QuickReply(messages.QR_MENU, messages.QR_MENU), _operator()])
        elif intent == intents.THANKS:
            turn.say(messages.SMALL_TALK_THANKS, [QuickReply(messages.QR_MENU, messages.QR_MENU)])
        elif intent == intents.FORGOT:
            turn.say(messages.FORGOT_CREDENTIALS, [_operator()],
                     buttons=[LinkButton(messages.REMINDER_BUTTON, turn.url("/reminder"))])
        elif intent == intents.HELP or intent not in entries:
            menu(turn)
        elif intent == intents.BILL_MONTH and reading.month is not None:
            month = resolve(reading.month, today(turn))
            label = label.format(month=messages.month_label(month))
            next_state = entries[intent].start(turn, MonthRequest(month.year, month.month))
        else:
            next_state = entries[intent].start(turn, True)
        turn.understood = messages.UNDERSTOOD_INTENT.format(label=label)
        others = [INTENT_WORDS[i] for i in reading.alternatives if i in INTENT_WORDS]
        if others and len(turn.replies) < MAX_REPLIES and next_state is None:
            turn.say(messages.ALSO_OFFERED, [QuickReply(word, word) for word in dict.fromkeys(others)][:12])
        return next_state

    # -- an FAQ entry ----------------------------------------------------------------------------
    def _faq(self, turn: Turn, reading: Reading) -> None:
        match = reading.faq
        assert match is not None
        entry = match.entry
        choices = [question_button(m.entry.question) for m in reading.suggestions] + [_operator()]
        # The answer is the operators' text, verbatim, on its own; its link follows as a line LINE
        # makes tappable, and the nearest other questions ride on the last message. The operator's own
        # answer to a forgotten password comes with the reminder page's button.
        link = turn.url(entry.link) if entry.link and entry.link.startswith("/") else entry.link
        reminder = turn.url("/reminder") if reading.intent == intents.FORGOT else None
        turn.say(entry.answer, () if link or reminder else choices)
        if link:
            turn.say(messages.FAQ_LINK.format(url=link), () if reminder else choices)
        if reminder:
            turn.say(messages.FORGOT_REMINDER, choices, buttons=[LinkButton(messages.REMINDER_BUTTON, reminder)])
        turn.understood = messages.UNDERSTOOD_FAQ.format(question=entry.question)
        if match.score < self.thresholds.faq_confident and reading.intent is None:  # beside an intent: no miss
            self._miss(turn, faq_store.LOW_CONFIDENCE, reading)
        return None

    # -- nothing ---------------------------------------------------------------------------------
    def _not_understood(self, turn: Turn, reading: Reading) -> None:
        choices = [question_button(m.entry.question) for m in reading.suggestions]
        text = messages.NOT_UNDERSTOOD_SUGGEST if choices else messages.NOT_UNDERSTOOD
        turn.say(text, [*choices, _operator(), QuickReply(messages.QR_MENU, messages.QR_MENU)])
        if choices:
            questions = "、".join(m.entry.question for m in reading.suggestions)
            turn.understood = messages.UNDERSTOOD_NONE_SUGGESTED.format(questions=questions)
        else:
            turn.understood = messages.UNDERSTOOD_NONE
        self._miss(turn, faq_store.NOT_UNDERSTOOD, reading)

    def _miss(self, turn: Turn, outcome: str, reading: Reading) -> None:
        best = reading.faq or (reading.matches[0] if reading.matches else None)
        # Masked before it is stored: numbers, mail, and the names the bot knows for this person.
        names = known_names(repositories.find_line_link(turn.db, turn.user_id))
        faq_store.record_miss(turn.db, mask_text(turn.text, names)[:200], outcome,
                              best.entry.id if best else None, best.score if best else 0.0, turn.now)

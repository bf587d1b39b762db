"""One voice (issue 23): every sentence the customer reads, checked against the glossary in ``bot.messages``.

- Every 「X」 a chat message names for the customer to tap or send is something they have at that
  point: a quick reply of that reply (LINE shows the last message's), a button in it, the rich menu
  they have then, or words the conversation understands (asked of the flows' own entry matchers,
  ``Entry.match``, not of a list kept here). The messages are read where the customer reads them:
  the conversations below drive the real bot through signed webhooks and read what LINE was sent;
  every message that names a button or a word must turn up in them (or be listed in ``NOT_DRIVEN``
  with the reason and checked on its own).
- Web pages and mails name the page's own buttons or the chat's words.
- No message, menu, page or mail uses a term the glossary retired (``messages.RETIRED_TERMS``).
- Refusals and errors open with an apology and end with what to do next; the ones the customer
  cannot get past alone offer a person (``messages.REFUSALS``, ``messages.NEEDS_A_PERSON``).
- Mail goes out from あいコムこうかマイページ, encoded for the header (RFC 2047), over real SMTP.

This module drives the conversations and checks the rich menus; the checks of the copy (retired terms,
pages and mails), of refusals and errors, and of mail are in ``test_voice_*.py`` beside it, and the
reading of messages in ``voice_reading.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import pytest

from bot import menus, messages
from bot.flows import handoff as handoff_flow
from bot.flows import registration
from bot.types import TextReply
from storage import handoffs, richmenus
from tests.bot.test_account_link import account_link_event, login_link_from_chat, nonce_from_redirect
from tests.bot.voice_reading import (
    WEB_LABELS,
    Reference,
    button_labels,
    customer_messages,
    quick_replies,
    references,
    shown_texts,
    understood,
)
from tests.conftest import SECRET_KEY
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    confirm_move,
    login,
    seed_customer_with_account,
    seed_link,
    seed_statement,
)
from tests.helpers_registration import NUMBER, PHONE, link_path, post_password, seed_customer, verify
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

# Pieces other messages are built from, not messages of their own.
FRAGMENTS = {"TO_A_PERSON", "PHONE_DESK", "STAFFED_HOURS", "STAFFED_DAYS", "SUPPORT_HOURS_TEXT", "FREE_CALL",
             "REGISTRATION_MAIL", "MAIL_FOOTER", "MAIL_SENDER_NAME", "WEEKDAYS", "MINUS_SIGN"}
# Messages that name a button or a word but are not said in the conversations below, and why;
# ``test_messages_not_driven_name_only_real_labels`` checks them on their own.
NOT_DRIVEN = {
    "VERIFY_UNAVAILABLE": "said when Redis cannot be read (tests/bot/test_registration_limits.py breaks it on purpose)",
    "NOT_UNDERSTOOD_SUGGEST": "needs an FAQ question near enough to suggest: the reader's thresholds decide, "
                              "and it is said with NOT_UNDERSTOOD's buttons (bot/flows/understand.py)",
    "WITHDRAWN_PUSH": "pushed by the web's 退会 (tests/ops/test_withdraw.py)",
    "BILL_NOTICE_FOOTNOTE": "on the monthly notice pushed by notify-bills (tests/line/test_notices.py)",
    "REGISTRATION_MAIL_BODY": "a mail: test_mails_name_only_real_labels reads it",
    "FORGOT_REMINDER": "said beside the operators' own FAQ answer about a forgotten password "
                       "(tests/understanding/test_chat.py)",
}


def naming_messages() -> dict[str, str]:
    """The messages that name a button or words (what the conversations must show in use)."""
    return {name: text for name, text in customer_messages().items()
            if name not in FRAGMENTS and any(ref.label not in WEB_LABELS for ref in references(text))}


def pattern_of(template: str) -> re.Pattern:
    """A message template as a pattern its said form matches (``{month}`` and the like match anything)."""
    return re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".*?", re.escape(template)), re.S)


# -- the checker -----------------------------------------------------------------------------------
@dataclass
class Voice:
    """Reads every reply the conversations get, as the customer sees it, and notes what does not hold."""

    app: object
    seen: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def read(self, user_id: str, batch: list[dict]) -> list[dict]:
        """Check one reply (or push) batch: each label its texts name is at hand."""
        if not batch:
            return batch
        offered = quick_replies(batch[-1])  # LINE shows the last message's quick replies only
        buttons = set().union(*(button_labels(m) for m in batch))
        with self.app.extensions["db"].begin() as db:
            menu = menus.menu_for(richmenus.is_linked(db, user_id))
        rich_menu = {area.label for area in menu.areas}
        for message in batch:
            for text in shown_texts(message):
                self.seen.append(text)
                for ref in references(text):
                    if not self._at_hand(ref, offered, buttons | rich_menu):
                        self.problems.append(f"{ref.label!r} ({ref.kind}) is not at hand for: {text!r} "
                                             f"[quick replies {sorted(offered)}, buttons {sorted(buttons)}, "
                                             f"rich menu {sorted(rich_menu)}]")
        return batch

    @staticmethod
    def _at_hand(ref: Reference, offered: dict[str, str], buttons: set[str]) -> bool:
        if ref.label in WEB_LABELS:
            return True  # a web page's label: test_web_labels_named_in_the_chat_are_on_their_page
        press = ref.label in offered or ref.label in buttons
        send = understood(ref.label) or offered.get(ref.label) == ref.label
        return {"press": press, "send": send, "either": press or send}[ref.kind]

    def replies(self, user_id: str, replies: list[TextReply]) -> None:
        """The same for bot replies the staff side pushes (a closed handoff, the no-reply notice)."""
        self.read(user_id, [{"type": "text", "text": r.text, "quickReply": {"items": [
            {"action": {"label": q.label, "text": q.text}} for q in r.quick_replies]}} for r in replies])


class Talk:
    """A LINE user whose every reply and push goes through ``Voice``."""

    def __init__(self, voice: Voice, user, line_api) -> None:
        self.voice, self.user, self.api = voice, user, line_api
        self.user_id = user.user_id

    def say(self, text: str) -> list[dict]:
        return self.voice.read(self.user_id, self.user.say(text))

    def event(self, event: dict) -> list[dict]:
        return self.voice.read(self.user_id, self.user.send_event(event))

    def pushes(self, since: int = 0) -> list[dict]:
        """Read the pushes this user got (after the first ``since`` push calls)."""
        calls = self.api.accepted("push", self.user_id)[since:]
        for call in calls:
            self.voice.read(self.user_id, call.body["messages"])
        return [m for call in calls for m in call.body["messages"]]


@pytest.fixture
def voice(app):
    return Voice(app)


@pytest.fixture
def talk(voice, make_line_user, line_api):
    return lambda: Talk(voice, make_line_user(), line_api)


# -- the conversations --------------------------------------------------------------------------------
def _newcomer(talk) -> None:
    """A newcomer: the menu, the FAQ, what needs a link, free text, a sticker."""
    newcomer = talk()
    newcomer.event(newcomer.user._event("follow", follow={"isUnblocked": False}))
    for words in ("ヘルプ", "よくある質問", "今月の料金", "ログインして連携", "通知設定", "連携解除", "メールを再送",
                  "ほげほげふがふが", "パスワードを忘れました"):
        newcomer.say(words)
    newcomer.voice.read(newcomer.user_id, newcomer.user.sticker())


def _registration(app, talk, mailbox) -> None:
    """Registration: help mid-flow, a mismatch, the confirmation, 仮登録, resends up to the limit; then the
    本登録 page links the LINE user, and the push names what to tap."""
    seed_customer(app)
    person = talk()
    person.say("登録")
    person.say(NUMBER)
    person.say(PHONE)
    person.say("よくある質問")  # a rich-menu tap mid-flow: REGISTER_IN_PROGRESS, then the name again
    person.say("ソウイ　ナシ")  # a mismatch: VERIFY_MISMATCH, VERIFY_RETRY
    person.say(NUMBER)
    person.say(PHONE)
    person.say("アイコム タロウ")
    for answer in ("aicom_taro", "taro@example.jp", "たろう", "はい"):
        person.say(answer)  # ... the confirmation, and CONFIRM_CHOOSE for 「はい」
    person.say("仮登録する")
    for _ in range(registration.RESEND_LIMIT + 1):
        person.say("メールを再送")  # MAIL_RESENT three times, then RESEND_LIMITED
    # The 本登録 page links the LINE user; the push names what to tap.
    drain_jobs(app)
    post_password(app.test_client(), link_path(Mailbox.body(mailbox.wait(4)[-1])))
    drain_jobs(app)
    person.pushes()
    person.say("登録")  # ALREADY_LINKED


def _refused_registrations(app, talk) -> None:
    """Too many mismatches from one LINE user; a customer number refused for a day."""
    limited = talk()
    for _ in range(registration.USER_LIMIT):
        verify(limited.user, kana="ソウイ　ナシ")
    limited.say("登録")
    seed_customer(app, number="23456789", phone="0748625555", kana="コウカ\u3000ハナコ")
    app.extensions["limits"].block(registration.NUMBER_MISMATCH, registration.number_ident("23456789", SECRET_KEY),
                                   3600)
    refused = talk()
    refused.say("登録")
    refused.say("23456789")
    refused.say("0748625555")
    refused.say("コウカ ハナコ")


def _web_customer_links(app, talk) -> Talk:
    """A customer already registered on the web (the reminder and the login buttons), then account link:
    a failed one, a done one, and the LINE user whose link moved (returned, to go on as the linked one)."""
    web = seed_customer_with_account(app, number="34567890", login_id="aicom_web", email="web@example.jp")
    seed_statement(app, web.customer_id, date(2026, 11, 1), [("基本料金", 5280)], due_date=date(2026, 11, 27))
    returning = talk()
    returning.say("登録")
    returning.say("34567890")
    returning.say("0748621234")
    returning.say("アイコム タロウ")

    # Account link: a failed one, a done one, and the LINE user whose link moved.
    returning.event(returning.user._event("accountLink", link={"result": "failed", "nonce": "x" * 24}))
    _token, nonce = nonce_from_redirect(login(app.test_client(), "aicom_web",
                                              link=login_link_from_chat(returning.user)))
    returning.voice.read(returning.user_id, account_link_event(returning.user, nonce))
    mover = talk()
    moved = app.test_client()
    assert login(moved, "aicom_web", link=login_link_from_chat(mover.user)).headers["Location"] == "/link/confirm"
    _token, nonce = nonce_from_redirect(confirm_move(moved))
    mover.voice.read(mover.user_id, account_link_event(mover.user, nonce))
    drain_jobs(app)
    returning.pushes()
    return mover


def _linked_customers(app, talk, mover: Talk) -> None:
    """A linked customer: the menu, the FAQ, a bill, months, notices, unlinking; one with no bill yet."""
    for words in ("ヘルプ", "よくある質問", "今月の料金", "料金一覧", "2019年5月の料金", "2026年3月の料金", "通知停止",
                  "通知停止", "通知設定", "通知再開", "通知再開", "通知設定", "連携解除", "はい", "連携解除する"):
        mover.say(words)
    empty = seed_customer_with_account(app, number="45678901", login_id="aicom_empty", email="empty@example.jp")
    nothing_yet = talk()
    seed_link(app, empty.account_id, nothing_yet.user_id)
    nothing_yet.say("今月の料金")


def _a_person(app, voice, talk, clock) -> None:
    """A person: within hours, handed back; open when the hours end, acknowledged; nobody answered;
    closed by staff; and one asked for after hours."""
    caller = talk()
    caller.say("オペレーターと話す")
    caller.say("ボットに戻る")
    caller.say("オペレーターと話す")
    clock.now = datetime(2026, 11, 25, 20, 0, tzinfo=clock.now.tzinfo)
    caller.say("料金について教えてください")  # HANDOFF_AFTER_HOURS_ACK
    with app.extensions["db"].begin() as db:
        handoff = handoffs.find_open(db, caller.user_id)
        voice.replies(caller.user_id, handoff_flow.no_reply_notice(db, handoff, "09:00-17:00", clock.now))
        voice.replies(caller.user_id, handoff_flow.close_by_staff(db, handoff, "staff", clock.now))
    talk().say("オペレーターと話す")  # HANDOFF_OPENED_AFTER_HOURS


def test_every_button_and_word_a_message_names_is_at_hand(app, voice, talk, mailbox, clock):
    """Newcomers, registration, account link, bills, notices, unlinking and a person, read as they are said."""
    _newcomer(talk)
    _registration(app, talk, mailbox)
    _refused_registrations(app, talk)
    mover = _web_customer_links(app, talk)
    _linked_customers(app, talk, mover)
    _a_person(app, voice, talk, clock)

    assert not voice.problems, "\n".join(voice.problems)
    said = "\n\n".join(voice.seen)
    missing = [name for name, text in naming_messages().items()
               if name not in NOT_DRIVEN and not pattern_of(text).search(said)]
    assert not missing, f"never said in the conversations (drive them, or list them in NOT_DRIVEN): {missing}"


def test_messages_not_driven_name_only_real_labels():
    """The few messages the conversations do not reach: every button they name exists (a quick reply,
    a button or a rich menu label), every word they say to send is one the conversation understands."""
    labels = {value for name, value in vars(messages).items()
              if isinstance(value, str) and (name.startswith("QR_") or name.endswith("_BUTTON"))}
    labels |= {area.label for menu in menus.MENUS.values() for area in menu.areas}
    for name in NOT_DRIVEN:
        for ref in references(getattr(messages, name)):
            ok = {"press": ref.label in labels, "send": understood(ref.label),
                  "either": ref.label in labels or understood(ref.label)}[ref.kind]
            assert ok, (name, ref)


def test_not_understood_suggest_offers_what_it_names():
    """NOT_UNDERSTOOD_SUGGEST is said with the buttons NOT_UNDERSTOOD has (a person and the menu)."""
    assert [ref.label for ref in references(messages.NOT_UNDERSTOOD_SUGGEST)] == \
        [ref.label for ref in references(messages.NOT_UNDERSTOOD)]


def test_every_driven_message_is_known_to_the_checker():
    """NOT_DRIVEN names only messages that exist and name something (no stale exemptions)."""
    assert set(NOT_DRIVEN) <= set(naming_messages())


# -- the rich menus --------------------------------------------------------------------------------
def test_the_rich_menus_send_words_the_conversation_understands_and_name_a_person_as_the_messages_do():
    for menu in menus.MENUS.values():
        for area in menu.areas:
            assert len(area.label) <= 20
            if isinstance(area.tap, menus.SendText):
                assert understood(area.tap.text), (menu.kind, area.label, area.tap.text)
        person = [area for area in menu.areas if area.icon == "chat"]
        assert [(a.label, a.tap) for a in person] == [(messages.QR_OPERATOR, menus.SendText(messages.QR_OPERATOR))]
        assert person[0].caption == messages.STAFFED_HOURS

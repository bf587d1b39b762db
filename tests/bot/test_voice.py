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
"""

from __future__ import annotations

import email.header
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import render_template

from bot import menus, messages
from bot.engine import CANCEL_WORDS
from bot.flows import all_flows, registration
from bot.flows import handoff as handoff_flow
from bot.normalize import command_text
from bot.types import TextReply
from bot.understanding.reader import read
from storage import handoffs, richmenus
from tests.bot.test_account_link import account_link_event, login_link_from_chat, nonce_from_redirect
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
from tests.helpers_registration import (
    NUMBER,
    PHONE,
    link_path,
    post_password,
    seed_customer,
    until_confirm,
    verify,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# What the customer reads on the web and in mail (the emulator's own pages are a developer's tool).
CUSTOMER_TEMPLATES = sorted([TEMPLATES / "base.html", TEMPLATES / "error.html",
                             *(TEMPLATES / "mypage").glob("*.html"), *(TEMPLATES / "register").glob("*.html")])
MAIL_TEMPLATES = sorted((TEMPLATES / "mail").glob("*.txt"))

# Quoted words that are not buttons nor words to send: printed documents, characters in a mail
# address, and the mail address's parts the customer typed.
NOT_LABELS = {"ご契約内容のお知らせ", "環境設定通知書", "@", ".", "example.jp", "{domain}", "{suggestion}",
              "{question}"}
# Labels on a web page that a chat message points to, and the page that must carry them.
WEB_LABELS = {"リマインダー": "/login"}
# Staff read these (Slack, the staff pane), not the customer.
STAFF_ONLY = ("UNDERSTOOD_", "INTENT_LABELS")
# Pieces other messages are built from, not messages of their own.
FRAGMENTS = {"TO_A_PERSON", "PHONE_DESK", "STAFFED_HOURS", "STAFFED_DAYS", "SUPPORT_HOURS_TEXT", "FREE_CALL",
             "REGISTRATION_MAIL", "MAIL_FOOTER", "MAIL_SENDER_NAME", "WEEKDAYS", "MINUS_SIGN"}
# Messages that name a button or a word but are not said in the conversations below, and why;
# ``test_messages_not_driven_name_only_real_labels`` checks them on their own.
NOT_DRIVEN = {
    "VERIFY_UNAVAILABLE": "said when Redis cannot be read (tests/bot/test_registration.py breaks it on purpose)",
    "NOT_UNDERSTOOD_SUGGEST": "needs an FAQ question near enough to suggest: the reader's thresholds decide, "
                              "and it is said with NOT_UNDERSTOOD's buttons (bot/flows/understand.py)",
    "WITHDRAWN_PUSH": "pushed by the web's 退会 (tests/ops/test_withdraw.py)",
    "BILL_NOTICE_FOOTNOTE": "on the monthly notice pushed by notify-bills (tests/line/test_notices.py)",
    "REGISTRATION_MAIL_BODY": "a mail: test_mails_name_only_real_labels reads it",
    "FORGOT_REMINDER": "said beside the operators' own FAQ answer about a forgotten password "
                       "(tests/understanding/test_chat.py)",
}

_EXAMPLE = re.compile(r"（例：[^）]*）")
_GROUP = re.compile(r"(?:「[^「」\n]+」(?:、|や|または|か)?)+")
_QUOTE = re.compile(r"「([^「」\n]+)」")
_PRESS = ("を押", "をタップ", "を選", "を、", "から", "は")
_SEND = ("と送", "と入力")


# -- what a message names ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """A label named in a text, and how: "press" (a button), "send" (words) or "either"."""

    label: str
    kind: str


def references(text: str) -> list[Reference]:
    """The labels ``text`` names for the customer to tap or send (examples in （例：…） are free text)."""
    text = _EXAMPLE.sub("", text)
    found = []
    for group in _GROUP.finditer(text):
        rest = re.sub(r"^の(?:いずれか|どれか)", "", text[group.end():])
        kind = "press" if rest.startswith(_PRESS) else "send" if rest.startswith(_SEND) else "either"
        found += [Reference(label, kind) for label in _QUOTE.findall(group.group(0))
                  if label not in NOT_LABELS and "{" not in label]  # {{ nickname }}: what the customer chose
    return found


def understood(words: str) -> bool:
    """Whether the conversation does something for ``words`` sent outside any flow, asked the way the
    engine asks: the engine's cancel words, the flows' own entry matchers (``Entry.match``, on the
    engine's command text), then the free-text reading (``ヘルプ`` and ``メニュー`` are read as the menu)."""
    key = command_text(words)
    if key in CANCEL_WORDS or any(entry.match(key) for flow in all_flows() for entry in flow.entries):
        return True
    return read(words, None).intent is not None


def customer_messages() -> dict[str, str]:
    """Every customer-facing text constant of ``bot.messages`` by name."""
    return {name: value for name, value in vars(messages).items()
            if isinstance(value, str) and not name.startswith("_") and not name.startswith(STAFF_ONLY)}


def naming_messages() -> dict[str, str]:
    """The messages that name a button or words (what the conversations must show in use)."""
    return {name: text for name, text in customer_messages().items()
            if name not in FRAGMENTS and any(ref.label not in WEB_LABELS for ref in references(text))}


def pattern_of(template: str) -> re.Pattern:
    """A message template as a pattern its said form matches (``{month}`` and the like match anything)."""
    return re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".*?", re.escape(template)), re.S)


# -- reading what LINE was sent ---------------------------------------------------------------------
def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def shown_texts(message: dict) -> list[str]:
    """The texts a LINE message shows: a text message's text, a Flex message's text boxes."""
    if message.get("type") == "text":
        return [message["text"]]
    return [node["text"] for node in _walk(message.get("contents", {})) if node.get("type") == "text"]


def button_labels(message: dict) -> set[str]:
    """The labels of the buttons and tappable boxes inside a Flex message."""
    return {node["action"]["label"] for node in _walk(message.get("contents", {}))
            if isinstance(node.get("action"), dict) and node["action"].get("label")}


def quick_replies(message: dict) -> dict[str, str]:
    """A message's quick replies: label -> the text a tap sends."""
    return {item["action"]["label"]: item["action"].get("text", "")
            for item in (message.get("quickReply") or {}).get("items", [])}


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
def test_every_button_and_word_a_message_names_is_at_hand(app, voice, talk, mailbox, clock):
    """Newcomers, registration, account link, bills, notices, unlinking and a person, read as they are said."""
    # A newcomer: the menu, the FAQ, what needs a link, free text, a sticker.
    newcomer = talk()
    newcomer.event(newcomer.user._event("follow", follow={"isUnblocked": False}))
    for words in ("ヘルプ", "よくある質問", "今月の料金", "ログインして連携", "通知設定", "連携解除", "メールを再送",
                  "ほげほげふがふが", "パスワードを忘れました"):
        newcomer.say(words)
    newcomer.voice.read(newcomer.user_id, newcomer.user.sticker())

    # Registration: help mid-flow, a mismatch, the confirmation, 仮登録, resends up to the limit.
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

    # Too many mismatches from one LINE user; a customer number refused for a day.
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

    # A customer already registered on the web: the reminder and the login buttons.
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

    # A linked customer: the menu, the FAQ, a bill, months, notices, unlinking.
    for words in ("ヘルプ", "よくある質問", "今月の料金", "料金一覧", "2019年5月の料金", "2026年3月の料金", "通知停止",
                  "通知停止", "通知設定", "通知再開", "通知再開", "通知設定", "連携解除", "はい", "連携解除する"):
        mover.say(words)
    empty = seed_customer_with_account(app, number="45678901", login_id="aicom_empty", email="empty@example.jp")
    nothing_yet = talk()
    seed_link(app, empty.account_id, nothing_yet.user_id)
    nothing_yet.say("今月の料金")

    # A person: within hours, handed back; open when the hours end, acknowledged; nobody answered;
    # closed by staff; and one asked for after hours.
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


# -- the rich menus -----------------------------------------------------------------------------------
def test_the_rich_menus_send_words_the_conversation_understands_and_name_a_person_as_the_messages_do():
    for menu in menus.MENUS.values():
        for area in menu.areas:
            assert len(area.label) <= 20
            if isinstance(area.tap, menus.SendText):
                assert understood(area.tap.text), (menu.kind, area.label, area.tap.text)
        person = [area for area in menu.areas if area.icon == "chat"]
        assert [(a.label, a.tap) for a in person] == [(messages.QR_OPERATOR, menus.SendText(messages.QR_OPERATOR))]
        assert person[0].caption == messages.STAFFED_HOURS


# -- the glossary's retired words -----------------------------------------------------------------
def _strip_template_comments(text: str) -> str:
    return re.sub(r"\{#.*?#\}|<!--.*?-->", "", text, flags=re.S)


def customer_copy() -> dict[str, str]:
    """Everything the customer reads, by where it lives: messages, rich menus, pages and mails."""
    copy = {f"messages.{name}": text for name, text in customer_messages().items()
            if name not in ("SUPPORT_HOURS_TEXT",)}  # the hours' digits, always said after 平日
    for menu in menus.MENUS.values():
        for area in menu.areas:
            copy[f"menus.{menu.kind}.{area.icon}"] = f"{area.label}\n{area.caption}"
        copy[f"menus.{menu.kind}.chat_bar"] = menu.chat_bar_text
    for path in (*CUSTOMER_TEMPLATES, *MAIL_TEMPLATES):
        copy[str(path.relative_to(TEMPLATES))] = _strip_template_comments(path.read_text(encoding="utf-8"))
    return copy


def _uses(text: str, term: str) -> bool:
    return bool(re.search(term[3:], text)) if term.startswith("re:") else term in text


@pytest.mark.parametrize("term", list(messages.RETIRED_TERMS))
def test_no_message_menu_page_or_mail_uses_a_retired_term(term):
    found = [where for where, text in customer_copy().items() if _uses(text, term)]
    assert not found, f"{term!r} is retired (say {messages.RETIRED_TERMS[term]!r}): {found}"


def test_the_retired_terms_are_caught_where_they_used_to_be():
    """The check itself: the old copy the issue quoted is caught."""
    old = {"「「問い合わせ」を押す」": "「問い合わせ」", "受付日時: 2026年": "re:[\\u3040-\\u30ff\\u4e00-\\u9fff]: ",
           "（受付時間：平日 {hours}）": "平日 ", "フリーコール 0120-00-6560（9:00〜17:00）": next(
               t for t in messages.RETIRED_TERMS if t.startswith("re:(?<!平日)(?<!\\d)\\d{1,2}:")),
           "{month}分のご請求": "re:\\{(?:month|latest)\\}分", "最大12か月分": "12か月",
           "あいコムこうか マイページ": "あいコムこうか マイページ", "明細を見る・請求内容を見る": "請求内容",
           "ご請求額と明細": "請求額", "（ハイフンなしでも可）": "でも可）"}
    for text, term in old.items():
        assert term in messages.RETIRED_TERMS and _uses(text, term), (text, term)


def test_the_glossary_terms_are_used():
    """The names the glossary chose are the ones in use."""
    copy = "\n".join(customer_copy().values())
    for word in ("「オペレーターと話す」", "明細を見る", "最大1年間", "確定", "仮登録受付完了メール",
                 messages.STAFFED_HOURS, "あいコムこうかマイページ", "半角英数記号", "1回だけ", "■受付日時："):
        assert word in copy, word
    assert messages.PHONE_DESK == "フリーコール 0120-00-6560（平日9:00〜17:00）"


# -- refusals and errors ------------------------------------------------------------------------------
def _filled(template: str) -> str:
    return template.format(free_call=messages.FREE_CALL, hours=messages.SUPPORT_HOURS_TEXT, month="2026年9月",
                           months="2026年11月", opening="本日9:00", latest="2026年10月")


@pytest.mark.parametrize("name", messages.REFUSALS)
def test_a_refusal_opens_with_an_apology_and_ends_with_what_to_do(name):
    text = _filled(getattr(messages, name))
    first_sentence = text.split("。", 1)[0]
    assert "申し訳ございません" in first_sentence, text
    last = re.sub(r"（[^）]*）$", "", text.rstrip().splitlines()[-1])
    assert last.endswith(("ください。", "お電話ください。")), text


@pytest.mark.parametrize("name", messages.NEEDS_A_PERSON)
def test_a_refusal_the_customer_cannot_get_past_offers_a_person(name):
    text = _filled(getattr(messages, name))
    assert messages.PHONE_DESK in text or f"「{messages.QR_OPERATOR}」" in text, text
    if messages.FREE_CALL in text:  # the phone always comes with its hours
        assert messages.STAFFED_HOURS in text, text


def test_verify_mismatch_stays_the_guides_sentence_and_the_retry_adds_its_advice():
    guide = "入力された内容が契約者情報と一致しません。もう一度お手元の登録書をご確認ください。"
    assert messages.VERIFY_MISMATCH == guide
    assert messages.PHONE_DESK in messages.VERIFY_RETRY


def test_register_start_says_what_the_guide_says():
    text = messages.REGISTER_START
    assert "インターネットをご契約の方は、「環境設定通知書」のユーザーID欄" in text
    assert "わからない場合は" in text and messages.PHONE_DESK in text


def test_a_tap_mid_registration_is_told_how_to_go_on_stop_or_reach_a_person(app, line_user):
    seed_customer(app)
    line_user.say("登録")
    for word in ("よくある質問", "ログインして連携"):  # the newcomers' rich menu, tapped mid-flow
        replies = line_user.say(word)
        assert replies[0]["text"] == messages.REGISTER_IN_PROGRESS
        assert "「キャンセル」" in replies[0]["text"] and messages.PHONE_DESK in replies[0]["text"]
        assert "「オペレーターと話す」と送る" in replies[0]["text"]
        assert "キャンセル" in quick_replies(replies[-1])


@pytest.mark.parametrize(("template", "context", "alert"), [
    ("error.html", {"kind": "not_found"}, "お探しのページは見つかりませんでした"),
    ("error.html", {"kind": "method"}, "直接開くことができません"),
    ("error.html", {"kind": "csrf"}, "送信できませんでした"),
    ("mypage/login.html", {"error": "unavailable"}, "ただいまログインできません"),
    ("mypage/login.html", {"error": "throttled"}, "しばらくログインできません"),
    ("mypage/unavailable.html", {"kind": "unavailable"}, "マイページをご利用いただけません"),
    ("mypage/unavailable.html", {"kind": "error"}, "表示できませんでした"),
    ("register/invalid.html", {"kind": "expired", "valid_for": "24時間"}, "本登録の有効期限"),
    ("register/invalid.html", {"kind": "used", "valid_for": "24時間"}, "使えなくなりました"),
    ("register/invalid.html", {"kind": "missing", "valid_for": "24時間"}, "見つかりませんでした"),
    ("mypage/reset_invalid.html", {"status": "expired"}, "URLの有効期限（30分）"),
    ("mypage/settings_email_invalid.html", {"status": "used"}, "すでに使われている"),
])
def test_an_error_page_apologises_and_shows_the_way_forward(app, template, context, alert):
    with app.test_request_context("/"):
        html = render_template(template, **context)
    main = re.sub(r"<[^>]+>", "", html[html.index("<main"):html.index("</main>")])
    opening = main[:main.index(alert)]
    assert "申し訳ございません" in opening.rsplit("\n", 1)[-1], main  # the sentence that says it apologises
    assert "ください" in main[main.index(alert):], main  # and what to do follows
    footer = re.sub(r"<[^>]+>", "", html[html.index("<footer"):])
    assert messages.PHONE_DESK in footer  # every page ends with the phone and its hours


def test_the_404_page_leads_somewhere(client):
    response = client.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "申し訳ございません" in html and 'href="/"' in html and "0120-00-6560" in html


# -- pages and mails name real labels ---------------------------------------------------------------
def _page_labels(html: str) -> set[str]:
    """The texts of a page's buttons and links (what 「…」を押して can mean on the web)."""
    return {re.sub(r"<[^>]+>|\s+", "", inner) for inner in re.findall(r"<(?:button|a)\b[^>]*>(.*?)</(?:button|a)>",
                                                                          html, re.S)}


def test_pages_name_only_their_own_buttons_or_the_chats_words():
    every_page_label = set().union(*(_page_labels(p.read_text(encoding="utf-8")) for p in CUSTOMER_TEMPLATES))
    chat_labels = {area.label for menu in menus.MENUS.values() for area in menu.areas}
    for path in CUSTOMER_TEMPLATES:
        html = _strip_template_comments(path.read_text(encoding="utf-8"))
        own = _page_labels(html)
        text = re.sub(r"<[^>]+>", "", html)
        for ref in references(text):
            assert ref.label in own or understood(ref.label) or ref.label in chat_labels \
                or ref.label in every_page_label, (path.name, ref)


def test_mails_name_only_real_labels():
    page_labels = set().union(*(_page_labels(p.read_text(encoding="utf-8")) for p in CUSTOMER_TEMPLATES))
    for name, text in [*((p.name, p.read_text(encoding="utf-8")) for p in MAIL_TEMPLATES),
                       ("REGISTRATION_MAIL_BODY", messages.REGISTRATION_MAIL_BODY)]:
        for ref in references(text):
            assert ref.label in page_labels or understood(ref.label), (name, ref)


def test_web_labels_named_in_the_chat_are_on_their_page(client):
    for label, path in WEB_LABELS.items():
        assert label in _page_labels(client.get(path).get_data(as_text=True)), (label, path)


# -- mail -------------------------------------------------------------------------------------------
def test_every_mail_ends_with_the_footer_and_its_send_only_line(app):
    from handlers.mail import render_mail

    with app.test_request_context("/"):
        for path in MAIL_TEMPLATES:
            subject, body = render_mail(f"mail/{path.name}", name="アイコム タロウ", nickname="たろう",
                                        login_id="aicom_taro", login_url="http://x/login", reset_url="http://x/r",
                                        minutes=30, confirm_url="http://x/c", valid_for="24時間",
                                        changed_at="2026年11月25日 10:00", new_email="new@example.jp",
                                        reminder_url="http://x/reminder")
            assert subject.startswith("【あいコムこうかマイページ】"), path.name
            assert body.endswith(messages.MAIL_FOOTER) and "送信専用" in body, path.name
    assert messages.REGISTRATION_MAIL_BODY.endswith(messages.MAIL_FOOTER)
    assert "■受付日時：" in messages.REGISTRATION_MAIL_BODY


def test_the_mail_sender_is_named_in_japanese_over_real_smtp(make_app, smtp_server, mailbox, monkeypatch, tmp_path):
    """The default sender (app.py) is あいコムこうかマイページ; a mail our code sends over SMTP carries it
    in an RFC 2047 encoded word (the header itself stays ASCII), and it decodes back to the name."""
    from app import _env_config
    from handlers.mail import send

    monkeypatch.delenv("MAIL_FROM", raising=False)
    default = _env_config(str(tmp_path))["MAIL_FROM"]
    assert default == f"{messages.MAIL_SENDER_NAME} <noreply@aicom-koka.jp>"
    application = make_app(MAIL_FROM=default)
    send(application.config, "taro@example.jp", messages.REGISTRATION_MAIL_SUBJECT, "本文")
    [raw] = mailbox.raw
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    [from_line] = [line for line in head.split(b"\r\n") if line.lower().startswith(b"from:")]
    assert from_line.isascii() and b"=?utf-8?" in from_line.lower(), from_line
    decoded = str(email.header.make_header(email.header.decode_header(from_line[5:].decode("ascii").strip())))
    assert decoded == "あいコムこうかマイページ <noreply@aicom-koka.jp>"
    [received] = mailbox.messages
    assert received["From"].addresses[0].display_name == "あいコムこうかマイページ"
    assert received["From"].addresses[0].addr_spec == "noreply@aicom-koka.jp"
    assert str(received["Subject"]) == messages.REGISTRATION_MAIL_SUBJECT


def test_the_registration_mail_over_smtp_is_from_the_japanese_sender(app, line_user, mailbox):
    """The conftest app sends as the default does: the 仮登録 mail arrives from あいコムこうかマイページ."""
    seed_customer(app)
    until_confirm(line_user)
    line_user.say("仮登録する")
    drain_jobs(app)
    [mail] = mailbox.wait(1)
    assert mail["From"].addresses[0].display_name == messages.MAIL_SENDER_NAME
    assert "■受付日時：" in Mailbox.body(mail) and "送信専用" in Mailbox.body(mail)


def test_provisional_done_names_the_registration_mail():
    assert messages.REGISTRATION_MAIL in messages.PROVISIONAL_DONE
    assert messages.REGISTRATION_MAIL_SUBJECT.endswith("仮登録受付完了")

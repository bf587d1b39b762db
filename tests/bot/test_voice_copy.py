"""One voice: no retired term anywhere the customer reads, the glossary's terms in use, real labels on pages."""

from __future__ import annotations

import re

import pytest

from bot import menus, messages
from tests.bot.voice_reading import (
    CUSTOMER_TEMPLATES,
    MAIL_TEMPLATES,
    TEMPLATES,
    WEB_LABELS,
    customer_messages,
    references,
    understood,
)


# -- the glossary's retired words ------------------------------------------------------------------
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


# -- pages and mails name real labels --------------------------------------------------------------
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

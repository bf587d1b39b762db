"""What a chat message names for the customer to tap or send, and what LINE shows them: the voice tests' reading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot import messages
from bot.engine import CANCEL_WORDS
from bot.flows import all_flows
from bot.normalize import command_text
from bot.understanding.reader import read

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

_EXAMPLE = re.compile(r"（例：[^）]*）")
_GROUP = re.compile(r"(?:「[^「」\n]+」(?:、|や|または|か)?)+")
_QUOTE = re.compile(r"「([^「」\n]+)」")
_PRESS = ("を押", "をタップ", "を選", "を、", "から", "は")
_SEND = ("と送", "と入力")


# -- what a message names --------------------------------------------------------------------------
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


# -- reading what LINE was sent --------------------------------------------------------------------
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

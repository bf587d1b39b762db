"""The お客様メニュー as two rich menus: one definition, platform-neutral.

The printed guide's お客様メニューリスト becomes the panel under the chat. Newcomers (not yet
linked to a My Page account) get registration first; linked customers get their bills.
A tap does what typing does: each area sends the same words a customer could type (every
word is one the flows understand, see ``tests/bot/test_voice.py``), except マイページ,
which opens the web My Page. Labels and captions follow the glossary in ``bot.messages``: the
way to a person is labelled and sends 「オペレーターと話す」, the words every message names.

Areas are in pixels of LINE's canvas (2500 wide; 1686 or 843 high). The LINE edge turns
this into a rich menu object and draws the image from the same values, so the picture and
the tappable areas cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import messages

NEWCOMER = "newcomer"
LINKED = "linked"
KINDS = (NEWCOMER, LINKED)

WIDTH = 2500
FULL_HEIGHT = 1686
COMPACT_HEIGHT = 843


@dataclass(frozen=True)
class SendText:
    """The tap sends ``text`` as if typed."""

    text: str


@dataclass(frozen=True)
class OpenPage:
    """The tap opens a page of ours (``path`` under PUBLIC_BASE_URL)."""

    path: str


@dataclass(frozen=True)
class Area:
    """One tappable area: where it is (pixels), what it says, what a tap does."""

    x: int
    y: int
    width: int
    height: int
    label: str  # the big words on the image; also the action's label (≤ 20 characters)
    caption: str  # a short line under the label
    icon: str  # the picture drawn above the label (a name the image drawer knows)
    tap: SendText | OpenPage
    primary: bool = False  # drawn in the accent colour: the one thing to do first


@dataclass(frozen=True)
class Menu:
    """One rich menu: its kind, canvas, chat bar text and areas."""

    kind: str
    width: int
    height: int
    chat_bar_text: str  # ≤ 14 characters
    areas: tuple[Area, ...]


def _grid(columns: int, rows: int, height: int, top: int = 0) -> list[tuple[int, int, int, int]]:
    """Cells of an even grid (left to right, top to bottom); the last column/row takes the remainder."""
    cells = []
    row_height = height // rows
    col_width = WIDTH // columns
    for row in range(rows):
        for col in range(columns):
            x, y = col * col_width, top + row * row_height
            w = WIDTH - x if col == columns - 1 else col_width
            h = top + height - y if row == rows - 1 else row_height
            cells.append((x, y, w, h))
    return cells


MY_PAGE_PATH = "/mypage"  # asks for login first when the browser is not logged in

_bottom = _grid(3, 1, FULL_HEIGHT - COMPACT_HEIGHT, top=COMPACT_HEIGHT)
NEWCOMER_MENU = Menu(
    kind=NEWCOMER,
    width=WIDTH,
    height=FULL_HEIGHT,
    chat_bar_text="メニュー",
    areas=(
        Area(0, 0, WIDTH, COMPACT_HEIGHT, "登録する", "マイページに無料で登録", "register", SendText("登録"),
             primary=True),
        Area(*_bottom[0], "ログインして連携", "マイページをお使いの方", "link", SendText("ログインして連携")),
        Area(*_bottom[1], "よくある質問", "登録の前に", "question", SendText("よくある質問")),
        Area(*_bottom[2], messages.QR_OPERATOR, messages.STAFFED_HOURS, "chat", SendText(messages.QR_OPERATOR)),
    ),
)

_cells = _grid(3, 2, FULL_HEIGHT)
LINKED_MENU = Menu(
    kind=LINKED,
    width=WIDTH,
    height=FULL_HEIGHT,
    chat_bar_text="メニュー",
    areas=(
        Area(*_cells[0], "今月の料金", "ご請求金額と明細", "yen", SendText("今月の料金"), primary=True),
        Area(*_cells[1], "料金一覧", "最大1年間", "list", SendText("料金一覧")),
        Area(*_cells[2], "通知設定", "ご請求のお知らせ", "bell", SendText("通知設定")),
        Area(*_cells[3], "マイページ", "ブラウザで開く", "home", OpenPage(MY_PAGE_PATH)),
        Area(*_cells[4], messages.QR_OPERATOR, messages.STAFFED_HOURS, "chat", SendText(messages.QR_OPERATOR)),
        Area(*_cells[5], "ヘルプ", "使い方", "help", SendText("ヘルプ")),
    ),
)

MENUS = {NEWCOMER: NEWCOMER_MENU, LINKED: LINKED_MENU}


def menu_for(linked: bool) -> Menu:
    """The menu a customer should see."""
    return LINKED_MENU if linked else NEWCOMER_MENU


def tap_words() -> tuple[str, ...]:
    """Every text a menu tap sends (a flow that is asking a question must not take these as answers)."""
    return tuple(dict.fromkeys(area.tap.text for menu in MENUS.values() for area in menu.areas
                               if isinstance(area.tap, SendText)))

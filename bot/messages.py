"""Every sentence the customer reads in the chat (and in the bot's mails), in one place.

Voice: polite です・ます, warm but brief, one purpose per message, what to type or tap
comes last. Money as ``5,280円``, months as ``2026年11月``, the free-call number always
as ``0120-00-6560``. Templates use ``str.format`` fields named for what they carry.
"""

from __future__ import annotations

from datetime import date, datetime

FREE_CALL = "0120-00-6560"
SUPPORT_HOURS_TEXT = "9:00〜17:00"


def yen(amount: int) -> str:
    """``5280`` -> ``5,280円`` (negative amounts keep their sign: ``-500円``)."""
    return f"{amount:,}円"


def month_label(month: date) -> str:
    """``date(2026, 11, 1)`` -> ``2026年11月``."""
    return f"{month.year}年{month.month}月"


def date_label(day: date) -> str:
    """``date(2026, 12, 27)`` -> ``2026年12月27日``."""
    return f"{day.year}年{day.month}月{day.day}日"


def datetime_label(moment: datetime) -> str:
    """A Tokyo time as ``2026年11月25日 14:05``."""
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}:{moment.minute:02d}"


# -- buttons and quick replies (20 characters at most) -------------------------------------
QR_REGISTER = "登録"
QR_THIS_MONTH = "今月の料金"
QR_BILL_LIST = "料金一覧"
QR_HELP = "ヘルプ"
QR_CANCEL = "キャンセル"
QR_OPERATOR = "オペレーターと話す"

# -- general ---------------------------------------------------------------------------------
GREETING = (
    "あいコムこうか公式アカウントです。友だち追加ありがとうございます。\n"
    "こちらのトークで、月々のご利用料金の確認やマイページの登録ができます。"
)
MENU_UNLINKED = (
    "ご用件をお選びください。\n"
    "・マイページの登録：「登録」\n"
    "・ご利用料金の確認（登録後）：「今月の料金」\n"
    "・このご案内：「ヘルプ」"
)
MENU_LINKED = (
    "ご用件をお選びください。\n"
    "・今月のご利用料金：「今月の料金」\n"
    "・過去12か月の料金：「料金一覧」\n"
    "・先月や指定の月：「先月の料金」「2026年9月の料金」\n"
    "・このご案内：「ヘルプ」"
)
NOT_TEXT = "申し訳ございません。スタンプや画像にはお答えできません。文字でご用件をお送りください。"
NOT_TEXT_IN_FLOW = "申し訳ございません。スタンプや画像は受け付けていません。文字で入力してください。"
CANCELLED = "手続きを中止しました。入力いただいた内容は破棄しました。"
NOTHING_TO_CANCEL = "現在お手続き中の内容はありません。"
SESSION_EXPIRED = (
    "30分間操作がなかったため、お手続きを終了しました。お手数ですが、はじめからやり直してください。"
)
BUSY_RETRY = (
    "申し訳ございません。ただいまシステムが混み合っています。\n"
    "少し時間をおいて、もう一度お送りください。"
)

# -- registration (issue 3) -----------------------------------------------------------------

# -- bills (issue 4) --------------------------------------------------------------------------

# -- account link and unlink (issues 3, 4) ------------------------------------------------------

# -- mails ------------------------------------------------------------------------------------

"""The intents the bot acts on, and the rules that score them from an ``Analysis``.

Each rule reads concepts (``lexicon``) and the month slot, and gives a score between 0 and 1:
``SURE`` (0.9 and above) means the text plainly asks for that action; lower scores are
readings that an FAQ entry may beat. A rule steps aside (scores ``ASIDE``) when the text is
about something an FAQ answers instead: 「料金プランを変えたい」 names 料金 but asks about
plans, 「いつ引き落とされる？」 names the debit but asks for a date.

Intent names are the contract between this module, the flows (``Entry.intent``) and the
labelled set in ``tests/data/understanding.csv``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.understanding.analysis import Analysis
from bot.understanding.months import MonthSlot

BILL_THIS_MONTH = "bill.this_month"
BILL_LAST_MONTH = "bill.last_month"
BILL_MONTH = "bill.month"
BILL_LIST = "bill.list"
REGISTER = "register"
LINK = "link"
UNLINK = "unlink"
HANDOFF = "handoff"
NOTICES_STOP = "notices.stop"
NOTICES_RESUME = "notices.resume"
NOTICES_SETTINGS = "notices.settings"
HELP = "help"
GREETING = "greeting"
THANKS = "thanks"
FORGOT = "forgot"

# Intents that do something for the customer (a bill, a flow, a person, the reminder page's link):
# when sure, they win over any FAQ entry. Small talk (greeting, thanks) gives way to an FAQ entry
# on a named topic.
ACTIONS = frozenset({BILL_THIS_MONTH, BILL_LAST_MONTH, BILL_MONTH, BILL_LIST, REGISTER, LINK, UNLINK, HANDOFF,
                     NOTICES_STOP, NOTICES_RESUME, NOTICES_SETTINGS, HELP, FORGOT})

SURE = 0.9
LIKELY = 0.8
ASIDE = 0.45

# Topics an FAQ answers: a text about one of these is not a bill, registration or help request.
FAQ_TOPICS = frozenset({"plan", "method", "late", "move", "cancel", "internet", "tv", "trouble", "slow",
                         "channel", "outage", "equipment", "contact", "needed", "customer_number", "name", "wifi",
                         "absence", "home_phone", "security", "parental", "construction", "recording", "high_quality",
                         "nhk", "paperless", "prorate", "visit", "cas_card", "discount", "lightning", "remote",
                         "lamp", "ipv6", "fixed_ip", "port", "apartment", "contract_term", "campaign", "second_tv",
                         "mobile", "data_volume", "electricity", "lost", "power_cut", "call_rate", "international",
                         "unstable", "send_fail", "pdf", "price_change", "storm", "reschedule", "area",
                         "points", "instalment", "join", "isp_mail", "refund"})
# The services themselves: a bill question may name them; a problem with them is an FAQ's.
SERVICES = frozenset({"internet", "tv", "equipment", "channel"})
PROBLEMS = FAQ_TOPICS - SERVICES - {"name"}
# What makes a text about something an FAQ entry may answer better than a likely intent (``reader``).
TOPICAL = FAQ_TOPICS | {"cost", "mail", "not_arrive", "customer_number", "invoice", "debit", "period", "phone"}
# What a query is about, weighing most in FAQ ranking (``faq``): the topics, and "I already use it"
# (weighing 変更 too was measured: worse on four sets of six).
WEIGHTED = TOPICAL | {"already"}
# Texts that are only a greeting or thanks are short; longer ones say something else as well.
_SHORT = 14
# 「また届くように」「再開」 outweigh the 止めた that explains them; 「オンかオフか」 asks the setting.
_RESUME_STRONG = re.compile(r"再開|さいかい|サイカイ|また(?![、，,])|再び|ふたたび|再度|もう一度|もういちど|"
                            r"もういっぺん|戻|復活|"
                            r"届くように|来るように|くるように|停止を(?:取り消|取消|解除|やめ|撤回)|改めて|あらためて|"
                            r"もう一回|もういっかい|始めたい|はじめたい|ふっかつ")
_FAREWELL = re.compile(r"また(?:よろし|宜し|お願い|おねがい)")  # a thanks that signs off, not a greeting
_NUMBER_OR_HOURS = re.compile(r"番号|電話|何時|受付時間|営業時間")
# 「電話で相談したい、番号は？」, 「お店で相談したい、営業所ってどこ？」: the number, the hours or the place
_ASKS_NUMBER = re.compile(r"番号|ばんごう|何番|何時|受付時間|営業時間|どこ|場所|ばしょ")
_AMOUNT = re.compile(r"いくら|幾ら|何円|なんえん|金額|請求額|額|どのくらい|どれくらい|なんぼ|どんだけ")
# A month as the time something happens (「3月末に引っ越します」「4月から転勤で」), not the bill's month.
_MONTH_AS_A_DATE = re.compile(r"月(?:末|初め|はじめ|上旬|中旬|下旬|頃|ごろ|半ば|いっぱい)"
                              r"|月に[^、。?？!！]{0,8}?(?:引っ?越|転勤|移|入院|工事|転居)|月から(?:転勤|入院|単身|海外|留守)")
# 「支払いってコンビニでもできる？」 asks how paying works, not what the bill is.
_CAN = re.compile(r"できる|できます|出来る|出来ます|可能|使える|使えます")
_SHOW = re.compile(r"見|教え|知りたい|確認|出して")
_OTHER_BILL = re.compile(r"電気|電力|ガス|水道|携帯|ケータイ|スマホ|家賃|機種|カードの|保険料|税|ローン|会費|"
                         r"給料|年金の額|ドコモ|docomo|ソフトバンク|softbank|楽天モバイル|ahamo|povo|ワイモバ|"
                         r"uqモバイル|(?<![a-z])au(?![a-z])")  # another company's bill: a phone carrier's
# The price of something no operator sells (「お城の入場料っていくら？」): not a bill of ours.
_OTHER_PRICE = re.compile(r"入場料|入園料|入館料|拝観料|駐車料|駐車場代|授業料|送料|運賃|交通費|チケット|参加費|"
                          r"入場券|乗車券|宿泊|ホテル代|診察代|治療費")
_ADDING = re.compile(r"増え|足し|足す|追加|加え|付け")
_REISSUE = re.compile(r"なくし|無くし|失くし|紛失|再発行|もう一回|もう一度|もういっかい|郵送|印刷|発行")
_INTO_THIS_CHAT = re.compile(r"(この|こちらの)(line|ライン|トーク|アカウント)(に|で|から|と)")
_WANTS_IT_IN_LINE = re.compile(r"使えるように|見たい|見れるように|見られるように|連携して|つなげて|繋げて|一緒に")
_UNDO = re.compile(r"元に戻|もとに戻|取り消|間違えて連携|間違って連携")
_IMPOSSIBLE_MONTH = re.compile(r"\d+\s?月|\d{4}\s?[/\-.]\s?\d+")
_ON_OR_OFF = re.compile(r"オンかオフ|オン\?オフ|オン・オフ|オンオフ|"
                        r"オンになって|オフになって|オンになっと|どうなって|どっち|止まってる\?|止まっている\?|"
                        r"どういう設定|設定になって|設定か|調べて|状態か|ようになってる|ようになっている|有効になって|"
                        r"有効か|中か")


@dataclass(frozen=True)
class IntentScore:
    """One reading of the text: the intent, how sure, and its month (bill intents only)."""

    intent: str
    score: float
    month: MonthSlot | None = None
    ambiguous: bool = False  # the likeliest of several (料金 alone): offer the others too
    why: str = ""


def _bill(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    slot = a.month
    asked_for_bill = "bill" in c
    if not asked_for_bill and slot is None:
        if "list" in c and len(a.core) <= 6 and not c & FAQ_TOPICS:  # 「履歴」「一覧」 alone
            return [IntentScore(BILL_LIST, LIKELY, why="a list alone")]
        return []
    if slot is None and _IMPOSSIBLE_MONTH.search(a.text):
        return []  # 「13月の料金」: not this month's bill; not understood, with the menu offered
    topics = c & (FAQ_TOPICS | {"elsewhere", "register", "notice", "link", "person"})
    if _OTHER_PRICE.search(a.text) and "ours" not in c:
        topics = topics | {"elsewhere"}
    if asked_for_bill and not topics & PROBLEMS:
        topics = topics - SERVICES  # 「ネット代とテレビ代あわせていくら？」 names the services, asks the bill
    if "cost" in c and c & {"mypage", "register"}:
        topics = topics | {"cost"}
    if "invoice" in c and (slot is None or _REISSUE.search(a.core)):  # 「先月の請求書なくした、もう一回もらえる？」
        topics = topics | {"invoice"}
    if slot is None and _CAN.search(a.core) and not _AMOUNT.search(a.core) and not _SHOW.search(a.core):
        topics = topics | {"can+how"}
    if "channel" in c and _ADDING.search(a.core):  # 「チャンネル足したら月いくら増える？」 asks a price, not the bill
        topics = topics | {"channel+adding"}
    if "when" in c and ("debit" in c or slot is None):
        topics = topics | {"debit+when"}
    if not asked_for_bill:
        # A month alone (「8月は？」「先月分」), or asked to be shown (「8月のを見たい」), is a bill; a month
        # in a sentence about anything else is not.
        if topics or (slot.offset is not None and slot.offset > 0) or (len(a.core) > 10 and "question" not in c):
            return []
        return [_bill_for_slot(slot, LIKELY, "a month alone")]
    if "stop" in c and slot is None and not topics - {"notice"} and not c & {"cancel", "link"} \
            and not _RESUME_STRONG.search(a.core) and not _ON_OR_OFF.search(a.core) \
            and not {"settings", "question"} <= c:  # 「請求のお知らせ、オフにしてたっけ？確認したい」 asks
        # 「毎月くる請求のやつ、オフにしといて」: stopping something about the bill is the notice
        return [IntentScore(NOTICES_STOP, SURE if c & {"notice", "line"} else LIKELY,
                            why="bill words + stop: the monthly notice")]
    if slot is not None and _AMOUNT.search(a.core) and not topics & {"notice", "invoice"} \
            and not ("elsewhere" in topics and _OTHER_BILL.search(a.text)) \
            and not (slot.offset is not None and slot.offset > 0 and topics) \
            and not (topics & FAQ_TOPICS and _MONTH_AS_A_DATE.search(a.text)):  # 「コース上げたら来月いくら？」
        # 「引越しの準備で…今月の請求いくらになってる？」「年金暮らしで…今月の請求額は？」 ask the amount all
        # the same; 「先月の電気代いくら？」 asks another company's.
        topics = set()
    score = ASIDE if topics else SURE
    why = "bill words" + (f", but about {'/'.join(sorted(topics))}" if topics else "")
    if "list" in c:
        return [IntentScore(BILL_LIST, score, why=why + ", list")]
    if slot is not None:
        return [_bill_for_slot(slot, score, why + ", a month")]
    # 「料金」「いくら？」 alone: this month is likeliest; offer last month and the list too. Without a
    # month it is not sure: an FAQ entry that explains the text well (「NHKの受信料は料金に入ってる？」) wins.
    return [IntentScore(BILL_THIS_MONTH, min(score, LIKELY), ambiguous=True, why=why + ", no month")]


def _bill_for_slot(slot: MonthSlot, score: float, why: str) -> IntentScore:
    if slot.offset == 0:
        return IntentScore(BILL_THIS_MONTH, score, slot, why=why)
    if slot.offset == -1:
        return IntentScore(BILL_LAST_MONTH, score, slot, why=why)
    return IntentScore(BILL_MONTH, score, slot, why=why)


# A member of the web page asking what to do here: the FAQ's question for existing members.
_A_MEMBER = frozenset({"already", "mypage"})
# The paper bill one already reads is why the chat's notices may stop (「紙で見てるから通知はいらない」).
_READS_PAPER = re.compile(r"紙で(?:見|確認|読|届|もら|十分)|紙でも|紙の[^、。]{0,6}(?:で十分|届いて|が届|も届|がある)")


def _notices(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    if "notice" not in c:
        return []
    on_paper = bool(c & {"invoice", "paperless"}) and "line" not in c and not _READS_PAPER.search(a.core)
    the_pages = on_paper or _A_MEMBER <= c  # 「マイページ登録済みの人向けの案内ある？」 is the page's FAQ
    score = ASIDE if the_pages or c & ({"mail", "link", "elsewhere"} | FAQ_TOPICS) - {"cancel"} else SURE
    # An explicit stop or resume of the notice is meant whatever else the sentence says
    # (「通知止めたら払い忘れそうになったので、再開させてください」); a notice of a service stopping is an
    # outage's (「夜間に一時停止になるというお知らせを見ました」); a notice on paper is the invoice's
    # (「お知らせを紙で送ってほしい」).
    explicit = SURE if not the_pages and not c & {"link", "elsewhere", "mail", "outage", "construction"} else score
    if "bill" in c and a.month is not None and not c & {"stop", "resume", "settings"}:
        return []  # 「本年四月分の使用料をお知らせ願えますか」: お知らせ here means "tell me"
    if _ON_OR_OFF.search(a.core):
        return [IntentScore(NOTICES_SETTINGS, score, why="notice + asks the setting")]
    if _RESUME_STRONG.search(a.core):
        return [IntentScore(NOTICES_RESUME, explicit, why="notice + resume")]
    if "settings" in c and "question" in c:
        return [IntentScore(NOTICES_SETTINGS, score, why="notice + asks the setting")]
    if "resume" in c and "stop" not in c:
        return [IntentScore(NOTICES_RESUME, score, why="notice + resume")]
    if "stop" in c:
        return [IntentScore(NOTICES_STOP, explicit + 0.05, why="notice + stop")]
    if "settings" in c:
        return [IntentScore(NOTICES_SETTINGS, score, why="notice + settings")]
    return [IntentScore(NOTICES_SETTINGS, min(score, 0.7), why="notice alone")]


def _links(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    both = "mypage" in c and "line" in c
    # 「ネットのマイページとこのLINE、つなげて」: with both named, ネット is the web My Page's.
    explicit = "link" in c or ("connect" in c and c & {"mypage", "line"}
                               and (both or not c & {"internet", "tv", "person"}))
    if "notice" in c and "link" not in c:
        return []
    if not explicit and both and "stop" in c:  # 「このラインとマイページ切り離して」
        explicit = True
    if not explicit and both and "credential" in c and not c & {"forget", "cant_login", "stop"} \
            and _INTO_THIS_CHAT.search(a.text):  # 「マイページのIDでこのLINEにログインしたい」
        explicit = True
    if not explicit and "already" in c and "line" in c and "stop" not in c:
        # 「IDはあるからLINEでも見たい」 asks for the link; 「LINEでは何をすれば？」 is the FAQ's question.
        wants = bool(_WANTS_IT_IN_LINE.search(a.text))
        return [IntentScore(LINK, LIKELY if wants else 0.5, why="already a My Page user, in LINE")]
    if not explicit:
        return []
    # 「ネットのマイページ」 is the web My Page; a phone's 機種変更 is only why they unlink.
    # 「LINEとお客様番号を紐付けたい」: the customer number or holder is what is linked, not a topic.
    aside = bool(c & (FAQ_TOPICS | {"cost"}) - {"cancel"} - (SERVICES if "mypage" in c or "line" in c else set())
                 - ({"customer_number", "name"} if "line" in c and "link" in c else set())
                 - ({"mobile"} if "line" in c else set()))  # 「スマホのLINEでも見たい」: the phone LINE runs on
    if "stop" in c or "cancel" in c or _UNDO.search(a.text):
        return [IntentScore(UNLINK, ASIDE if aside else SURE + 0.05, why="link + stop")]
    return [IntentScore(LINK, ASIDE if aside else SURE, why="link")]


def _handoff(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    if "elsewhere" in c:
        return []
    if "person" in c and "already" not in c and (c & {"talk", "inquiry"} or len(a.core) <= 12):
        asks_number = "contact" in c and _NUMBER_OR_HOURS.search(a.core)  # 「担当者の電話番号は？」
        return [IntentScore(HANDOFF, 0.6 if asks_number else SURE + 0.05, why="a person")]
    if "inquiry" in c:
        # 「問い合わせの電話、何時まで？」「電話で相談したい、番号は？」 ask the hours or the number, not a person
        aside = c & (FAQ_TOPICS | {"cost", "when"}) or _ASKS_NUMBER.search(a.core)
        return [IntentScore(HANDOFF, ASIDE if aside else LIKELY, why="asks to inquire")]
    if "person" in c or "talk" in c:
        return [IntentScore(HANDOFF, ASIDE, why="a person or talk, in a sentence about something else")]
    return []


# Seeing bills on the web is why one registers for the page (「請求をネットで見たくて、マイページに登録したい」),
# not another matter.
_WHY_REGISTER = frozenset({"paperless", "internet"})


def _register(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    if "register" not in c and not ("mypage" in c and "start" in c):  # 「マイページを作りたい」
        return []
    topics = c & FAQ_TOPICS - (_WHY_REGISTER if "mypage" in c else frozenset())
    if topics or c & {"change", "cost", "needed", "customer_number", "mail", "already", "forget", "not_arrive",
                      "credential", "cant_login", "elsewhere", "notice", "link", "connect", "name", "phone"}:
        return [IntentScore(REGISTER, ASIDE, why="registration words, about something else")]
    return [IntentScore(REGISTER, SURE, why="registration")]


def _forgot(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    if c & {"wifi", "elsewhere", "equipment"}:
        return []
    if "credential" in c and "forget" in c:
        return [IntentScore(FORGOT, SURE, why="forgot ID/password")]
    if "cant_login" in c and not c & (FAQ_TOPICS - {"trouble"}) \
            and not ({"mail", "not_arrive"} <= c and "credential" not in c):  # not 「NHKの分、一緒にできへんの？」
        return [IntentScore(FORGOT, LIKELY + 0.05, why="cannot log in")]
    if "credential" in c and "mypage" in c and "question" in c and not c & {"change", "register", "start"}:
        return [IntentScore(FORGOT, LIKELY, why="asks for the My Page ID or password")]
    return []


def _help(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    if "help" not in c:
        return []
    aside = c & (FAQ_TOPICS | {"elsewhere", "mail"}) or _A_MEMBER <= c  # 「マイページ会員だけど、ここで何か要る？」
    return [IntentScore(HELP, ASIDE if aside else SURE, why="help")]


def _small_talk(a: Analysis) -> list[IntentScore]:
    c = a.concepts
    found = []
    short = len(a.core) <= _SHORT
    if "greeting" in c:
        # 「初めまして。このLINEは初めて使います」「いつもテレビ楽しく見てます、こんにちは」
        alone = not c - {"greeting", "question", "line", "thanks", "start", "when"} - SERVICES
        if not ("thanks" in c and _FAREWELL.search(a.core)):
            found.append(IntentScore(GREETING, SURE if short or alone else 0.55, why="greeting"))
    if "thanks" in c and ("greeting" not in c or _FAREWELL.search(a.core)):  # 「おおきに、またよろしゅう」
        alone = not c - {"thanks", "question"}  # 「ご丁寧に恐れ入ります。大変助かりました」
        found.append(IntentScore(THANKS, SURE if short else (0.7 if alone else 0.55), why="thanks"))
    return found


_RULES = (_bill, _notices, _links, _handoff, _register, _forgot, _help, _small_talk)


def score_intents(a: Analysis) -> list[IntentScore]:
    """Every intent some rule reads in ``a``, best first."""
    found = [score for rule in _RULES for score in rule(a)]
    # Small talk inside a request (「こんにちは、今月の料金を教えて」) gives way to the request.
    if any(s.intent not in (GREETING, THANKS) and s.score >= LIKELY for s in found):
        found = [s for s in found if s.intent not in (GREETING, THANKS)]
    return sorted(found, key=lambda s: s.score, reverse=True)

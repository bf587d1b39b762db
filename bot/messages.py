"""Every sentence the customer reads in the chat (and in the bot's mails), in one place.

Voice: polite です・ます, warm but brief, one purpose per message, what to type or tap
comes last. Money as ``5,280円``, months as ``2026年11月``, the free-call number always
as ``0120-00-6560``. Templates use ``str.format`` fields named for what they carry.

Glossary ("One voice")
--------------------------------
One name for each thing and each action. The chat (this module), the rich menus
(``bot.menus``), the mails (``templates/mail``, ``REGISTRATION_MAIL_BODY``) and the web pages
(``templates``) all use these names; ``tests/bot/test_voice.py`` checks that no retired word
(``RETIRED_TERMS``) comes back, and that every 「X」を押して / 「X」と送って names a button the
customer has at that point or a word the conversation understands.

- a person: 担当者. Reached with 「オペレーターと話す」: the quick reply, the rich menu's label and
  the words its tap sends are all this one. Retired: 「オペレーター」「問い合わせ」「お問い合わせ」 as
  buttons, 担当者と話す, 担当者とのやりとり, 担当者との対応.
- the phone: フリーコール 0120-00-6560（平日9:00〜17:00） (``PHONE_DESK``), always with its hours.
- staffed hours: 平日9:00〜17:00. 平日 is Monday to Friday without public holidays and 年末年始
  (``bot.hours``, the handoff's own calendar). Retired: the hours without 平日, 「平日 9:00」.
- a bill's total: ご請求金額. Retired: ご請求額, 請求額.
- a bill's month: 2026年11月, as 請求年月 (「2026年11月のご請求金額」). Retired: 2026年11月分.
- a bill's status: 確定 (ご請求金額が確定しました). Retired: 発行.
- a bill's breakdown: 明細, opened with 「明細を見る」 on the bill card, the monthly notice and the
  web bill list; one line of it is a 項目. Retired: 内訳, ご利用明細, ご利用料金明細, 請求内容を見る, 詳細.
- the period shown: 最大1年間 (2020年7月以降), as the printed guide says; the window is the 12
  months up to the newest bill (``storage.bills``). Retired: 最大12か月分.
- the monthly notice: 毎月のご請求のお知らせ. Retired: 請求のお知らせ without ご.
- the registration mail: 仮登録受付完了メール, as the guide calls it and as its subject ends
  (【あいコムこうかマイページ】仮登録受付完了). Retired: 本登録のご案内, 仮登録のご案内メール.
- the service: あいコムこうかマイページ (one word), マイページ for short; the mails' sender too.
  Retired: 「あいコムこうか マイページ」 with a space.
- characters: 半角英数記号. Retired: 半角英数字・記号, 半角の英数字と記号.
- how often: 1回だけ, 1時間に3回まで (digits). Retired: 一度だけ.
- a label's colon: full width (■受付日時：). Retired: a half-width colon after Japanese text.
- contacting us: お問い合わせ, お問い合わせ窓口. Retired: お問合せ.
- an apology: 申し訳ございません. Retired: 申し訳ありません.

Three kinds of "no", each with its own shape:

- a wrong answer (a validator's message, ``VERIFY_MISMATCH``): says what is wrong and how to fix
  it, without an apology and without blame (STYLE.md). ``VERIFY_MISMATCH`` is the printed guide's
  own sentence and the contract's, kept word for word; ``VERIFY_RETRY`` after it adds the guide's
  advice to call when it keeps failing.
- a refusal or an error (``REFUSALS``): opens with 申し訳ございません and ends with what the
  customer can do next. Where they cannot go on by themselves (``NEEDS_A_PERSON``) the way out
  is a person: 「オペレーターと話す」 and/or ``PHONE_DESK``. Inside a flow the operator words
  leave it (INTERFACES.md) and hand the chat over.
- an ending (``CANCELLED``, ``HANDOFF_CLOSED``): says what happened and what the chat does now.
"""

from __future__ import annotations

from datetime import date, datetime

FREE_CALL = "0120-00-6560"
SUPPORT_HOURS_TEXT = "9:00〜17:00"
STAFFED_DAYS = "平日"  # 月〜金, not on public holidays nor 年末年始 (bot.hours.staffed_day)
STAFFED_HOURS = f"{STAFFED_DAYS}{SUPPORT_HOURS_TEXT}"  # 平日9:00〜17:00
PHONE_DESK = f"フリーコール {FREE_CALL}（{STAFFED_HOURS}）"


def yen(amount: int) -> str:
    """``5280`` -> ``5,280円`` (negative amounts keep their sign: ``-500円``)."""
    return f"{amount:,}円"


def month_label(month: date) -> str:
    """``date(2026, 11, 1)`` -> ``2026年11月``."""
    return f"{month.year}年{month.month}月"


def date_label(day: date) -> str:
    """``date(2026, 12, 27)`` -> ``2026年12月27日``."""
    return f"{day.year}年{day.month}月{day.day}日"


WEEKDAYS = "月火水木金土日"


def opening_label(opening: datetime, now: datetime) -> str:
    """When staff are next there, both Tokyo times: ``本日9:00`` the same day, else
    ``翌営業日の2026年12月7日（月）9:00``."""
    time_text = f"{opening.hour}:{opening.minute:02d}"
    if opening.date() == now.astimezone(opening.tzinfo).date():
        return f"本日{time_text}"
    return f"翌営業日の{date_label(opening.date())}（{WEEKDAYS[opening.weekday()]}）{time_text}"


def datetime_label(moment: datetime) -> str:
    """A Tokyo time as ``2026年11月25日 14:05``."""
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}:{moment.minute:02d}"


# -- buttons and quick replies (20 characters at most) -------------------------------------
QR_REGISTER = "登録"
QR_THIS_MONTH = "今月の料金"
QR_BILL_LIST = "料金一覧"
QR_HELP = "ヘルプ"
QR_CANCEL = "キャンセル"
QR_OPERATOR = "オペレーターと話す"  # the one name of the way to a person: quick reply, rich menu, typed word

# The way to a person, said the same everywhere: the button first, then the phone.
TO_A_PERSON = f"「{QR_OPERATOR}」を押して担当者にご相談いただくか、{PHONE_DESK}へお電話ください。"

# -- general ---------------------------------------------------------------------------------
GREETING = (
    "友だち追加ありがとうございます。あいコムこうか公式アカウントです。\n"
    "このトークで、マイページの登録や毎月のご利用料金の確認ができます。"
)
MENU_UNLINKED = (
    "ご用件をお選びください。\n"
    "・マイページに登録する：「登録」\n"
    "・ホームページのマイページをお使いの方：「ログインして連携」\n"
    "・登録の前に知りたいこと：「よくある質問」\n"
    "・担当者に相談する：「オペレーターと話す」\n"
    "下のボタンを押すか、「登録」のように文字で送ってください。"
)
MENU_LINKED = (
    "ご用件をお選びください。\n"
    "・今月のご利用料金：「今月の料金」\n"
    "・先月やほかの月：「先月の料金」「2026年9月の料金」\n"
    "・最大1年間のご利用料金：「料金一覧」\n"
    "・毎月のご請求のお知らせ：「通知設定」\n"
    "・担当者に相談する：「オペレーターと話す」\n"
    "下のボタンを押すか、「今月の料金」のように文字で送ってください。"
)
NOT_TEXT = "申し訳ございません。スタンプや画像にはお答えできません。ご用件を文字でお送りください。"
NOT_TEXT_IN_FLOW = "申し訳ございません。スタンプや画像にはお答えできません。お手数ですが、文字で入力してください。"
CANCELLED = "お手続きを中止しました。"
NOTHING_TO_CANCEL = "中止するお手続きはありません。"
SESSION_EXPIRED = (
    "申し訳ございません。30分間操作がなかったため、お手続きを終了しました。\n"
    "お手数ですが、もう一度はじめからお手続きください。"
)
BUSY_RETRY = (
    "申し訳ございません。ただいま大変混み合っております。\n"
    "少し時間をおいて、もう一度お送りください。"
    f"お急ぎの場合は、{PHONE_DESK}へお電話ください。"
)
# A flood: many messages from one person waited so long that each answer would have been a push;
# they are answered once, with this, instead.
MANY_MESSAGES = (
    "申し訳ございません。短い時間にたくさんのメッセージをいただいたため、一部にお答えできませんでした。\n"
    "お手数ですが、少し時間をおいて、もう一度お送りください。"
)

# -- registration -----------------------------------------------------------------
QR_PROVISIONAL = "仮登録する"
QR_FIX = "修正する"
QR_FIX_ACCOUNT_ID = "アカウントID"
QR_FIX_EMAIL = "メールアドレス"
QR_FIX_NICKNAME = "ニックネーム"
QR_RESEND = "メールを再送"
QR_RESTART = "最初からやり直す"
REMINDER_BUTTON = "ID・パスワードをお忘れの方"
LOGIN_LINK_BUTTON = "ログインして連携"

REGISTRATION_MAIL = "仮登録受付完了メール"  # the glossary's one name for the mail with the 本登録 URL

REGISTER_START = (
    "マイページの登録を始めます。途中でやめるときは「キャンセル」と送ってください。\n"
    "まず、お客様番号を入力してください。（先頭の0は省いて入力できます）\n"
    "※お客様番号は「ご契約内容のお知らせ」に記載されています。インターネットをご契約の方は、"
    "「環境設定通知書」のユーザーID欄にも記載されています。"
    f"わからない場合は、{PHONE_DESK}までお問い合わせください。"
)
ASK_CUSTOMER_NUMBER = (
    "お客様番号を入力してください。\n"
    "（「ご契約内容のお知らせ」に記載の番号です。先頭の0は省いて入力できます）"
)
THANKS = "ありがとうございます。"
ASK_PHONE = "ご登録の電話番号を入力してください。（ハイフンは省いて入力できます）"
ASK_NAME_KANA = "契約者のお名前をカナで入力してください。（例：アイコム　タロウ）"
VERIFY_MISMATCH = "入力された内容が契約者情報と一致しません。もう一度お手元の登録書をご確認ください。"
VERIFY_RETRY = (
    "お手数ですが、お客様番号からもう一度入力してください。（先頭の0は省いて入力できます）\n"
    f"※入力し直しても一致しない場合は、{PHONE_DESK}までご連絡ください。"
)
VERIFY_LIMITED_USER = (
    "申し訳ございません。入力内容が続けて一致しなかったため、安全上、30分ほどご本人確認をお受けできません。\n"
    f"お急ぎの場合は、{TO_A_PERSON}"
)
VERIFY_LIMITED_NUMBER = (
    "申し訳ございません。このお客様番号では入力内容が続けて一致しなかったため、安全上、24時間ご本人確認をお受けできません。\n"
    f"お急ぎの場合は、{TO_A_PERSON}"
)
VERIFY_UNAVAILABLE = (
    "申し訳ございません。ただいまご本人確認をお受けできません。時間をおいて、もう一度お試しください。\n"
    f"お急ぎの場合は、{TO_A_PERSON}"
)
VERIFIED = (
    "ご本人様の確認ができました。\n"
    "次に、マイページで使うアカウントIDを決めてください。\n"
    "（半角英数記号5〜30文字。大文字と小文字は区別しません）"
)
ASK_ACCOUNT_ID = (
    "マイページで使うアカウントIDを入力してください。\n"
    "（半角英数記号5〜30文字。大文字と小文字は区別しません）"
)
ASK_EMAIL = (
    f"仮登録が済むと、本登録のURLを記載した{REGISTRATION_MAIL}をお送りします。"
    "携帯電話のメールをお使いの場合は、@aicom-koka.jp からのメールを受信できるよう設定してください。\n"
    "メールアドレスを入力してください。（例：taro@example.jp）"
)
ASK_NICKNAME = "マイページに表示するニックネームを入力してください。（1〜20文字。メールの宛名にも使います）"
ALREADY_LINKED = (
    "このLINEは、すでにマイページと連携しています。登録のお手続きは必要ありません。\n"
    "ご利用料金は、「今月の料金」を押すとご確認いただけます。"
)
ALREADY_REGISTERED = (
    "マイページには、すでにご登録いただいています。新しく登録するお手続きは必要ありません。\n"
    f"アカウントIDやパスワードをお忘れの場合は、下の「{REMINDER_BUTTON}」からご確認ください。"
)
ALREADY_REGISTERED_LOGIN = (
    f"ご登録のアカウントIDとパスワードで、下の「{LOGIN_LINK_BUTTON}」からログインすると、"
    "このLINEとマイページを連携できます。"
)

CUSTOMER_NUMBER_INVALID = "お客様番号は数字で入力してください。（先頭の0は省いて入力できます）"
PHONE_INVALID = "電話番号は0から始まる10桁または11桁の数字で入力してください。（ハイフンは省いて入力できます）"
NAME_KANA_INVALID = "お名前（カナ）はカタカナかひらがなで入力してください。（例：アイコム　タロウ）"
ACCOUNT_ID_RULES = "アカウントIDは半角英数記号5〜30文字で入力してください。（空白は使えません）"
ACCOUNT_ID_TAKEN = "そのアカウントIDはすでに使われています。別のアカウントIDを入力してください。"
ACCOUNT_ID_CHECKS_LIMITED = (
    "申し訳ございません。アカウントIDの確認が短い時間に続いたため、しばらくお受けできません。\n"
    "1時間ほどたってから、もう一度アカウントIDを入力してください。"
    f"お急ぎの場合は、{PHONE_DESK}へお電話ください。"
)
ACCOUNT_ID_TAKEN_JUST_NOW = (
    "申し訳ございません。そのアカウントIDは、つい先ほどほかの方が使い始めたため、登録できませんでした。\n"
    "別のアカウントIDを入力してください。（半角英数記号5〜30文字）"
)
EMAIL_INVALID = (
    "メールアドレスの形式に誤りがあるようです。ご確認のうえ、もう一度入力してください。（例：taro@example.jp）"
)
# What is wrong with a mail address, one message per kind of mistake (``validators.email``).
EMAIL_EMPTY = "メールアドレスを入力してください。（例：taro@example.jp）"
EMAIL_NO_AT = "メールアドレスに「@」がありません。「@」を含めて、もう一度入力してください。（例：taro@example.jp）"
EMAIL_TWO_AT = (
    "メールアドレスに「@」が2つ以上あります。「@」は1つにして、もう一度入力してください。（例：taro@example.jp）"
)
EMAIL_NO_LOCAL = (
    "メールアドレスの「@」の前が入っていません。「@」の前も含めて、もう一度入力してください。（例：taro@example.jp）"
)
EMAIL_NO_DOMAIN = (
    "メールアドレスの「@」の後ろが入っていません。「@」の後ろも含めて、もう一度入力してください。（例：taro@example.jp）"
)
EMAIL_DOMAIN_INCOMPLETE = (
    "メールアドレスの「@」の後ろ（{domain}）が途中までのようです。"
    "「example.jp」のように「.」の後ろまで入力してください。"
)
EMAIL_DOMAIN_INVALID = (
    "メールアドレスの「@」の後ろ（{domain}）の書き方に誤りがあります。"
    "「.」の位置や文字をご確認のうえ、もう一度入力してください。"
)
EMAIL_DOMAIN_TYPO = (
    "メールアドレスの「@」の後ろが「{domain}」になっています。「{suggestion}」の誤りではありませんか？"
    "ご確認のうえ、もう一度入力してください。"
)
EMAIL_LOCAL_DOTS = (
    "メールアドレスの「@」の前で、「.」が続いているか、先頭か「@」の直前にあります。"
    "ご確認のうえ、もう一度入力してください。"
)
EMAIL_SPACE = "メールアドレスに空白が入っています。空白を除いて、もう一度入力してください。"
EMAIL_NOT_ASCII = (
    "メールアドレスに使えない文字（{char}）が入っています。半角英数記号で入力してください。"
)
EMAIL_BAD_CHAR = "メールアドレスに使えない記号（{char}）が入っています。ご確認のうえ、もう一度入力してください。"
EMAIL_TOO_LONG = (
    "メールアドレスが長すぎます。「@」の前は64文字まで、全体で254文字までで入力してください。"
)
NICKNAME_LENGTH = "ニックネームは1〜20文字で入力してください。"
NICKNAME_CONTROL = "ニックネームに使えない文字（改行など）が含まれています。1行で入力してください。（1〜20文字）"

CONFIRM = (
    "以下の内容で仮登録します。よろしいですか？\n"
    "アカウントID：{account_id}\n"
    "メールアドレス：{email}\n"
    "ニックネーム：{nickname}"
)
CONFIRM_CHOOSE = "下のボタンから「仮登録する」「修正する」「キャンセル」のいずれかを押してください。"
CHOOSE_FIX = "修正する項目を下のボタンから選んでください。"
CHOOSE_FIX_AGAIN = (
    "ここで修正できるのは、アカウントID・メールアドレス・ニックネームです。修正する項目を下のボタンから選んでください。"
)
PROVISIONAL_DONE = (
    f"仮登録が完了しました。{{email}} 宛に{REGISTRATION_MAIL}をお送りしました。\n"
    "{valid_for}以内に、メールに記載のURLから本登録（パスワードの設定）をお済ませください。\n"
    "メールが届かないときは「メールを再送」を、メールアドレスを変更するときは「最初からやり直す」を押してください。"
)
MAIL_RESENT = (
    f"{{email}} 宛に{REGISTRATION_MAIL}をもう一度お送りしました。前にお送りしたメールのURLは使えなくなりました。\n"
    "新しいメールのURLから、{valid_for}以内に本登録をお済ませください。"
)
RESEND_LIMITED = (
    "申し訳ございません。メールの再送は1時間に3回までのため、ただいまお送りできません。\n"
    "1時間ほどたってから、もう一度「メールを再送」を押してください。"
    "メールアドレスを変更するときは「最初からやり直す」を押してください。\n"
    f"お困りの場合は、{TO_A_PERSON}"
)
NOTHING_TO_RESEND = (
    f"申し訳ございません。再送できる{REGISTRATION_MAIL}がありません。"
    "（仮登録の有効期限が過ぎた場合や、本登録がお済みの場合は再送できません）\n"
    "あらためて登録するときは「登録」を押してください。"
)
REGISTER_MAIL_LIMITED = (
    f"申し訳ございません。{REGISTRATION_MAIL}をお送りできるのは24時間に10回までのため、ただいまお送りできません。\n"
    f"時間をおいて、もう一度お試しください。お急ぎの場合は、{PHONE_DESK}へお電話ください。"
)
REGISTER_CUSTOMER_GONE = (
    "申し訳ございません。ご契約情報を確認できなかったため、仮登録できませんでした。\n"
    "お手数ですが、お客様番号からもう一度入力してください。（先頭の0は省いて入力できます）\n"
    f"※何度入力しても登録できない場合は、{PHONE_DESK}までご連絡ください。"
)
# A rich-menu tap or a button of another message mid-registration (``registration.HELP_WORDS``):
# not an answer. How to go on, how to stop, and how to reach a person (ヘルプ and the オペレーター
# words leave the flow, as INTERFACES.md says).
REGISTER_IN_PROGRESS = (
    "ただいまマイページの登録のお手続き中です。続けるときは、次の質問にお答えください。\n"
    "登録をやめるときは「キャンセル」を押してください。担当者に相談するときは「オペレーターと話す」と送るか、"
    f"{PHONE_DESK}へお電話ください。"
)
REGISTERED_PUSH = (
    "マイページの登録が完了しました。ご利用ありがとうございます。\n"
    "このトークで、毎月のご利用料金を確認できます。ご利用料金は、「今月の料金」を押すとご確認いただけます。"
)

# Password rules (the 本登録 page; never asked in the chat).
PASSWORD_EMPTY = "パスワードを入力してください。"
PASSWORD_TOO_SHORT = "パスワードは8文字以上で設定してください。"
PASSWORD_TOO_LONG = "パスワードは16文字以内で設定してください。"
PASSWORD_CHARS = "パスワードは半角英数記号で設定してください。（全角文字や空白は使えません）"
PASSWORD_KINDS = "パスワードには、英大文字・英小文字・数字のうち2種類以上を含めてください。"
PASSWORD_SAME_AS_ACCOUNT_ID = "アカウントIDと同じパスワードは使えません。別のパスワードを設定してください。"
PASSWORD_SAME_AS_PHONE = "電話番号と同じパスワードは使えません。別のパスワードを設定してください。"
PASSWORD_SAME_AS_CUSTOMER_NUMBER = "お客様番号と同じパスワードは使えません。別のパスワードを設定してください。"
PASSWORD_MISMATCH = "確認用のパスワードが一致しません。同じパスワードを2回入力してください。"


def valid_for_label(seconds: int) -> str:
    """How long a link lives, in words: ``86400`` -> ``24時間``, ``1800`` -> ``30分``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}時間"
    return f"{max(seconds // 60, 1)}分"


# -- bills --------------------------------------------------------------------------
QR_LAST_MONTH = "先月の料金"
BILL_MONTH_COMMAND = "{month}の料金"  # what a month button sends, e.g. 2026年9月の料金
BILL_NOT_LINKED = (
    "ご利用料金の確認には、マイページへの登録とこのLINEとの連携が必要です。\n"
    f"ホームページのマイページをすでにお使いの方は、下の「{LOGIN_LINK_BUTTON}」からログインしてください。"
)
BILL_LINK_BUTTON = LOGIN_LINK_BUTTON
BILL_REGISTER_HINT = "マイページをまだお使いでない方は、このトークで登録できます。「登録」を押してください。"
BILL_NONE_THIS_MONTH = (
    "{month}のご請求金額は、まだ確定していません。（ご請求金額は月に1回確定します）\n"
    "最新の{latest}のご請求金額をお知らせします。"
)
BILL_NONE_YET = (
    "まだご請求の記録がありません。ご請求金額は月に1回確定します。\n"
    "確定したあとに、もう一度「今月の料金」と送ってください。"
)
BILL_MONTH_NOT_FOUND = (
    "申し訳ございません。{month}のご請求は見つかりませんでした。\n"
    "ご覧いただける月：{months}\n"
    "ご覧になりたい月を下のボタンから選んでください。"
)
BILL_BEFORE_EARLIEST = (
    "申し訳ございません。2020年7月より前のご利用料金は、このトークではご覧いただけません。\n"
    "ご覧いただける月：{months}\n"
    "ご覧になりたい月を下のボタンから選んでください。"
    f"それより前のご利用料金は、{PHONE_DESK}までお問い合わせください。"
)
BILL_CARD_ALT = "{month}のご請求金額は{total}です"
BILL_CARD_HEADER = "請求年月"
BILL_TOTAL_LABEL = "ご請求金額"
BILL_DUE_LABEL = "引落日"
BILL_METHOD_LABEL = "支払方法"
BILL_ITEMS_LABEL = "主な項目"  # one line of the 明細 is a 項目 (the web page's column says so too)
BILL_MORE_ITEMS = "ほか{count}件"
BILL_DETAIL_BUTTON = "明細を見る"  # the one name of opening a bill's breakdown: card, notice, web list
BILL_LINK_NOTE = (
    "「明細を見る」は、このメッセージが届いてから15分間、ログインなしで開けます。"
    "その後はマイページへのログインが必要です。"
)
BILL_LIST_TITLE = "ご利用料金の一覧"
BILL_LIST_ALT = "ご利用料金の一覧（{newest}〜{oldest}、{count}か月分）"

# -- bill cards and the bill chart ------------------------------------
MINUS_SIGN = "\u2212"  # −: a discount or credit; a true minus, not the hyphen "-"


def signed_yen(amount: int) -> str:
    """Money on cards and charts: ``5280`` -> ``5,280円``, ``-550`` -> ``−550円`` (U+2212 MINUS SIGN,
    which a line never breaks away from its digits, unlike "-", and which screen readers say as マイナス)."""
    return f"{MINUS_SIGN}{-amount:,}円" if amount < 0 else f"{amount:,}円"


BILL_CHART_NOTE = "新しい月から最大1年間（2020年7月以降）のご請求金額です。月を押すと、その月の明細をお知らせします。"

# -- account link and unlink (issues 3, 4) ------------------------------------------------------
QR_UNLINK = "連携解除する"
UNLINK_CONFIRM = (
    "このLINEとマイページの連携を解除します。\n"
    "解除すると、このLINEでご利用料金の確認やお知らせの受け取りができなくなります。\n"
    "よろしければ「連携解除する」を押してください。"
)
UNLINK_CHOOSE = "「連携解除する」または「キャンセル」を押してください。"
UNLINKED = (
    "連携を解除しました。マイページのアカウントはそのままご利用いただけます。\n"
    f"もう一度連携するときは「{LOGIN_LINK_BUTTON}」を押してください。"
)
NOT_LINKED = "このLINEはマイページと連携していません。登録するときは「登録」を押してください。"

ACCOUNT_LINK_DONE = (
    "LINEとマイページの連携が完了しました。\n"
    "ご利用料金は、「今月の料金」を押すとご確認いただけます。"
)
LINK_MOVED_PUSH = (
    "別のLINEでマイページとの連携が行われたため、このLINEとマイページの連携を解除しました。\n"
    f"お心当たりがない場合は、マイページのパスワードを変更のうえ、{PHONE_DESK}までご連絡ください。\n"
    f"このLINEでもう一度連携するときは「{LOGIN_LINK_BUTTON}」を押してください。"
)
ACCOUNT_LINK_FAILED = (
    "申し訳ございません。LINEとの連携を完了できませんでした。\n"
    f"お手数ですが、もう一度「{LOGIN_LINK_BUTTON}」を押してログインしてください。\n"
    f"それでも連携できない場合は、{TO_A_PERSON}"
)

# -- 退会 on the web My Page ----------------------------------------------------------
WITHDRAWN_PUSH = (
    "マイページの退会手続きが完了し、このLINEとの連携を解除しました。\n"
    "これまでご利用いただき、ありがとうございました。\n"
    "もう一度ご利用になるときは「登録」と送ってください。"
)

# -- mails ------------------------------------------------------------------------------------
MAIL_SENDER_NAME = "あいコムこうかマイページ"  # the From display name (app.MAIL_FROM's default)
# Every mail ends with this footer (the web's mails add it in ``handlers.mail.render_mail``), and
# greets the contract holder by the name in the contract, as the printed guide does (アイコム タロウ 様).
MAIL_FOOTER = (
    "あいコムこうか\n"
    f"{PHONE_DESK}\n"
    "※このメールは送信専用のアドレスからお送りしています。ご返信いただいてもお答えできませんので、ご了承ください。\n"
)
REGISTRATION_MAIL_SUBJECT = "【あいコムこうかマイページ】仮登録受付完了"
REGISTRATION_MAIL_BODY = (
    "{name} 様\n"
    "\n"
    "あいコムこうかマイページの仮登録を受け付けました。\n"
    "あいコムこうかマイページのご利用には、以下のURLより本登録手続きを行ってください。\n"
    "\n"
    "■受付日時：{received_at}\n"
    "■本登録手続きURL\n"
    "{url}\n"
    "\n"
    "※本登録の有効期限は、このメールの送信から{valid_for}以内です。\n"
    "　期限を過ぎた場合は、LINEで「登録」と送って、もう一度お手続きください。\n"
    "※本メールに心当たりのない方は、URLを開かずにこのメールを破棄してください。\n"
    "　ご不明な点がございましたら、下記のお問い合わせ窓口までご連絡ください。\n"
    "\n"
) + MAIL_FOOTER  # holds no braces, so the body's .format() leaves it as it is


# -- the お客様メニュー (rich menus) -------------------------------------------------
QR_FAQ = "よくある質問"
ACCOUNT_LINK_PROMPT = (
    f"ホームページのマイページをすでにお使いの方は、下の「{LOGIN_LINK_BUTTON}」からログインすると、"
    "このLINEとマイページを連携できます。\n"
    "連携すると、このトークで毎月のご利用料金を確認できます。"
)
ACCOUNT_LINK_NOT_YET_REGISTERED = "マイページをまだお使いでない方は、「登録」を押すと、このトークで登録できます。"
FAQ = (
    "よくある質問\n"
    "\n"
    "Q. マイページの登録に費用はかかりますか？\n"
    "A. 無料です。（通信料はお客様のご負担です）\n"
    "\n"
    "Q. 登録には何が必要ですか？\n"
    "A. お客様番号・ご登録の電話番号・契約者のお名前（カナ）です。"
    "お客様番号は「ご契約内容のお知らせ」に記載されています。"
    "インターネットをご契約の方は、「環境設定通知書」のユーザーID欄にも記載されています。\n"
    "\n"
    "Q. ホームページのマイページをすでに使っています。\n"
    f"A. 「{LOGIN_LINK_BUTTON}」を押して、お使いのアカウントIDとパスワードでログインしてください。\n"
    "\n"
    "Q. アカウントIDやパスワードを忘れました。\n"
    "A. マイページのログイン画面の「リマインダー」から確認・再設定できます。\n"
    "\n"
    f"そのほかのご質問は、{TO_A_PERSON}"
)
# The same for a customer whose LINE is already linked: nothing about registering.
FAQ_LINKED = (
    "よくある質問\n"
    "\n"
    "Q. ご利用料金はどこで確認できますか？\n"
    "A. このトークで「今月の料金」を押すとご確認いただけます。前の月は「料金一覧」から選べます。\n"
    "\n"
    "Q. 毎月のご請求のお知らせを止めたいです。\n"
    "A. 「通知停止」と送ると停止します。また受け取るときは「通知再開」と送ってください。\n"
    "\n"
    "Q. アカウントIDやパスワードを忘れました。\n"
    "A. マイページのログイン画面の「リマインダー」から確認・再設定できます。\n"
    "\n"
    "Q. このLINEとマイページの連携をやめたいです。\n"
    "A. 「連携解除」と送ってください。マイページのアカウントはそのままご利用いただけます。\n"
    "\n"
    f"そのほかのご質問は、{TO_A_PERSON}"
)

FAQ_LIST = (
    "よくあるご質問です。知りたいご質問を下のボタンから選ぶか、文章でお送りください。\n"
    "（例：「引っ越しの手続きは？」「ネットがつながらない」）"
)

# -- handoff (Slack) ----------------------------------------------------------------------------
QR_BACK_TO_BOT = "ボットに戻る"
HANDOFF_OPENED = (
    "担当者におつなぎします。このトークでそのままご用件をお送りください。\n"
    f"担当者から順番にご返信します。（受付時間：{STAFFED_DAYS}{{hours}}）\n"
    f"お急ぎの場合は、フリーコール {FREE_CALL} へお電話ください。\n"
    "自動応答に戻るときは「ボットに戻る」を押してください。"
)
HANDOFF_OPENED_AFTER_HOURS = (
    "担当者におつなぎします。このトークでそのままご用件をお送りください。\n"
    f"ただいま受付時間外のため、{{opening}}以降に担当者からご返信します。（受付時間：{STAFFED_DAYS}{{hours}}）\n"
    f"お急ぎの場合は、受付時間内にフリーコール {FREE_CALL} へお電話ください。\n"
    "自動応答に戻るときは「ボットに戻る」を押してください。"
)
HANDOFF_NO_REPLY = (
    "お待たせしており申し訳ございません。ただいま担当者がご返信できない状況です。\n"
    f"このままお待ちいただくか、お急ぎの場合はフリーコール {{free_call}}（{STAFFED_DAYS}{{hours}}）へお電話ください。\n"
    "自動応答に戻るときは「ボットに戻る」を押してください。"
)
# A message sent to staff outside staffed hours: said once for each stretch of closed hours.
HANDOFF_AFTER_HOURS_ACK = (
    "お送りいただいた内容は担当者に届いています。\n"
    f"ただいま受付時間外のため、{{opening}}以降にご返信します。（受付時間：{STAFFED_DAYS}{{hours}}）\n"
    "自動応答に戻るときは「ボットに戻る」を押してください。"
)
HANDOFF_CLOSED = (
    "担当者とのトークを終了しました。ご利用ありがとうございました。\n"
    "ここからは自動応答でご案内します。メニューを見るときは「ヘルプ」と送ってください。"
)
HANDOFF_CLOSED_BY_CUSTOMER = (
    "担当者とのトークを終了し、自動応答に戻りました。\n"
    "メニューを見るときは「ヘルプ」と送ってください。"
)
HANDOFF_STICKER_NOTE = "（スタンプが送信されました）"
HANDOFF_MEDIA_NOTE = "（画像などのファイルが送信されました）"

# -- bill notices ------------------------------------------------------------------------
QR_NOTICES_STOP = "通知停止"
QR_NOTICES_RESUME = "通知再開"
QR_NOTICES_SETTINGS = "通知設定"
NOTICES_STOPPED = (
    "毎月のご請求のお知らせを停止しました。\n"
    "ご利用料金は、「今月の料金」を押すといつでもご確認いただけます。\n"
    "また受け取るときは「通知再開」を押してください。"
)
NOTICES_RESUMED = (
    "毎月のご請求のお知らせを再開しました。\n"
    "ご請求金額が確定すると、このトークでお知らせします。"
)
NOTICES_ALREADY_STOPPED = (
    "毎月のご請求のお知らせは、すでに停止しています。\n"
    "ご利用料金は、「今月の料金」を押すといつでもご確認いただけます。\n"
    "また受け取るときは「通知再開」を押してください。"
)
NOTICES_ALREADY_ON = (
    "毎月のご請求のお知らせは、すでに受け取る設定になっています。\n"
    "ご請求金額が確定すると、このトークでお知らせします。"
)
NOTICES_SETTING_ON = (
    "毎月のご請求のお知らせを、このトークで受け取る設定になっています。"
    "ご請求金額が確定すると、お知らせします。\n"
    "停止するときは「通知停止」を押してください。"
)
NOTICES_SETTING_OFF = (
    "毎月のご請求のお知らせは、停止しています。\n"
    "再開するときは「通知再開」を押してください。"
)
NOTICES_NOT_LINKED = (
    "毎月のご請求のお知らせは、マイページと連携したお客様にお送りしています。\n"
    "登録するときは「登録」を押してください。"
)
BILL_NOTICE_HEADER = "ご請求金額確定のお知らせ"
BILL_NOTICE_LEAD = "{month}のご請求金額が確定しました。"
BILL_NOTICE_BUTTON = BILL_DETAIL_BUTTON
BILL_NOTICE_FOOTNOTE = "お知らせが不要なときは「通知停止」と送ってください。"
BILL_NOTICE_ALT = "{month}のご請求金額は{total}です"

# -- free text: what the bot says when it reads what the customer wrote --------------
QR_MENU = "メニュー"
NOT_UNDERSTOOD = (
    "申し訳ございません。うまく理解できませんでした。\n"
    "お手数ですが、言葉を変えてもう一度お送りいただくか、下のボタンからお選びください。\n"
    "担当者に相談するときは「オペレーターと話す」を、できることの一覧を見るときは「メニュー」を押してください。"
)
NOT_UNDERSTOOD_SUGGEST = (
    "申し訳ございません。うまく理解できませんでした。\n"
    "もしかして、下のボタンのご質問でしょうか？当てはまるものを押してください。\n"
    "担当者に相談するときは「オペレーターと話す」を、できることの一覧を見るときは「メニュー」を押してください。"
)
FAQ_LINK = "詳しくはこちらをご覧ください。\n{url}"
ALSO_OFFERED = "ほかのご用件でしたら、下のボタンからお選びください。"
SMALL_TALK_GREETING = (
    "こんにちは。あいコムこうか公式アカウントです。\n"
    "ご用件を文章でお送りください。（例：「今月の料金はいくら？」「引っ越しの手続きは？」）"
)
SMALL_TALK_THANKS = "どういたしまして。ほかにもご用件があれば、いつでもお送りください。"
FORGOT_CREDENTIALS = (
    f"マイページのアカウントIDやパスワードをお忘れの場合は、下の「{REMINDER_BUTTON}」から確認・再設定できます。\n"
    "アカウントIDはご登録のメールアドレスにお送りします。パスワードの再設定URLの有効期限は30分です。"
)
FORGOT_REMINDER = f"マイページのリマインダーは、下の「{REMINDER_BUTTON}」からお使いいただけます。"

# -- the glossary, as data (tests/bot/test_voice.py reads these) -------------------------------
# Refusals and errors: each opens with an apology and ends with what the customer can do next.
REFUSALS = (
    "NOT_TEXT", "NOT_TEXT_IN_FLOW", "SESSION_EXPIRED", "BUSY_RETRY", "MANY_MESSAGES",
    "VERIFY_LIMITED_USER", "VERIFY_LIMITED_NUMBER", "VERIFY_UNAVAILABLE", "ACCOUNT_ID_CHECKS_LIMITED",
    "ACCOUNT_ID_TAKEN_JUST_NOW", "RESEND_LIMITED", "NOTHING_TO_RESEND", "REGISTER_MAIL_LIMITED",
    "REGISTER_CUSTOMER_GONE", "BILL_MONTH_NOT_FOUND", "BILL_BEFORE_EARLIEST", "ACCOUNT_LINK_FAILED",
    "NOT_UNDERSTOOD", "NOT_UNDERSTOOD_SUGGEST", "HANDOFF_NO_REPLY",
)
# Of those, the ones the customer cannot get past alone: they offer a person (the button or the phone).
NEEDS_A_PERSON = (
    "BUSY_RETRY", "VERIFY_LIMITED_USER", "VERIFY_LIMITED_NUMBER", "VERIFY_UNAVAILABLE",
    "ACCOUNT_ID_CHECKS_LIMITED", "RESEND_LIMITED", "REGISTER_MAIL_LIMITED", "REGISTER_CUSTOMER_GONE",
    "BILL_BEFORE_EARLIEST", "ACCOUNT_LINK_FAILED", "NOT_UNDERSTOOD", "NOT_UNDERSTOOD_SUGGEST", "HANDOFF_NO_REPLY",
    "REGISTER_IN_PROGRESS",
)
# Words and spellings the glossary retired, each with what to write instead. Plain strings match
# as they are; a ``re:`` prefix marks a regular expression. Checked across this module, the rich
# menus, the page and mail templates.
RETIRED_TERMS = {
    "「オペレーター」": "「オペレーターと話す」",
    "「問い合わせ」": "「オペレーターと話す」",
    "「お問い合わせ」": "「オペレーターと話す」",
    "担当者と話す": "「オペレーターと話す」（担当者に相談する）",
    "担当者とのやりとり": "担当者に相談する",
    "担当者との対応": "担当者とのトーク",
    "re:オペレーター(?!と話す)": "担当者（ボタンと言葉は「オペレーターと話す」）",
    "内訳": "明細",
    "ご利用明細": "明細",
    "ご利用料金明細": "明細",
    "請求内容": "明細（「明細を見る」）",
    "詳細": "明細（「明細を見る」）",
    "発行": "確定",
    "12か月": "最大1年間",
    "re:[0-9０-９]月分": "2026年11月（分をつけない）",
    "re:\\{(?:month|latest)\\}分": "{month}（分をつけない）",
    "請求額": "ご請求金額",
    "re:(?<!ご)請求のお知らせ": "ご請求のお知らせ",
    "本登録のご案内": REGISTRATION_MAIL,
    "仮登録のご案内": REGISTRATION_MAIL,
    "一度だけ": "1回だけ",
    "半角英数字・記号": "半角英数記号",
    "半角の英数字": "半角英数記号",
    "あいコムこうか マイページ": "あいコムこうかマイページ",
    "re:(?<!平日)(?<!\\d)\\d{1,2}:\\d{2}〜\\d{1,2}:\\d{2}": STAFFED_HOURS,
    "re:(?<!平日)(?<!\\d)\\d{1,2}時[〜~]\\d{1,2}時": STAFFED_HOURS,
    "re:(?<!平日)\\{hours\\}": f"{STAFFED_DAYS}{{hours}}",
    "平日 ": "平日9:00〜17:00（空白なし）",
    "re:[\\u3040-\\u30ff\\u4e00-\\u9fff]: ": "：（全角のコロン）",
    "お問合せ": "お問い合わせ",
    "申し訳ありません": "申し訳ございません",
    # the phrasings the one-voice review found
    "でも可）": "（…は省いて入力できます）",
    "内の言葉": "「登録」のように文字で送る",
    "登録済みです": "すでにご登録いただいています",
    "：受け取る": "受け取る設定になっています",
    "さっそく": "「今月の料金」を押すとご確認いただけます",
    "わずかな差": "つい先ほどほかの方が使い始めた",
    "続けてできませんでした": "入力内容が続けて一致しなかったため",
    "となっています": "までのため",
    "混み合っています": "混み合っております",
    "読み取れませんでした": "どこが違うかを言う（validators.email）",
}

# What staff read beside a customer's text: what the bot made of it (Slack, the staff pane).
UNDERSTOOD_INTENT = "自動応答：{label}"
UNDERSTOOD_FAQ = "自動応答：FAQ「{question}」を案内"
UNDERSTOOD_NONE = "自動応答：理解できず"
UNDERSTOOD_NONE_SUGGESTED = "自動応答：理解できず（候補：{questions}）"
INTENT_LABELS = {
    "bill.this_month": "今月の料金を表示",
    "bill.last_month": "先月の料金を表示",
    "bill.month": "{month}の料金を表示",
    "bill.list": "料金一覧を表示",
    "register": "登録の案内",
    "link": "ログインして連携の案内",
    "unlink": "連携解除の確認",
    "handoff": "担当者への接続",
    "notices.stop": "通知停止",
    "notices.resume": "通知再開",
    "notices.settings": "通知設定の表示",
    "help": "メニューを表示",
    "greeting": "あいさつ",
    "thanks": "お礼",
    "forgot": "ID・パスワードのリマインダーを案内",
}

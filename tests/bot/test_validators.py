"""Validators: real-world inputs -> canonical values, and every message a wrong answer gets."""

from __future__ import annotations

import pytest

from bot import messages, validators
from bot.errors import InvalidInput


@pytest.mark.parametrize(("typed", "expected"), [
    ("12345678", "12345678"),
    ("012345678", "12345678"),  # the leading 0 may be typed or left out
    ("００１２３４５６７８", "12345678"),  # full-width
    ("1234-5678", "12345678"),
    (" 12345678 ", "12345678"),
    ("１２３４　５６７８", "12345678"),
])
def test_customer_number_accepted(typed, expected):
    assert validators.customer_number(typed) == expected


@pytest.mark.parametrize("typed", ["", "abc", "1234567a", "0000", "12.34", "123456789012345678901", "ー",
                                   "1234\x005678"])
def test_customer_number_refused(typed):
    with pytest.raises(InvalidInput) as exc:
        validators.customer_number(typed)
    assert exc.value.message == messages.CUSTOMER_NUMBER_INVALID
    assert "お客様番号" in exc.value.message


@pytest.mark.parametrize(("typed", "expected"), [
    ("0748621234", "0748621234"),
    ("0748-62-1234", "0748621234"),
    ("０７４８－６２－１２３４", "0748621234"),
    ("(0748)62-1234", "0748621234"),
    ("090-1234-5678", "09012345678"),
    ("+81 90-1234-5678", "09012345678"),
    ("+81-748-62-1234", "0748621234"),
    ("0120-00-6560", "0120006560"),
    ("0748ー62ー1234", "0748621234"),  # IME kana mode turns "-" into the long vowel mark
])
def test_phone_accepted(typed, expected):
    assert validators.phone(typed) == expected


@pytest.mark.parametrize("typed", ["", "62-1234", "748621234", "090123456789", "tel 0748621234", "abc"])
def test_phone_refused(typed):
    with pytest.raises(InvalidInput) as exc:
        validators.phone(typed)
    assert exc.value.message == messages.PHONE_INVALID
    assert "電話番号" in exc.value.message


@pytest.mark.parametrize(("typed", "expected"), [
    ("アイコム　タロウ", "アイコム\u3000タロウ"),
    ("アイコム タロウ", "アイコム\u3000タロウ"),
    ("あいこむ たろう", "アイコム\u3000タロウ"),  # hiragana
    ("ｱｲｺﾑ ﾀﾛｳ", "アイコム\u3000タロウ"),  # half-width kana
    ("  アイコム   タロウ  ", "アイコム\u3000タロウ"),
    ("ヴァイオリン ハナコ", "ヴァイオリン\u3000ハナコ"),
    ("ゔぁいおりん はなこ", "ヴァイオリン\u3000ハナコ"),
    ("ｳﾞｧｲｵﾘﾝ ﾊﾅｺ", "ヴァイオリン\u3000ハナコ"),
    ("コーカ タロー", "コーカ\u3000タロー"),
    ("コ－カ タロ-", "コーカ\u3000タロー"),  # full-width/ASCII hyphen for the long vowel
    ("コ~カ タロ〜", "コーカ\u3000タロー"),
    ("スミス・ジョン", "スミス・ジョン"),
])
def test_kana_name_accepted(typed, expected):
    assert validators.kana_name(typed) == expected


@pytest.mark.parametrize("typed", ["", "   ", "愛甲 太郎", "Aicom Taro", "アイコム 太郎", "ーー", "アイコム1"])
def test_kana_name_refused(typed):
    with pytest.raises(InvalidInput) as exc:
        validators.kana_name(typed)
    assert exc.value.message == messages.NAME_KANA_INVALID
    assert "お名前" in exc.value.message


@pytest.mark.parametrize(("typed", "expected"), [
    ("aicom_taro", "aicom_taro"),
    ("Aicom.Taro-2026", "Aicom.Taro-2026"),
    ("taro!", "taro!"),
    ("ａｉｃｏｍ＿ｔａｒｏ", "aicom_taro"),  # full-width typing folds to half-width
    ("  aicom  ", "aicom"),
    ("a" * 30, "a" * 30),
    ("12345", "12345"),
    ("user@example", "user@example"),
])
def test_account_id_accepted(typed, expected):
    assert validators.account_id(typed) == expected


@pytest.mark.parametrize("typed", ["", "abcd", "a" * 31, "aicom taro", "あいこむたろう", "taro絵文字", "tarö12",
                                   "abc\tdef", "abc\x00def"])
def test_account_id_refused(typed):
    with pytest.raises(InvalidInput) as exc:
        validators.account_id(typed)
    assert exc.value.message == messages.ACCOUNT_ID_RULES
    assert "アカウントID" in exc.value.message


@pytest.mark.parametrize(("typed", "expected"), [
    ("taro@example.jp", "taro@example.jp"),
    ("Taro.Aicom+bot@Example.JP", "Taro.Aicom+bot@example.jp"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),  # typed in full-width mode
    (" taro@example.co.jp ", "taro@example.co.jp"),
    ("taro_1999@docomo.ne.jp", "taro_1999@docomo.ne.jp"),
])
def test_email_accepted(typed, expected):
    assert validators.email(typed) == expected


@pytest.mark.parametrize(("typed", "expected"), [
    ("taro@example。jp", "taro@example.jp"),  # 「。」 typed in Japanese mode for "."
    ("taro@example.jp。", "taro@example.jp"),  # the sentence's full stop
    ("taroーx@example.jp", "taro-x@example.jp"),  # the long vowel mark typed for "-"
    ("ｔａｒｏ＿ｘ＠ｅｘａｍｐｌｅ。ｊｐ", "taro_x@example.jp"),
])
def test_email_typed_in_japanese_mode_is_folded(typed, expected):
    assert validators.email(typed) == expected


@pytest.mark.parametrize(("typed", "message"), [
    ("", messages.EMAIL_EMPTY),
    ("　", messages.EMAIL_EMPTY),
    ("taro", messages.EMAIL_NO_AT),
    ("taro.example.jp", messages.EMAIL_NO_AT),
    ("taro@@example.jp", messages.EMAIL_TWO_AT),
    ("taro@example@jp", messages.EMAIL_TWO_AT),
    ("@example.jp", messages.EMAIL_NO_LOCAL),
    ("taro@", messages.EMAIL_NO_DOMAIN),
    ("taro@example", messages.EMAIL_DOMAIN_INCOMPLETE.format(domain="example")),  # issue 20: it has an @
    ("taro@localhost", messages.EMAIL_DOMAIN_INCOMPLETE.format(domain="localhost")),
    ("taro@example.", messages.EMAIL_DOMAIN_INCOMPLETE.format(domain="example.")),
    ("taro@.example.jp", messages.EMAIL_DOMAIN_INVALID.format(domain=".example.jp")),
    ("taro@example..jp", messages.EMAIL_DOMAIN_INVALID.format(domain="example..jp")),
    ("taro@example.jp.", messages.EMAIL_DOMAIN_INVALID.format(domain="example.jp.")),
    ("taro@-example.jp", messages.EMAIL_DOMAIN_INVALID.format(domain="-example.jp")),
    ("taro@example.123", messages.EMAIL_DOMAIN_INVALID.format(domain="example.123")),
    ("taro@gmail.co", messages.EMAIL_DOMAIN_TYPO.format(domain="gmail.co", suggestion="gmail.com")),
    ("taro@GMAIL.CON", messages.EMAIL_DOMAIN_TYPO.format(domain="GMAIL.CON", suggestion="gmail.com")),
    ("taro@yahoo.co.j", messages.EMAIL_DOMAIN_TYPO.format(domain="yahoo.co.j", suggestion="yahoo.co.jp")),
    ("taro@docomo.nejp", messages.EMAIL_DOMAIN_TYPO.format(domain="docomo.nejp", suggestion="docomo.ne.jp")),
    ("taro example@example.jp", messages.EMAIL_SPACE),
    ("taro@example.jp taro@example.jp", messages.EMAIL_SPACE),
    ("たろう@example.jp", messages.EMAIL_NOT_ASCII.format(char="た")),
    ("taro@例え.jp", messages.EMAIL_NOT_ASCII.format(char="例")),
    ("ta\x00ro@example.jp", messages.EMAIL_NOT_ASCII.format(char="制御文字など")),
    ("taro,@example.jp", messages.EMAIL_BAD_CHAR.format(char=",")),
    ("<taro@example.jp>", messages.EMAIL_BAD_CHAR.format(char="<")),
    ("taro@ex_ample.jp", messages.EMAIL_BAD_CHAR.format(char="_")),
    ("taro..x@example.jp", messages.EMAIL_LOCAL_DOTS),
    (".taro@example.jp", messages.EMAIL_LOCAL_DOTS),
    ("taro.@example.jp", messages.EMAIL_LOCAL_DOTS),
    ("a" * 65 + "@example.jp", messages.EMAIL_TOO_LONG),
    ("a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".jp", messages.EMAIL_TOO_LONG),
    ("taro@example.local", messages.EMAIL_INVALID),  # a special-use name: email-validator's refusal
])
def test_email_refused_says_what_is_wrong(typed, message):
    with pytest.raises(InvalidInput) as exc:
        validators.email(typed)
    assert exc.value.message == message
    assert "メールアドレス" in exc.value.message


def test_email_with_an_at_is_never_told_to_add_one():
    """Issue 20: `taro@example` was told to include 「@」."""
    for typed in ("taro@example", "taro@localhost", "taro@example.", "taro@gmail.co", "taro..x@example.jp"):
        with pytest.raises(InvalidInput) as exc:
            validators.email(typed)
        assert "「@」を含めて" not in exc.value.message and exc.value.message != messages.EMAIL_INVALID
        assert "「@」の後ろ" in exc.value.message or "「@」の前" in exc.value.message


def test_no_common_domain_typo_is_a_domain_customers_really_have():
    for mistyped, meant in validators.COMMON_DOMAIN_TYPOS.items():
        assert validators.email(f"taro@{meant}") == f"taro@{meant}"
        assert mistyped not in ("gmail.com", "yahoo.co.jp", "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp",
                                "i.softbank.jp", "icloud.com", "outlook.com", "outlook.jp", "hotmail.com",
                                "hotmail.co.jp", "au.com", "ymail.ne.jp", "me.com", "mac.com")


def test_email_refusals_are_fast_on_long_input():
    """Hostile long input is refused in time that grows with its length, not its square: ten times
    the text, at most forty times the time (a quadratic check would take a hundred)."""
    import time

    def cost(n: int) -> float:  # this thread's CPU time: waiting for a core on a busy machine is not the code's
        started = time.thread_time()
        for typed in ("a" * (2 * n), "a@" * n, "a." * n + "@example.jp", "taro@" + "a." * n):
            with pytest.raises(InvalidInput):
                validators.email(typed)
        return time.thread_time() - started

    small, large = min(cost(250) for _ in range(3)), min(cost(2500) for _ in range(3))
    assert large < max(small, 0.0005) * 40


@pytest.mark.parametrize(("typed", "expected"), [
    ("たろう", "たろう"),
    ("  たろう  ", "たろう"),
    ("ﾀﾛｳ", "タロウ"),  # NFKC
    ("Taro", "Taro"),
    ("あ", "あ"),
    ("あ" * 20, "あ" * 20),
    ("太郎🐱", "太郎🐱"),
    ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # emoji joined by ZWJ
])
def test_nickname_accepted(typed, expected):
    assert validators.nickname(typed) == expected


@pytest.mark.parametrize(("typed", "message"), [
    ("", messages.NICKNAME_LENGTH),
    ("   ", messages.NICKNAME_LENGTH),
    ("\u3000", messages.NICKNAME_LENGTH),
    ("あ" * 21, messages.NICKNAME_LENGTH),
    ("た\nろう", messages.NICKNAME_CONTROL),
    ("たろう\x00", messages.NICKNAME_CONTROL),
    ("たろう\x1b[31m", messages.NICKNAME_CONTROL),
    ("\u202eうろた", messages.NICKNAME_CONTROL),  # right-to-left override
    ("た\u200bろう", messages.NICKNAME_CONTROL),  # zero-width space
])
def test_nickname_refused(typed, message):
    with pytest.raises(InvalidInput) as exc:
        validators.nickname(typed)
    assert exc.value.message == message
    assert "ニックネーム" in exc.value.message


OWNER = {"account_id": "Aicom_Taro", "phone": "0748621234", "customer_number": "12345678"}


@pytest.mark.parametrize(("typed", "expected"), [
    ("Koka2026", "Koka2026"),
    ("kokatarou1", "kokatarou1"),  # lower + digits
    ("KOKATAROU1", "KOKATAROU1"),  # upper + digits
    ("KokaTarou", "KokaTarou"),  # upper + lower
    ("Ko!ka#20$6", "Ko!ka#20$6"),  # symbols are fine
    ("Ｋｏｋａ２０２６", "Koka2026"),  # NFKC first: full-width typing folds
    ("Abcdefg1" * 2, "Abcdefg1" * 2),  # exactly 16
])
def test_password_accepted(typed, expected):
    assert validators.password(typed, **OWNER) == expected


@pytest.mark.parametrize(("typed", "message"), [
    ("", messages.PASSWORD_EMPTY),
    ("Koka202", messages.PASSWORD_TOO_SHORT),
    ("Koka2026Koka2026K", messages.PASSWORD_TOO_LONG),  # 17: refused, never cut to 16
    ("Ｋｏｋａ２０２６Ｋｏｋａ２０２６Ｋ", messages.PASSWORD_TOO_LONG),
    ("kokatarou", messages.PASSWORD_KINDS),
    ("KOKATAROU", messages.PASSWORD_KINDS),
    ("20262026", messages.PASSWORD_KINDS),
    ("!!!!@@@@", messages.PASSWORD_KINDS),
    ("Koka 2026", messages.PASSWORD_CHARS),  # space
    ("Koka2026あ", messages.PASSWORD_CHARS),
    ("Kokä20266", messages.PASSWORD_CHARS),
    ("Koka\t2026", messages.PASSWORD_CHARS),
    ("Koka\x002026", messages.PASSWORD_CHARS),  # NUL never reaches the database
    ("Aicom_Taro", messages.PASSWORD_SAME_AS_ACCOUNT_ID),
    ("aicom_taro", messages.PASSWORD_SAME_AS_ACCOUNT_ID),  # ignoring case
    ("AICOM_TARO", messages.PASSWORD_SAME_AS_ACCOUNT_ID),
    ("0748621234", messages.PASSWORD_SAME_AS_PHONE),
    ("0748-62-1234", messages.PASSWORD_SAME_AS_PHONE),
    ("12345678", messages.PASSWORD_SAME_AS_CUSTOMER_NUMBER),
    ("012345678", messages.PASSWORD_SAME_AS_CUSTOMER_NUMBER),
])
def test_password_refused(typed, message):
    with pytest.raises(InvalidInput) as exc:
        validators.password(typed, **OWNER)
    assert exc.value.message == message
    assert "パスワード" in exc.value.message


def test_every_validation_message_is_short_enough_for_one_line_on_a_phone():
    for name in ("CUSTOMER_NUMBER_INVALID", "PHONE_INVALID", "NAME_KANA_INVALID", "ACCOUNT_ID_RULES",
                 "EMAIL_INVALID", "NICKNAME_LENGTH", "NICKNAME_CONTROL", "EMAIL_EMPTY", "EMAIL_NO_AT", "EMAIL_TWO_AT",
                 "EMAIL_NO_LOCAL", "EMAIL_NO_DOMAIN", "EMAIL_DOMAIN_INCOMPLETE", "EMAIL_DOMAIN_INVALID",
                 "EMAIL_DOMAIN_TYPO", "EMAIL_LOCAL_DOTS", "EMAIL_SPACE", "EMAIL_NOT_ASCII", "EMAIL_BAD_CHAR",
                 "EMAIL_TOO_LONG"):
        assert len(getattr(messages, name)) <= 120, name


@pytest.mark.parametrize(("seconds", "label"), [(86400, "24時間"), (3600, "1時間"), (1800, "30分"), (59, "1分")])
def test_valid_for_label(seconds, label):
    assert messages.valid_for_label(seconds) == label

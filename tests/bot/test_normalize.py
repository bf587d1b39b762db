"""bot/normalize.py: what people really type, turned into the one canonical form."""

from __future__ import annotations

import pytest

from bot import normalize


@pytest.mark.parametrize(("typed", "canonical"), [
    ("12345678", "12345678"),
    ("0012345678", "12345678"),
    ("１２３４５６７８", "12345678"),
    ("０１２３４５６７８", "12345678"),
    (" 12345678 ", "12345678"),
    ("1234-5678", "12345678"),
    ("1234－5678", "12345678"),
    ("1234ー5678", "12345678"),
    ("1234 5678", "12345678"),
    ("1234\u30005678", "12345678"),
    ("0000", "0"),
    ("12a45", "12a45"),  # left for the validator to refuse
])
def test_customer_number(typed, canonical):
    assert normalize.customer_number(typed) == canonical


@pytest.mark.parametrize(("typed", "canonical"), [
    ("0748621234", "0748621234"),
    ("0748-62-1234", "0748621234"),
    ("０７４８－６２－１２３４", "0748621234"),  # full-width digits and hyphen minus
    ("0748ー62ー1234", "0748621234"),  # katakana long vowel from a kana-mode IME
    ("0748−62−1234", "0748621234"),  # U+2212 minus
    ("0748‐62‐1234", "0748621234"),  # U+2010 hyphen
    ("0748–62–1234", "0748621234"),  # en dash
    ("0748ｰ62ｰ1234", "0748621234"),  # half-width long vowel
    ("(0748)62-1234", "0748621234"),
    ("（０７４８）６２－１２３４", "0748621234"),
    ("0748 62 1234", "0748621234"),
    ("0748\u300062\u30001234", "0748621234"),
    ("090.1234.5678", "09012345678"),
    ("+81 90-1234-5678", "09012345678"),
    ("+81-748-62-1234", "0748621234"),
    ("+81 (0)748-62-1234", "0748621234"),
    ("＋８１９０１２３４５６７８", "09012345678"),
    ("819012345678", "09012345678"),
    ("09012345678", "09012345678"),
])
def test_phone(typed, canonical):
    assert normalize.phone(typed) == canonical


@pytest.mark.parametrize(("typed", "canonical"), [
    ("アイコム　タロウ", "アイコム\u3000タロウ"),
    ("アイコム タロウ", "アイコム\u3000タロウ"),
    ("アイコム   タロウ", "アイコム\u3000タロウ"),
    ("  アイコム\u3000\u3000タロウ  ", "アイコム\u3000タロウ"),
    ("アイコム\tタロウ", "アイコム\u3000タロウ"),
    ("ｱｲｺﾑ ﾀﾛｳ", "アイコム\u3000タロウ"),
    ("あいこむ たろう", "アイコム\u3000タロウ"),
    ("あいこむ　タロウ", "アイコム\u3000タロウ"),
    ("ｶﾞｯｺｳ ﾊﾟﾊﾟ", "ガッコウ\u3000パパ"),
    ("ヴィーナス", "ヴィーナス"),
    ("ｳﾞｨｰﾅｽ", "ヴィーナス"),
    ("ゔぃーなす", "ヴィーナス"),
    ("う゛ぃーなす", "ヴィーナス"),  # spacing voiced mark U+309B
    ("ウ゛ィーナス", "ヴィーナス"),
    ("ウ\u3099ィーナス", "ヴィーナス"),  # combining voiced mark
    ("ハ゜パ", "パパ"),  # spacing semi-voiced mark U+309C
    ("コーヒー", "コーヒー"),
    ("コ－ヒ－", "コーヒー"),  # full-width hyphen minus
    ("コ-ヒ-", "コーヒー"),
    ("コ−ヒ−", "コーヒー"),  # U+2212 minus
    ("コ‐ヒ‐", "コーヒー"),  # U+2010 hyphen
    ("コ〜ヒ〜", "コーヒー"),
    ("コ～ヒ～", "コーヒー"),
    ("ｺｰﾋｰ", "コーヒー"),
    ("スミス・ジョン", "スミス・ジョン"),
    ("ｽﾐｽ･ｼﾞｮﾝ", "スミス・ジョン"),
    ("ゐゑ", "ヰヱ"),
    ("", ""),
    ("   ", ""),
])
def test_kana_name(typed, canonical):
    assert normalize.kana_name(typed) == canonical


@pytest.mark.parametrize(("value", "ok"), [
    ("アイコム\u3000タロウ", True),
    ("タロウ", True),
    ("スミス・ジョン", True),
    ("コーヒー", True),
    ("", False),
    ("アイコム タロウ", False),  # ASCII space: not canonical
    ("アイコム\u3000\u3000タロウ", False),
    ("\u3000タロウ", False),
    ("アイコム太郎", False),
    ("Taro", False),
    ("あいこむ", False),  # hiragana: kana_name() turns it into katakana first
    ("タロウ1", False),
])
def test_is_katakana_name(value, ok):
    assert normalize.is_katakana_name(value) is ok


def test_kana_name_then_is_katakana_name_for_typed_forms():
    for typed in ("ｱｲｺﾑ ﾀﾛｳ", "あいこむ　たろう", "う゛ぃーなす", "コ〜ヒ〜"):
        assert normalize.is_katakana_name(normalize.kana_name(typed))


@pytest.mark.parametrize(("typed", "key"), [
    ("今月の料金", "今月の料金"),
    ("今月の 料金。", "今月の料金"),
    ("キャンセル！", "キャンセル"),
    ("ｷｬﾝｾﾙ", "キャンセル"),
    ("２０２６年９月の料金", "2026年9月の料金"),
])
def test_command_text(typed, key):
    assert normalize.command_text(typed) == key


@pytest.mark.parametrize(("masker", "value", "masked"), [
    (normalize.mask_customer_number, "12345678", "****5678"),
    (normalize.mask_customer_number, "1234", "****"),
    (normalize.mask_phone, "0748621234", "******1234"),
    (normalize.mask_email, "taro@example.jp", "t***@example.jp"),
    (normalize.mask_email, "no-at-sign", "***"),
])
def test_masks(masker, value, masked):
    assert masker(value) == masked

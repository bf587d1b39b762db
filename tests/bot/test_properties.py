"""Property-based tests (hypothesis): the normalisers and validators, fed anything at all.

Normalisers never raise and are idempotent (normalising twice changes nothing more, so a
stored value and a typed one compare alike whichever was normalised first); validators
either return a value that validates to itself or refuse with ``InvalidInput``, nothing else;
the masks never show more than four characters of what they mask.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import normalize, validators
from bot.errors import InvalidInput

SCALE = int(os.environ.get("HYPOTHESIS_SCALE", "1"))  # make test-stress tries ten times as many
# Text people type: any Unicode, weighted toward what Japanese keyboards and phones produce.
JAPANESE = st.sampled_from(list("0123456789０１２３４５６７８９アイコムタロウｱｲｺﾑﾀﾛｳあいこむたろうー－‐ｰ−～〜゛゜゙゚ 　"
                                "()（）+.@-_ａｂｃABC漢字"))
TYPED = st.one_of(st.text(max_size=60), st.text(JAPANESE, max_size=40),
                  st.lists(st.sampled_from(["+81", "81", "0", "090", "-", "ー", "ｶﾞ", "う゛", "\u3000"]),
                           max_size=8).map("".join))

NORMALISERS = [normalize.nfkc, normalize.digits_only, normalize.customer_number, normalize.phone,
               normalize.kana_name, normalize.command_text]


@pytest.mark.parametrize("normaliser", NORMALISERS, ids=lambda f: f.__name__)
@settings(max_examples=400 * SCALE, deadline=None, database=None)
@given(text=TYPED)
def test_normalisers_never_raise_and_are_idempotent(normaliser, text):
    once = normaliser(text)
    assert isinstance(once, str)
    assert normaliser(once) == once


@pytest.mark.parametrize("mask", [normalize.mask_customer_number, normalize.mask_phone, normalize.mask_email],
                         ids=lambda f: f.__name__)
@settings(max_examples=200 * SCALE, deadline=None, database=None)
@given(value=st.text(max_size=40))
def test_masks_never_raise_and_never_show_more_than_four_characters(mask, value):
    masked = mask(value)
    shown = masked.replace("*", "")
    if mask is normalize.mask_email:
        local, at, _domain = value.partition("@")
        assert masked == "***" or masked.startswith(local[:1] + "***@")
    else:
        assert len(shown) <= 4


SINGLE = [validators.customer_number, validators.phone, validators.kana_name, validators.account_id,
          validators.email, validators.nickname]


@pytest.mark.parametrize("validator", SINGLE, ids=lambda f: f.__name__)
@settings(max_examples=300 * SCALE, deadline=None, database=None)
@given(text=TYPED)
def test_validators_return_a_fixed_point_or_refuse_politely(validator, text):
    try:
        value = validator(text)
    except InvalidInput as exc:
        assert exc.args and isinstance(exc.args[0], str) and exc.args[0]
        return
    assert validator(value) == value


@settings(max_examples=300 * SCALE, deadline=None, database=None)
@given(text=TYPED, account=st.text(max_size=30), phone=st.text(max_size=12), number=st.text(max_size=10))
def test_the_password_rules_never_raise_anything_but_a_refusal(text, account, phone, number):
    try:
        validators.password(text, account_id=account, phone=phone, customer_number=number)
    except InvalidInput:
        pass

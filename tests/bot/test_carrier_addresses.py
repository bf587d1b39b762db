"""Legacy Japanese carrier mail addresses (``taro..x@docomo.ne.jp``, ``hanako.@ezweb.ne.jp``).

Until April 2009 docomo and au let customers choose local parts that break RFC 5322's dot
rules; they are still in use. They are accepted for the 仮登録 mail on the carrier domains
that issued them (``bot.validators.LEGACY_CARRIER_DOMAINS``), and sent with the local part
quoted, as RFC 5321 allows; everything else still goes through email-validator.
"""

from __future__ import annotations

import pytest

from bot import validators
from bot.errors import InvalidInput
from handlers.mail import envelope_address
from tests.helpers_registration import provisional, seed_customer


@pytest.mark.parametrize("typed, stored", [
    ("taro..x@docomo.ne.jp", "taro..x@docomo.ne.jp"),
    ("hanako.@ezweb.ne.jp", "hanako.@ezweb.ne.jp"),
    ("hanako.@EZWEB.NE.JP", "hanako.@ezweb.ne.jp"),
    ("ｔａｒｏ..ｘ＠ｄｏｃｏｍｏ．ｎｅ．ｊｐ", "taro..x@docomo.ne.jp"),  # typed full-width
    ("..taro@au.com", "..taro@au.com"),
    ("jiro._.@i.softbank.jp", "jiro._.@i.softbank.jp"),
])
def test_legacy_carrier_addresses_are_accepted_on_the_carriers_domains(typed, stored):
    assert validators.email(typed) == stored


@pytest.mark.parametrize("typed", [
    "taro..x@example.jp", "hanako.@gmail.com", "taro..x@docomo.ne.jp.evil.example",  # not a carrier that issued them
    "taro x..@docomo.ne.jp", "ta<ro..@docomo.ne.jp", 'ta"ro..@docomo.ne.jp', "..@@docomo.ne.jp",  # other breakage
    "x" * 65 + ".@docomo.ne.jp",  # longer than a local part may be
])
def test_other_broken_addresses_are_still_refused(typed):
    with pytest.raises(InvalidInput) as refused:
        validators.email(typed)
    assert refused.value.args[0].startswith("メールアドレス")  # each says what is wrong (issue 20)


def test_ordinary_addresses_still_go_through_email_validator():
    assert validators.email("Taro@Example.JP") == "Taro@example.jp"


@pytest.mark.parametrize("address, envelope", [
    ("taro..x@docomo.ne.jp", '"taro..x"@docomo.ne.jp'),
    ("hanako.@ezweb.ne.jp", '"hanako."@ezweb.ne.jp'),
    ("taro@example.jp", "taro@example.jp"),
])
def test_the_envelope_quotes_only_what_needs_it(address, envelope):
    assert envelope_address(address) == envelope


@pytest.mark.parametrize("address", ["taro..x@docomo.ne.jp", "hanako.@ezweb.ne.jp"])
def test_the_provisional_registration_mail_reaches_a_legacy_carrier_address(app, line_user, mailbox, address):
    from tests.line_driver import drain_jobs

    seed_customer(app)
    replies = provisional(line_user, email=address)
    assert "仮登録が完了しました" in replies[0]["text"], replies
    drain_jobs(app)
    mails = mailbox.wait(1)
    assert len(mails) == 1
    # Sent as RCPT TO:<"taro..x"@docomo.ne.jp> (unquoted, aiosmtpd refuses it like other servers
    # do); aiosmtpd hands the handler the mailbox it understood, without the quotes.
    assert mailbox.recipients == [[address]]
    to = mails[0]["To"].addresses[0]
    assert (to.username, to.domain) == tuple(address.rsplit("@", 1))

"""The log guard itself (tests/log_guard.py): it catches what it must, and lets masked values through."""

from __future__ import annotations

import logging

import pytest

from bot.normalize import mask_customer_number, mask_email, mask_phone
from tests import log_guard
from tests.line_driver import LineUser

log = logging.getLogger("handlers.guard_check")


@pytest.mark.parametrize("line", [
    "sent to taro@example.jp", "phone 0748-62-1234", "phone 09087654321", "customer 12345678",
    "password Koka2026pass", "token test-access-token", "link /register/complete/abcdefghijklmnopqrstu",
    "GET /mypage/bills/3?t=abcdefghijklmnop1234", 'to "taro..x"@docomo.ne.jp',
])
def test_the_guard_catches_personal_data_and_secrets(caplog, line):
    log.info("%s", line)
    assert log_guard.check_records(caplog.records)
    caplog.clear()  # the autouse check after this test would (rightly) fail on it


def test_the_guard_catches_what_a_customer_typed(app, client, line_api, caplog):
    LineUser(client, line_api, app).text_event("引っ越しの相談をしたいです")
    log.info("the customer wrote 引っ越しの相談をしたいです")
    assert log_guard.check_records(caplog.records)
    caplog.clear()


def test_masked_values_and_the_senders_address_pass(caplog):
    log.info("customer %s phone %s mail %s from noreply@aicom-koka.jp", mask_customer_number("12345678"),
             mask_phone("0748621234"), mask_email("taro@example.jp"))
    assert log_guard.check_records(caplog.records) == []

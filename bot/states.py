"""Every conversation state, as readable strings stored in Redis (``<flow>:<step>``)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a person is in a flow. No state stored means: not in any flow."""

    # registration (verification, then the account's details)
    REGISTER_CUSTOMER_NUMBER = "register:customer_number"
    REGISTER_PHONE = "register:phone"
    REGISTER_NAME_KANA = "register:name_kana"
    REGISTER_ACCOUNT_ID = "register:account_id"
    REGISTER_EMAIL = "register:email"
    REGISTER_NICKNAME = "register:nickname"
    REGISTER_CONFIRM = "register:confirm"
    REGISTER_CHOOSE_FIX = "register:choose_fix"
    # unlinking
    UNLINK_CONFIRM = "unlink:confirm"

"""The flow table: every flow the bot knows, in the order their entry points are tried."""

from __future__ import annotations

from bot.engine import Flow


def all_flows() -> list[Flow]:
    """Every flow, in the order entry points are matched."""
    from bot.flows import account_link, billing, contact, notices, registration, unlink

    return [billing.FLOW, account_link.FLOW, registration.FLOW, unlink.FLOW, notices.FLOW, contact.FLOW]

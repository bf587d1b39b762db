"""The flow table: every flow the bot knows, in the order their entry points are tried."""

from __future__ import annotations

from bot.engine import Flow


def all_flows() -> list[Flow]:
    """Every flow, in the order entry points are matched (and intercepts asked: the handoff first,
    so a chat with staff is never answered by another flow)."""
    from bot.flows import account_link, billing, customer_menu, handoff, notices, registration, unlink

    return [handoff.FLOW, billing.FLOW, account_link.FLOW, registration.FLOW, unlink.FLOW, notices.FLOW,
            customer_menu.FLOW]

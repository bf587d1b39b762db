"""The Slack Web API client (``SLACK_API_BASE_URL``), our bot's identity, and LINE display names.

The display names come through the LINE edge's Messaging API client, which the factory wires as
``app.extensions["line_messaging_api"]`` (``handlers.line``): this edge builds no LINE client of
its own and never imports the LINE edge."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

SLACK_TIMEOUT_SECONDS = 10
LINE_TIMEOUT = (2, 5)


@dataclass(frozen=True)
class BotIdentity:
    """Who we are in Slack (``auth.test``): our own messages are never taken as staff replies."""

    team_id: str
    user_id: str
    bot_id: str


def web_client() -> WebClient:
    """The app's Slack client."""
    return current_app.extensions["slack_client"]


def verifier() -> SignatureVerifier | None:
    """The signature checker, or None when ``SLACK_SIGNING_SECRET`` is unset (every request refused)."""
    return current_app.extensions.get("slack_verifier")


def bot_identity() -> BotIdentity:
    """Our team, bot user and bot id, asked once per process (``auth.test``).

    When Slack will not say, the identity is empty for now (asked again next time): our own posts
    still carry ``bot_id`` and are ignored for that, and the channel is still checked.
    """
    cached = current_app.extensions.get("slack_identity")
    if cached is None:
        try:
            answer = web_client().auth_test()
        except Exception as exc:  # noqa: BLE001 - SlackApiError or the network; not worth losing a reply
            log.warning("Slack auth.test failed (%s); checking events without our identity", exc.__class__.__name__)
            return BotIdentity("", "", "")
        cached = BotIdentity(str(answer.get("team_id") or ""), str(answer.get("user_id") or ""),
                             str(answer.get("bot_id") or ""))
        current_app.extensions["slack_identity"] = cached
    return cached


def line_display_name(line_user_id: str) -> str | None:
    """The customer's LINE display name (Messaging API ``get_profile``), or None when LINE will not say."""
    try:
        api = current_app.extensions["line_messaging_api"]  # the LINE edge's client (see the module docstring)
        return api.get_profile(line_user_id, _request_timeout=LINE_TIMEOUT).display_name
    except Exception as exc:  # noqa: BLE001 - a missing name must not hold up the escalation
        log.info("LINE profile not fetched (%s)", exc.__class__.__name__)
        return None


def init_app(app: Flask) -> None:
    """Build the Slack client and verifier."""
    base_url = app.config.get("SLACK_API_BASE_URL") or "https://slack.com/api/"
    if not base_url.endswith("/"):
        base_url += "/"
    app.extensions["slack_client"] = WebClient(token=app.config.get("SLACK_BOT_TOKEN"), base_url=base_url,
                                               timeout=SLACK_TIMEOUT_SECONDS)
    if app.config.get("SLACK_SIGNING_SECRET"):
        app.extensions["slack_verifier"] = SignatureVerifier(app.config["SLACK_SIGNING_SECRET"])

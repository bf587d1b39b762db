"""The Slack Web API client (``SLACK_API_BASE_URL``), our bot's identity, and LINE display names."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi
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
        return current_app.extensions["slack_line_api"].get_profile(line_user_id,
                                                                   _request_timeout=LINE_TIMEOUT).display_name
    except Exception as exc:  # noqa: BLE001 - a missing name must not hold up the escalation
        log.info("LINE profile not fetched (%s)", exc.__class__.__name__)
        return None


def init_app(app: Flask) -> None:
    """Build the Slack client and verifier, and a Messaging API client for display names."""
    base_url = app.config.get("SLACK_API_BASE_URL") or "https://slack.com/api/"
    if not base_url.endswith("/"):
        base_url += "/"
    app.extensions["slack_client"] = WebClient(token=app.config.get("SLACK_BOT_TOKEN"), base_url=base_url,
                                               timeout=SLACK_TIMEOUT_SECONDS)
    if app.config.get("SLACK_SIGNING_SECRET"):
        app.extensions["slack_verifier"] = SignatureVerifier(app.config["SLACK_SIGNING_SECRET"])
    app.extensions["slack_line_api"] = MessagingApi(ApiClient(Configuration(
        host=app.config["LINE_API_BASE_URL"], access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"])))

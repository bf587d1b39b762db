"""The Slack edge: escalation threads for support staff.

``routes`` serves ``/slack/events`` and ``/slack/interactions`` (signature and 5-minute
window checked over the raw body, retries deduplicated, everything else queued as jobs so
Slack gets its answer within 3 seconds); ``threads`` holds those jobs: the ordered outbox
drain that posts to Slack, staff replies and 対応完了 handed to the conversation, and the
handoff's no-reply timer; ``client`` builds the Web API client and fetches LINE profiles.
"""

from __future__ import annotations

import logging

from flask import Flask

from handlers.slack import client, routes

log = logging.getLogger(__name__)


def configured(config) -> bool:
    """Slack takes escalations when its token, signing secret and channel are all set."""
    return bool(config.get("SLACK_BOT_TOKEN") and config.get("SLACK_SIGNING_SECRET") and config.get("SLACK_CHANNEL_ID"))


def init_app(app: Flask) -> None:
    """Register the routes (the factory's effect table chooses the staff outbox's job: Slack's when
    configured, else the emulator's staff pane, else escalations wait unseen, said loudly here)."""
    client.init_app(app)
    if not configured(app.config) and not app.config.get("EMULATOR"):
        log.warning("Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_CHANNEL_ID): "
                    "chats handed to staff reach nobody; customers are offered the phone after the no-reply time")
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(routes.bp)  # signed by Slack; no browser form
    app.register_blueprint(routes.bp)

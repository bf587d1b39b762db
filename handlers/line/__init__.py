"""The LINE edge: the webhook (``/callback``), LINE messages rendered from reply values, the
Messaging API client, and the functions and jobs that reply and push.

``webhook`` translates LINE events into ``bot.types.Incoming`` and runs the engine;
``render`` turns ``bot.types`` replies into LINE message JSON (text, quick replies, Flex);
``delivery`` talks to the Messaging API (reply, push jobs, loading animation, link tokens).
"""

from __future__ import annotations

from flask import Flask
from linebot.v3 import WebhookParser
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

from bot.engine import BotSettings, Engine
from bot.flows import all_flows
from bot.flows.menu import show_menu
from handlers import jobs
from handlers.line import notices, webhook
from handlers.mail import send_mail_job


def init_app(app: Flask) -> None:
    """Build the parser, the Messaging API client and the engine, and register the webhook."""
    app.extensions["line_parser"] = WebhookParser(app.config["LINE_CHANNEL_SECRET"])
    client = ApiClient(Configuration(host=app.config["LINE_API_BASE_URL"],
                                     access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"]))
    app.extensions["line_messaging_api"] = MessagingApi(client)
    settings = BotSettings(
        public_base_url=app.config["PUBLIC_BASE_URL"],
        registration_ttl_seconds=app.config["REGISTRATION_LINK_TTL_SECONDS"],
        support_hours=app.config["SUPPORT_HOURS"],
        secret=app.config["SECRET_KEY"],
    )
    app.extensions["engine"] = Engine(all_flows(), app.extensions["state"], app.extensions["db"].sessions,
                                      settings, show_menu, clock=app.config.get("CLOCK"))
    jobs.register_effect(app, "SendMail", send_mail_job)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(webhook.bp)  # signed by LINE; no browser form
    app.register_blueprint(webhook.bp)
    notices.init_app(app)  # notify-bills and the monthly schedule

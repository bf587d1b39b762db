"""The LINE edge: the webhook (``/callback``), LINE messages rendered from reply values, the
Messaging API client, and the functions and jobs that reply and push.

``webhook`` verifies LINE's signature and queues each event (``queued.QueuedEvent``);
``render`` turns ``bot.types`` replies into LINE message JSON (text, quick replies, Flex);
``delivery`` talks to the Messaging API (reply, push jobs, loading animation, link tokens);
``worker`` runs the turns (``turn``) off the event queue (in ``flask --app app worker``, or
inside the web process under ``make run``); ``notices`` sends the monthly bill notices.
"""

from __future__ import annotations

import threading
from functools import partial

from flask import Flask
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

from bot.engine import BotSettings, Engine
from bot.flows import all_flows
from bot.flows.menu import show_menu
from bot.flows.understand import FreeTextReader
from bot.understanding.library import FaqLibrary
from handlers import clock, jobs, metrics
from handlers.line import notices, richmenu, webhook, worker
from storage.events import GROUP, EventQueue
from storage.keys import stream_key


def init_app(app: Flask) -> None:
    """Build the Messaging API client and the engine, and register the webhook (which checks the
    signature itself, over the raw bytes: ``webhook.signature_matches``)."""
    client = ApiClient(Configuration(host=app.config["LINE_API_BASE_URL"],
                                     access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"]))
    app.extensions["line_messaging_api"] = MessagingApi(client)  # the one client: `check` and Slack use it too
    settings = BotSettings(
        public_base_url=app.config["PUBLIC_BASE_URL"],
        registration_ttl_seconds=app.config["REGISTRATION_LINK_TTL_SECONDS"],
        support_hours=app.config["SUPPORT_HOURS"],
        support_closed_days=app.config["SUPPORT_CLOSED_DAYS"],
        secret=app.config["SECRET_KEY"],
    )
    # Free text: one reader per process, its FAQ index refitted when an import changes the version.
    app.extensions["free_text"] = FreeTextReader(FaqLibrary(check_seconds=app.config["FAQ_REFRESH_SECONDS"]))
    app.extensions["engine"] = Engine(all_flows(), app.extensions["state"], app.extensions["db"].sessions,
                                      settings, show_menu, clock=partial(clock.now, app),
                                      free_text=app.extensions["free_text"], limits=app.extensions["limits"])
    app.extensions["event_queue"] = EventQueue(
        app.extensions["redis"], partitions=app.config.get("EVENT_PARTITIONS", 16),
        max_queued=app.config.get("EVENT_QUEUE_MAX", 50_000), lease_seconds=app.config.get("EVENT_LEASE_SECONDS", 15.0))
    jobs.register_worker_service(app, "LINE events", _start_events, worker.drain_events)
    queue = app.extensions["event_queue"]
    metrics.register_queue_probe(
        app, "line_events",
        lambda detail: [metrics.stream_stats(app.extensions["redis"], stream_key(p), GROUP, "line_events", str(p))
                        for p in range(queue.partitions)])
    if app.config.get("EVENTS_INLINE") or not app.config.get("REDIS_URL"):
        _start_with_first_request(app)
    richmenu.init_app(app)  # the rich menus: data-host client, the SwitchMenu and SyncRichMenus jobs
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(webhook.bp)  # signed by LINE; no browser form
    app.register_blueprint(webhook.bp)
    notices.init_app(app)  # the notices' monthly schedule and batch job (notify-bills: handlers.cli.notices)


def _start_events(app: Flask, threads: int):
    """Start the event consumers for ``flask --app app worker``; returns what stops them."""
    consumers = worker.EventWorker(app, threads=threads or app.config.get("EVENT_WORKER_THREADS", 4))
    consumers.start()
    return consumers.stop


def _start_with_first_request(app: Flask) -> None:
    """In-process event consumers (``make run``), started by the first request the web
    process serves, so one-off commands (``db upgrade``, ``seed-demo``) start no threads."""
    started = threading.Lock()

    @app.before_request
    def _start_consumers() -> None:
        if "event_worker" in app.extensions or not started.acquire(blocking=False):
            return
        worker.start_in_process(app)

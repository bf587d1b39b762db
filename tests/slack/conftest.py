"""Fixtures for the Slack edge: a fake Slack Web API, Slack configured, a settable clock, signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.hours import TOKYO
from storage.models import Handoff
from tests.line_driver import drain_jobs
from tests.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, FakeSlackServer

SIGNING_SECRET = "test-slack-signing-secret"
CHANNEL = "C0HANDOFF"
STAFF = "U0STAFF01"


class Clock:
    """A settable clock (Asia/Tokyo) for the app: support hours depend on it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture(scope="session")
def fake_slack_server():
    server = FakeSlackServer()
    yield server
    server.stop()


@pytest.fixture
def slack(fake_slack_server) -> FakeSlack:
    """What the bot asked Slack to do in this test."""
    fake_slack_server.fake.clear()
    return fake_slack_server.fake


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO))  # a Tuesday, within 9:00-17:00


@pytest.fixture
def app_config(app_config, fake_slack_server, clock):
    return dict(app_config, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_CHANNEL_ID=CHANNEL, SLACK_API_BASE_URL=fake_slack_server.url, CLOCK=clock)


def signed_headers(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET,
                   content_type: str = "application/json") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


class SlackStaff:
    """Acts as Slack toward the app: signed event callbacks and button presses."""

    def __init__(self, client) -> None:
        self.client = client
        self.events = 0

    def post_event(self, event: dict, event_id: str | None = None, team_id: str = TEAM_ID,
                   headers: dict | None = None):
        self.events += 1
        body = json.dumps({"token": "x", "team_id": team_id, "api_app_id": "A0APP", "type": "event_callback",
                           "event_id": event_id or f"Ev{time.time_ns()}{self.events}", "event_time": int(time.time()),
                           "event": event}).encode()
        return self.client.post("/slack/events", data=body, headers={**signed_headers(body), **(headers or {})})

    def reply(self, thread_ts: str, text: str, user: str = STAFF, channel: str = CHANNEL, **extra):
        event = {"type": "message", "channel": channel, "user": user, "text": text,
                 "ts": f"{time.time():.6f}", "thread_ts": thread_ts, **extra}
        return self.post_event(event)

    def press_close(self, handoff_id: int, message_ts: str, user: str = STAFF, name: str = "suzuki",
                    channel: str = CHANNEL):
        payload = {"type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user, "username": name,
                                                                              "name": name},
                   "channel": {"id": channel}, "container": {"type": "message", "message_ts": message_ts},
                   "message": {"ts": message_ts, "text": "..."},
                   "actions": [{"action_id": "close_handoff", "value": str(handoff_id), "type": "button"}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.client.post("/slack/interactions", data=body,
                                headers=signed_headers(body, content_type="application/x-www-form-urlencoded"))


@pytest.fixture
def staff(client) -> SlackStaff:
    return SlackStaff(client)


def open_handoff(app, db_session_factory=None) -> Handoff:
    """The newest handoff, read fresh."""
    with app.extensions["db"].begin() as session:
        return session.scalars(select(Handoff).order_by(Handoff.id.desc())).first()


@pytest.fixture
def escalate(app, line_user, slack):
    """Send オペレーター and run the jobs: returns (the customer's replies, the handoff)."""

    def run(word: str = "オペレーター"):
        replies = line_user.say(word)
        drain_jobs(app)
        return replies, open_handoff(app)

    return run


__all__ = ["BOT_USER_ID", "CHANNEL", "STAFF", "TEAM_ID", "signed_headers", "drain_jobs", "open_handoff"]

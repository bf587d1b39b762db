"""Hostile requests at the Slack routes (issue 21, points 1 and 4): never a 5xx, never a traceback,
and nothing a customer controls is obeyed as Slack formatting."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.slack.conftest import signed_headers

ROUTES = ("/slack/events", "/slack/interactions")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("headers", [
    {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
    {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=é" + "0" * 63},
    {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=00"},
    {},
], ids=["timestamp-not-a-number", "signature-not-ascii", "timestamp-huge", "no-headers"])
def test_unauthenticated_junk_is_401(client, caplog, route, headers):
    response = client.post(route, data=b'{"type": "event_callback"}', headers=headers)
    assert response.status_code == 401
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "abc" not in caplog.text and "é" not in caplog.text  # header values are not copied into the log


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_that_is_not_utf8_is_401(client, route):
    body = b'{"type": "event_callback", "x": "\xff"}'
    response = client.post(route, data=body, headers=signed_headers(body))
    assert response.status_code == 401


@pytest.mark.parametrize("payload", [
    {"type": "block_actions", "channel": "C1", "actions": ["close_handoff"]},
    {"type": "block_actions", "user": "U1", "message": 3, "container": [], "team": "T1",
     "actions": [{"action_id": "close_handoff", "value": {"x": 1}}]},
    {"type": "block_actions", "actions": "close_handoff"},
    {"type": "block_actions", "actions": [None, 1, "x", []]},
], ids=["channel-a-string", "every-field-misshapen", "actions-a-string", "actions-of-junk"])
def test_signed_interactions_of_the_wrong_shape_are_answered_politely(client, payload):
    body = urlencode({"payload": json.dumps(payload)}).encode()
    response = client.post("/slack/interactions", data=body,
                           headers=signed_headers(body, content_type="application/x-www-form-urlencoded"))
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("event", [
    {"type": "message", "text": {"not": "a string"}, "thread_ts": ["x"], "channel": 1},
    {"type": "message", "user": None, "ts": 1.5},
])
def test_signed_events_of_the_wrong_shape_are_answered_politely(client, event):
    body = json.dumps({"type": "event_callback", "event_id": {"x": 1}, "team_id": [1], "event": event}).encode()
    response = client.post("/slack/events", data=body, headers=signed_headers(body))
    assert response.status_code == 200


# The app's own threads may touch ``random`` while Hypothesis draws; that is not the strategy's doing.
QUIET = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@QUIET
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES),
       timestamp=st.one_of(st.none(), st.text(max_size=30)),
       signature=st.one_of(st.none(), st.text(max_size=80), st.from_regex(r"v0=[0-9a-f]{64}", fullmatch=True)),
       body=st.binary(max_size=300))
def test_random_headers_and_bodies_never_get_a_5xx(client, route, timestamp, signature, body):
    headers = {}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp.encode("utf-8", "replace").decode("latin-1")
    if signature is not None:
        headers["X-Slack-Signature"] = signature.encode("utf-8", "replace").decode("latin-1")
    try:
        response = client.post(route, data=body, headers=headers)
    except ValueError:  # a header value the HTTP layer itself refuses (a newline) never reaches us
        return
    assert response.status_code < 500


@QUIET
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                st.sampled_from(["type", "user", "channel", "actions", "message", "container",
                                                 "team", "id", "value", "action_id", "ts", "event", "event_id",
                                                 "team_id", "text", "thread_ts"]), inner, max_size=5),
                            max_leaves=12))
def test_random_signed_payloads_never_get_a_5xx(client, payload):
    body = json.dumps({"type": "event_callback", "event": payload}).encode()
    assert client.post("/slack/events", data=body, headers=signed_headers(body)).status_code < 500
    form = urlencode({"payload": json.dumps({"type": "block_actions", **(payload if isinstance(payload, dict)
                                                                          else {"actions": payload})})}).encode()
    response = client.post("/slack/interactions", data=form,
                           headers=signed_headers(form, content_type="application/x-www-form-urlencoded"))
    assert response.status_code < 500


def test_a_display_name_cannot_ping_the_channel_or_disguise_a_link(escalate, slack, line_user, line_api):
    hostile = "<!channel> <https://evil.example|お支払い確認>"
    line_api.profiles[line_user.user_id] = {"userId": line_user.user_id, "displayName": hostile, "language": "ja"}
    line_user.say("<!here> 至急 <https://evil.example|こちら>")
    escalate()
    (post,) = slack.posts()
    shown = post["text"] + json.dumps(post["blocks"], ensure_ascii=False)
    assert "<!channel>" not in shown and "<!here>" not in shown and "<https://evil.example" not in shown
    assert "&lt;!channel&gt; &lt;https://evil.example|お支払い確認&gt;" in shown

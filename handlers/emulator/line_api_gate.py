"""The door of the fake LINE: what every fake endpoint does before it answers, and LINE's error body.

``admit`` is the first step of each route in ``line_api_fake`` and ``line_api_fake_richmenu``:
it checks the bearer token, waits the recorder's latency, answers an injected failure and
validates the body against LINE's OpenAPI spec (``line_schema``), recording every refusal into
the ``LineApiRecorder`` (``line_api_recorder``). ``record`` and ``refuse`` write one call with
the request's path, so a route body says only what LINE decided.
"""

from __future__ import annotations

import time
from typing import Any

from flask import jsonify, request

from handlers.emulator import line_schema
from handlers.emulator.line_api_recorder import ApiCall, LineApiRecorder

BAD_TOKEN_MESSAGE = "Authentication failed. Confirm that the access token in the authorization header is valid."


def line_error(status: int, message: str, details: list[str] | None = None):
    """LINE's error answer: ``message`` and, when there are any, ``details``."""
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = [{"message": d, "property": ""} for d in details]
    return jsonify(body), status


def record(recorder: LineApiRecorder, kind: str, body: Any = None, status: int = 200,
           errors: list[str] | None = None, user_id: str | None = None, retry_key: str | None = None) -> None:
    """Record one call to the current request's path, answered now."""
    recorder.record(ApiCall(kind, request.path, body, status, list(errors or []), time.time(), user_id, retry_key))


def refuse(recorder: LineApiRecorder, kind: str, status: int, message: str, body: Any = None,
           user_id: str | None = None):
    """Record a call LINE refuses with one message, and answer it as LINE does."""
    record(recorder, kind, body, status, [message], user_id)
    return line_error(status, message)


def authorised(recorder: LineApiRecorder) -> bool:
    """The request carries the channel access token."""
    return request.headers.get("Authorization", "") == f"Bearer {recorder.access_token}"


def admit(recorder: LineApiRecorder, kind: str, schema_name: str | None, user_id: str | None = None):
    """(body, None) for a call to answer, or (None, LINE's error answer) once it is recorded as refused."""
    body = request.get_json(silent=True) if request.data else None
    if not authorised(recorder):
        record(recorder, kind, body, 401, ["bad access token"], user_id)
        return None, line_error(401, BAD_TOKEN_MESSAGE)
    if recorder.latency:
        time.sleep(recorder.latency)
    failed = _injected_failure(recorder, kind, body, user_id)
    if failed is not None:
        return None, failed
    errors = _schema_errors(recorder, schema_name, body)
    if errors:
        record(recorder, kind, body, 400, errors, user_id)
        return None, line_error(400, f"The request body has {len(errors)} error(s)", errors)
    return body, None


def _injected_failure(recorder: LineApiRecorder, kind: str, body: Any, user_id: str | None):
    """Wait an injected delay; answer an injected status (recorded), else None."""
    target = user_id or (body.get("to") if isinstance(body, dict) else None)
    failure = recorder.next_failure(kind, target) if recorder.fail_next else None
    if failure is not None and failure.delay:
        time.sleep(failure.delay)
    if failure is None or failure.status is None:
        return None
    return refuse(recorder, kind, failure.status, failure.message, body, target)


def _schema_errors(recorder: LineApiRecorder, schema_name: str | None, body: Any) -> list[str]:
    """What LINE would say about the body (nothing when the route has no body or validation is off)."""
    if not schema_name or not recorder.validate:
        return []
    if body is None:
        return ["The request body has 1 error(s)"]
    return line_schema.validate(schema_name, body)

"""A local stand-in for LINE's Messaging API: the emulator's back end and the tests' fake LINE.

The bot's real line-bot-sdk client talks to it over HTTP (``LINE_API_BASE_URL``). Every route
first passes ``line_api_gate.admit`` (the bearer token, LINE's OpenAPI spec and message limits
from ``line_schema``, injected failures), answers as LINE does (400 with a ``message`` and
``details``), and records each call into the ``LineApiRecorder`` (``line_api_recorder``) that
the emulator page and the tests read.

This module holds the Messaging API host's blueprint (``make_blueprint``) and its message,
user and channel routes; the rich-menu routes and LINE's data host (rich-menu images) are in
``line_api_fake_richmenu``.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, jsonify, request

from handlers.emulator.line_api_fake_richmenu import add_rich_menu_routes
from handlers.emulator.line_api_gate import admit, line_error, record
from handlers.emulator.line_api_recorder import MONTHLY_LIMIT_MESSAGE, LineApiRecorder


def make_blueprint(recorder: LineApiRecorder, name: str = "line_api_fake") -> Blueprint:
    """The Messaging API endpoints the bot uses, recording into ``recorder``."""
    bp = Blueprint(name, __name__)
    _add_message_routes(bp, recorder)
    _add_user_routes(bp, recorder)
    _add_channel_routes(bp, recorder)
    add_rich_menu_routes(bp, recorder)
    return bp


def _sent(messages: list) -> dict:
    """LINE's answer to a delivered reply or push: one sent message ID each."""
    return {"sentMessages": [{"id": secrets.token_hex(8)} for _ in messages]}


def _add_message_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """Reply, push, multicast and the loading animation."""

    @bp.post("/v2/bot/message/reply")
    def reply():
        body, error = admit(recorder, "reply", "ReplyMessageRequest")
        if error:
            return error
        token = body["replyToken"]
        if not recorder.spend_reply_token(token):  # a reply token is good for one reply
            record(recorder, "reply", body, 400, ["Invalid reply token"])
            return line_error(400, "Invalid reply token")
        record(recorder, "reply", body, user_id=recorder.reply_user(token))
        return jsonify(_sent(body["messages"]))

    @bp.post("/v2/bot/message/push")
    def push():
        body, error = admit(recorder, "push", "PushMessageRequest")
        if error:
            return error
        retry_key = request.headers.get("X-Line-Retry-Key")
        verdict = recorder.accept_push(retry_key, len(body["messages"]))
        if verdict == "duplicate":
            record(recorder, "push", body, 409, ["retry key already accepted"], body["to"], retry_key)
            return line_error(409, "The retry key is already accepted")
        if verdict == "quota":
            record(recorder, "push", body, 429, [MONTHLY_LIMIT_MESSAGE], body["to"], retry_key)
            return line_error(429, MONTHLY_LIMIT_MESSAGE)
        record(recorder, "push", body, user_id=body["to"], retry_key=retry_key)
        return jsonify(_sent(body["messages"]))

    @bp.post("/v2/bot/message/multicast")
    def multicast():
        body, error = admit(recorder, "multicast", "MulticastRequest")
        if error:
            return error
        record(recorder, "multicast", body)
        return jsonify({})

    @bp.post("/v2/bot/chat/loading/start")
    def loading():
        body, error = admit(recorder, "loading", "ShowLoadingAnimationRequest")
        if error:
            return error
        record(recorder, "loading", body, user_id=body.get("chatId"))
        return jsonify({}), 202


def _add_user_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """A user's profile and an account-link token."""

    @bp.get("/v2/bot/profile/<user_id>")
    def profile(user_id: str):
        _body, error = admit(recorder, "profile", None, user_id)
        if error:
            return error
        record(recorder, "profile", user_id=user_id)
        return jsonify(recorder.profile(user_id))

    @bp.post("/v2/bot/user/<user_id>/linkToken")
    def link_token(user_id: str):
        _body, error = admit(recorder, "link_token", None, user_id)
        if error:
            return error
        token = secrets.token_urlsafe(24)
        record(recorder, "link_token", {"linkToken": token}, user_id=user_id)
        return jsonify({"linkToken": token})


def _add_channel_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """The channel and its message quota (operators' check; bill notices)."""

    @bp.get("/v2/bot/info")
    def bot_info():
        _body, error = admit(recorder, "bot_info", None)
        if error:
            return error
        record(recorder, "bot_info")
        return jsonify(recorder.bot_info)

    @bp.get("/v2/bot/message/quota")
    def quota():
        _body, error = admit(recorder, "quota", None)
        if error:
            return error
        record(recorder, "quota")
        if recorder.quota is None:
            return jsonify({"type": "none"})
        return jsonify({"type": "limited", "value": recorder.quota})

    @bp.get("/v2/bot/message/quota/consumption")
    def quota_consumption():
        _body, error = admit(recorder, "quota_consumption", None)
        if error:
            return error
        record(recorder, "quota_consumption")
        return jsonify({"totalUsage": max(recorder.quota_used - recorder.consumption_lag, 0)})

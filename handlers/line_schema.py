"""Validation of Messaging API request bodies, as LINE does it (placeholder: limits only).

``validate(schema_name, body)`` returns a list of error strings (empty when LINE would
accept the body).
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_QUICK_REPLY_ITEMS = 13
MAX_LABEL = 20
MAX_ALT_TEXT = 1500


def _message_errors(index: int, message: dict[str, Any]) -> list[str]:
    errors = []
    where = f"messages[{index}]"
    if message.get("type") == "text":
        text = message.get("text", "")
        if not text:
            errors.append(f"{where}.text: must not be empty")
        if len(text) > MAX_TEXT:
            errors.append(f"{where}.text: size must be between 0 and {MAX_TEXT}")
    if message.get("type") == "flex":
        alt = message.get("altText", "")
        if not alt or len(alt) > MAX_ALT_TEXT:
            errors.append(f"{where}.altText: size must be between 1 and {MAX_ALT_TEXT}")
    items = (message.get("quickReply") or {}).get("items", [])
    if len(items) > MAX_QUICK_REPLY_ITEMS:
        errors.append(f"{where}.quickReply.items: size must be between 1 and {MAX_QUICK_REPLY_ITEMS}")
    for i, item in enumerate(items):
        label = (item.get("action") or {}).get("label", "")
        if len(label) > MAX_LABEL:
            errors.append(f"{where}.quickReply.items[{i}].action.label: size must be between 0 and {MAX_LABEL}")
    return errors


def validate(schema_name: str, body: Any) -> list[str]:
    """Errors LINE would report for ``body`` sent as ``schema_name``."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    errors: list[str] = []
    if "messages" in body:
        messages = body["messages"]
        if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
            return [f"messages: size must be between 1 and {MAX_MESSAGES}"]
        for i, message in enumerate(messages):
            errors.extend(_message_errors(i, message))
    return errors

"""Errors the conversation raises.

    BotError
     ├── InvalidInput      an answer that does not fit the item asked for; carries the message to show
     └── ServiceUnavailable  a dependency (Redis counters, database) could not be read; refuse, never allow
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class InvalidInput(BotError):
    """The customer's answer is not valid; ``message`` says what is wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServiceUnavailable(BotError):
    """A dependency needed to decide safely could not be reached."""

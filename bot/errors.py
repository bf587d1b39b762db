"""Errors the conversation raises: its branch of the service's one tree (``storage.errors``).

    Refused
     └── InvalidInput      an answer that does not fit the item asked for; carries the message to show

A dependency the conversation cannot read (Redis counters, the database) raises ``StateUnavailable``
(``storage.redis_client``, an ``Unavailable``): the flows refuse, never allow.
"""

from __future__ import annotations

from storage.errors import Refused


class InvalidInput(Refused):
    """The customer's answer is not valid; ``message`` says what is wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

"""The queued event: what the webhook puts on the event queue and the event worker reads back.

One frozen ``QueuedEvent`` is written by ``webhook.translate`` and read by the worker
(``worker``, ``turn``). Its JSON keeps the short keys queued events have always had, so
events queued by an older release are read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from bot.types import EventKind, Incoming


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One LINE event as the bot keeps it: who, what, and when (``ts``: LINE's milliseconds)."""

    id: str  # LINE's webhookEventId (or a hash of the event without one)
    user: str
    kind: EventKind
    text: str = ""
    postback: str = ""
    nonce: str = ""  # an account link's nonce
    ok: bool = False  # an account link's result
    reply: str = ""  # the reply token ("" for events without one)
    ts: int = 0  # when LINE says it happened, in milliseconds (0: unknown)
    queued: float = 0.0  # when the webhook queued it (time.time())
    request_id: str | None = None  # the webhook request's id, carried into the worker's logs

    def to_json(self) -> bytes:
        return orjson.dumps(self)  # orjson writes a dataclass by its fields (the kind as its value)

    @classmethod
    def from_json(cls, payload: bytes | str) -> QueuedEvent:
        """Read one back; ``ValueError`` when the payload is not a queued event."""
        data = orjson.loads(payload)
        try:
            return cls(id=str(data["id"]), user=str(data["user"]), kind=EventKind(data["kind"]),
                       text=data.get("text") or "", postback=data.get("postback") or "",
                       nonce=data.get("nonce") or "", ok=bool(data.get("ok")), reply=data.get("reply") or "",
                       ts=data.get("ts") or 0, queued=data.get("queued") or 0.0, request_id=data.get("request_id"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError("not a queued event") from exc

    def incoming(self) -> Incoming:
        """The platform-neutral event the engine handles."""
        return Incoming(self.user, self.kind, text=self.text, postback_data=self.postback, link_nonce=self.nonce,
                        link_ok=self.ok)

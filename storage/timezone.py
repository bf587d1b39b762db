"""The service's one time zone: every date a customer reads, every month a bill belongs to and every
staffed hour is Japan time (Asia/Tokyo), whatever the machine's own zone. Defined once here, at the
bottom layer, so the conversation, the edges and the storage all import the same value."""

from __future__ import annotations

from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")

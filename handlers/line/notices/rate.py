"""The global rate limit of bill notices, and why a month's run stopped: send slots on Redis's
clock, the quota budget they are taken from (and refunds into it), the slow-down after a 429,
and the stop flag.

A batch (``batch``) asks ``reserve_slots`` once for as many rows as it has idle threads; one
Lua script answers for the stop flag, the budget, the slow-down and the slots together. A run
(``run.start_run``) sets the budget and clears the flag; ``stop`` sets it, ``stop_reason``
reads it (the command's summary and the schedule).

Redis keys: ``bot:notices:rate`` (the limiter's clock), ``bot:notices:slow`` (the slow-down
after a 429), and per month ``bot:notices:<YYYY-MM>:stop`` (why it stopped) and ``…:budget``
(quota left for this run); ``month_key`` builds the per-month ones for the other rooms too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from handlers.line.notices.config import redis_client
from storage import keys

log = logging.getLogger(__name__)

KEY_TTL = 40 * 24 * 3600  # per-month keys outlive their month, no longer


# GCRA on Redis's own clock, so every worker on every host shares one schedule. A batch takes its
# slots for as many rows as it has idle threads in one round trip (it was four round
# trips a push); the script also says whether the month was stopped, takes the slots out of
# this run's quota budget (no budget key: no limit), and applies the slow-down after a 429.
# It returns the slots granted (fewer than asked when the budget runs out; 0 and a stop when
# the month was stopped), how long until the first, and the interval. A run stopped because its
# own budget ran out (``budget``) still grants what was given back to the budget: a batch whose
# slots came too late returns them and takes new ones for rows the budget had already paid for.
# LINE's own "monthly limit" (``quota``) stops everything.
_RESERVE_SCRIPT = """
local stop = redis.call('GET', KEYS[4])
if stop and stop ~= 'budget' then return {0, 0, '0', '0'} end
local slow = tonumber(redis.call('GET', KEYS[2]) or '1')
local interval = 1 / (tonumber(ARGV[1]) * slow)
local n = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  local left = tonumber(redis.call('GET', KEYS[3]))
  if left < n then n = math.max(left, 0) end
  if n > 0 then redis.call('DECRBY', KEYS[3], n) end
end
if n <= 0 then return {1, 0, '0', string.format('%.9f', interval)} end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], string.format('%.6f', tat + n * interval), 'EX', math.ceil(n * interval) + 60)
return {1, n, string.format('%.6f', tat - now), string.format('%.9f', interval)}
"""
# Give back quota budget that slots took but LINE never counted (refused, or never pushed).
_REFUND_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[1]) end
return 1
"""


@dataclass(frozen=True)
class Slots:
    """What the rate limiter granted one batch: ``count`` pushes, the first ``delay`` seconds from
    now, one every ``interval`` seconds after it; ``stopped``: the month's run was stopped."""

    count: int
    delay: float
    interval: float
    stopped: bool = False


def reserve_slots(month: date, wanted: int, rate: float) -> Slots:
    """One round trip for a run of pushes: the stop flag, the quota budget, the slow-down and the
    global rate's slots (``wanted`` of them, or fewer when the budget runs out)."""
    live, count, delay, interval = redis_client().eval(
        _RESERVE_SCRIPT, 4, keys.NOTICES_RATE_KEY, keys.NOTICES_SLOW_KEY, keys.notices_month_key(month, "budget"),
        keys.notices_month_key(month, "stop"), repr(rate), wanted)
    return Slots(int(count), float(delay), float(interval), stopped=not int(live))


def refund(month: date, count: int) -> None:
    """Give ``count`` slots' worth of quota budget back (LINE refused them, or they were never pushed)."""
    if count > 0:
        redis_client().eval(_REFUND_SCRIPT, 1, keys.notices_month_key(month, "budget"), count)


def slow_down() -> None:
    """LINE said 429 (too many requests): halve the whole run's rate for the next 30 seconds."""
    redis = redis_client()
    slow = max(float(redis.get(keys.NOTICES_SLOW_KEY) or 1.0) / 2, 0.05)
    redis.set(keys.NOTICES_SLOW_KEY, repr(slow), ex=30)


BUDGET = "budget"  # the stop reason when this run's share of the quota is spent (LINE's: ``quota``)


def stop_reason(month: date) -> str | None:
    """Why the month's run was stopped (``budget``, ``quota``, ``unauthorized``), or None."""
    value = redis_client().get(keys.notices_month_key(month, "stop"))
    return value.decode() if isinstance(value, bytes) else value


# The first reason stays, except that LINE's own refusal outranks a spent budget of ours.
_STOP_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current and (current ~= 'budget' or ARGV[1] == 'budget') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def stop(month: date, reason: str) -> None:
    """Stop the month's run (every batch reads it with its next slots); the first reason stays."""
    if redis_client().eval(_STOP_SCRIPT, 1, keys.notices_month_key(month, "stop"), reason, KEY_TTL):
        log.error("bill notices for %s stopped: %s", f"{month:%Y-%m}", reason)

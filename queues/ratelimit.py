"""A rate limit shared by every process: outbound calls per second, a burst waits its turn.

Each caller of `acquire` is given the next free slot, spaced 1/rate apart, and waits until it;
nobody is refused, so a burst of ten calls at one per second leaves over ten seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

from queues import keys

# Takes the next slot: max(now, next free) and moves the next free slot on by one interval.
_TAKE_SLOT = """
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local now, interval, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local slot = math.max(now, free)
if max_wait >= 0 and slot - now > max_wait then return {0, string.format('%.17g', slot)} end
local ttl_ms = math.ceil((slot + interval - now) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.17g', slot + interval), 'PX', ttl_ms)
return {1, string.format('%.17g', slot)}
"""


class RateLimiter:
    """Spaces out actions (such as outbound calls) to a rate per second across processes."""

    def __init__(self, redis: Redis, name: str, per_second: float):
        if per_second <= 0:
            raise ValueError("the rate must be positive")
        self.redis = redis
        self.key = keys.rate_limit(name)
        self.interval = 1.0 / per_second
        self._take = redis.register_script(_TAKE_SLOT)

    def acquire(self, now: float, *, max_wait_s: float | None = None) -> float | None:
        """Take the next slot and return when it starts; None if it is further than max_wait_s."""
        limit = -1 if max_wait_s is None else max_wait_s
        granted, slot = self._take(keys=[self.key], args=[repr(now), repr(self.interval), limit])
        return float(slot) if granted else None

    def wait_turn(
        self,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_s: float | None = None,
    ) -> bool:
        """Block until this process's slot comes (for a worker about to place a call)."""
        now = clock()
        slot = self.acquire(now, max_wait_s=max_wait_s)
        if slot is None:
            return False
        if slot > now:
            sleep(slot - now)
        return True

"""Limits shared by every process: outbound calls per second, and failed guesses at secrets.

Each caller of `RateLimiter.acquire` is given the next free slot, spaced 1/rate apart, and waits
until it; nobody is refused, so a burst of ten calls at one per second leaves over ten seconds.

A `FailureLimit` guards a secret that is slow to check (a password, a PIN) against guessing:
every try is counted before its secret is checked, so a burst of tries sent at once gets no more
checks than the limit allows. The try that fills a counter starts a lockout, which is audited
and shown to supervisors as a `lockout` event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from redis import Redis

from queues import events, keys
from queues.audit import AuditLog

log = logging.getLogger(__name__)

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


# Counts one try against every counter in one step: INCR (a window starts with a counter's first
# try and later ones do not extend it; Redis 6.2 has no EXPIRE NX, hence the TTL test), then
# compare. A try that finds any counter over its limit is refused and undone, so refusals move no
# count and cannot lock out an account from an address that is itself locked. ARGV: the window,
# then each counter's limit. Returns allowed (1/0), the wait in seconds, then each count.
_TAKE_TRY = """
local counts, over = {}, false
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[1]) end
  if counts[i] > tonumber(ARGV[i + 1]) then over = true end
end
if not over then return {1, 0, unpack(counts)} end
local wait = 1
for i, key in ipairs(KEYS) do
  redis.call('DECR', key)
  if counts[i] > tonumber(ARGV[i + 1]) then wait = math.max(wait, redis.call('TTL', key)) end
end
return {0, wait, unpack(counts)}
"""
# Gives back a try that turned out right: a counter that is still there goes down by one (one
# that expired meanwhile is not brought back), the scopes named in ARGV are cleared.
_GIVE_BACK = """
for i, key in ipairs(KEYS) do
  if ARGV[i] == 'clear' then
    redis.call('DEL', key)
  elseif tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 1
"""


@dataclass(frozen=True)
class Attempt:
    """One counted try: allowed or not, the wait when not, and each subject's count with it."""

    allowed: bool
    retry_after: int
    # (scope, who, limit, count including this try) for each counter the try was counted on.
    counts: tuple[tuple[str, str, int, int], ...]

    @property
    def locked(self) -> bool:
        """Tell whether a counter is now at its limit, so the next try will be refused."""
        return not self.allowed or any(count >= limit for _, _, limit, count in self.counts)


class FailureLimit:
    """At most `limit` failed tries per subject (a user, an address, a code) in a window."""

    def __init__(
        self,
        redis: Redis,
        name: str,
        key: Callable[[str, str], str],
        limits: Mapping[str, int],
        *,
        window_s: int = 900,
    ):
        self.redis = redis
        self.name = name
        self.key = key
        self.limits = dict(limits)
        self.window_s = window_s
        self._take = redis.register_script(_TAKE_TRY)
        self._give_back = redis.register_script(_GIVE_BACK)

    def take(self, subjects: Mapping[str, str]) -> Attempt:
        """Count a try against each subject (scope to who; empty ones skipped) before the check."""
        counted = [(scope, who, self.limits[scope]) for scope, who in subjects.items() if who]
        reply = self._take(
            keys=[self.key(scope, who) for scope, who, _ in counted],
            args=[self.window_s, *(limit for _, _, limit in counted)],
        )
        allowed, wait, *counts = (int(value) for value in reply)
        return Attempt(
            allowed=bool(allowed),
            retry_after=0 if allowed else max(1, wait),
            counts=tuple(
                (scope, who, limit, count)
                for (scope, who, limit), count in zip(counted, counts, strict=True)
            ),
        )

    def succeeded(self, attempt: Attempt, *, clear: Collection[str] = ()) -> None:
        """A right secret: give its try back, and clear the counters of the scopes named."""
        if not attempt.counts:
            return
        self._give_back(
            keys=[self.key(scope, who) for scope, who, _, _ in attempt.counts],
            args=["clear" if scope in clear else "one" for scope, _, _, _ in attempt.counts],
        )

    def failed(self, attempt: Attempt, now: float) -> list[str]:
        """A wrong secret (its count stands): announce the lockouts it starts; their subjects."""
        filled = [(scope, who) for scope, who, limit, count in attempt.counts if count == limit]
        for scope, who in filled:
            announce_lockout(self.redis, self.name, scope, who, now=now, window_s=self.window_s)
        return [f"{scope}:{who}" for scope, who in filled]


def announce_lockout(
    redis: Redis, limit: str, scope: str, who: str, *, now: float, window_s: int
) -> None:
    """Audit a lockout and show it to supervisors (an alert feed event); numbers come digested."""
    subject = f"{scope}:{who}"
    log.warning("lockout: %s for %s, for up to %d s", limit, subject, window_s)
    pipe = redis.pipeline()
    AuditLog(redis).record(
        "hotline",
        "lockout",
        f"{limit} {subject}",
        after={"limit": limit, "scope": scope, "who": who, "window_s": window_s},
        now=now,
        pipeline=pipe,
    )
    events.append(redis, "lockout", pipeline=pipe, at=f"{now:.3f}", limit=limit, subject=subject)
    pipe.execute()

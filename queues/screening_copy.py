"""A web process's copy of the blocklist's digests and the emergency closure, for greetings.

Every incoming call is screened, and a round trip to Redis was the largest cost of a greeting
(docs/benchmarks.md). The copy answers from memory instead, and is trusted only while it is
provably current:

- it is read whole right after subscribing to the owners' announcements
  (`queues.screening_news`), again on each announcement, on each (re)subscription (a
  connection redis-py opened again may have missed one) and every `REFRESH_S` whatever happens
  (a restore, a write lost in a failover);
- it answers only while its subscription was heard from within `SILENCE_S` (it pings every
  `PING_S`), and not between a change written by this process and the read after it;
- a number kept under its digest from before digests were keyed is left to the Redis path,
  which moves the entry.

When the copy does not answer, the caller is screened by Redis as before (`None` from
`answer`). A supervisor's change reaches other processes' copies within a round trip of the
announcement: a call arriving in those milliseconds hears what it would have heard had it
arrived a moment earlier.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis, RedisError

from queues import keys, screening_news
from queues.blocklist import Blocklist
from queues.closure import ClosureBoard
from queues.sealing import Sealer
from routing.holidays import Closure

log = logging.getLogger(__name__)

# Seconds between pings on a quiet subscription, and the silence after which it is not trusted.
PING_S = 1.0
SILENCE_S = 3.0
# Seconds between whole reads even when nothing was announced.
REFRESH_S = 30.0
# After an announcement, how long and how often to look for this process's own change counted.
WATCH_S = 0.5
WATCH_STEP_S = 0.02
# Seconds to wait before subscribing again after Redis failed, at most.
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Snapshot:
    """What one whole read found: the blocked digests and the closure, and which change it saw."""

    digests: frozenset[str]
    closure: Closure | None
    # The count of this process's own changes when the read began (see `changed_here`).
    generation: int


class ScreeningCopy:
    """This process's copy of the screening data; reads only, the owners keep the keys."""

    def __init__(
        self,
        redis: Redis,
        *,
        sealer: Sealer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        ping_s: float = PING_S,
        silence_s: float = SILENCE_S,
        refresh_s: float = REFRESH_S,
    ):
        self.redis = redis
        self._blocklist = Blocklist(redis, sealer=sealer)
        self._monotonic = monotonic
        self._ping_s, self._silence_s, self._refresh_s = ping_s, silence_s, refresh_s
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._generation = 0
        self._heard_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reads = 0
        self.failures = 0
        screening_news.listen(self)
        _copies.add(self)

    def answer(self, number: str) -> tuple[bool, Closure | None] | None:
        """Whether the caller is blocked and the closure kept, or None to ask Redis instead."""
        self._ensure_running()
        snapshot = self.current()
        if snapshot is None:
            return None
        digests = self._blocklist.digests_of(number)
        if digests is None:
            return False, snapshot.closure
        keyed, old = digests
        if keyed in snapshot.digests:
            return True, snapshot.closure
        if old in snapshot.digests:
            return None  # an entry from before digests were keyed: Redis moves it
        return False, snapshot.closure

    def current(self) -> Snapshot | None:
        """The copy when it may be trusted now, else None."""
        snapshot = self._snapshot
        if snapshot is None or snapshot.generation != self._generation:
            return None
        if self._monotonic() - self._heard_at > self._silence_s:
            return None
        return snapshot

    def changed_here(self) -> None:
        """This process just wrote a change: distrust the copy until a read made after it."""
        with self._lock:
            self._generation += 1

    def state(self) -> dict[str, object]:
        """For /healthz: whether greetings are answered from the copy, and what it holds."""
        snapshot = self.current()
        return {
            "answering": snapshot is not None,
            "running": self._thread is not None and self._thread.is_alive(),
            "blocked_numbers": len(snapshot.digests) if snapshot else None,
            "reads": self.reads,
            "failures": self.failures,
        }

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening (the copy stops answering); a later `answer` starts it again."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._lock:
            self._thread, self._snapshot = None, None

    def after_fork_in_child(self) -> None:
        """A forked child's copy of its own: the parent's thread, snapshot and lock (which may
        have been held as the process forked) are the parent's."""
        self._lock = threading.Lock()
        self._snapshot, self._heard_at = None, float("-inf")
        self._thread = None

    def _ensure_running(self) -> None:
        """Start the listening thread in this process (a forked web worker starts its own)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._snapshot, self._heard_at = None, float("-inf")
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._listen, args=(self._stop,), name="screening-copy", daemon=True
            )
            self._thread.start()

    def _listen(self, stop: threading.Event) -> None:
        """Subscribe, read, and read again on each announcement, until stopped."""
        backoff = 0.1
        while not stop.is_set():
            try:
                self._follow(stop)
                backoff = 0.1
            except (RedisError, OSError, ValueError) as error:
                self.failures += 1
                self._snapshot = None
                log.warning(
                    "screening copy lost its subscription (%s); greetings ask Redis meanwhile",
                    type(error).__name__,
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _follow(self, stop: threading.Event) -> None:
        """One subscription's life: every (re)subscription and announcement reads the copy."""
        pubsub = self.redis.pubsub()
        try:
            pubsub.subscribe(keys.screening_changes())
            pinged_at = read_at = watch_until = self._monotonic()
            while not stop.is_set():
                # Just after an announcement, look often: this process's own change may be
                # counted (`changed_here`) only after the read the announcement started.
                timeout = WATCH_STEP_S if self._monotonic() < watch_until else self._ping_s
                message = pubsub.get_message(timeout=timeout)
                now = self._monotonic()
                if message is not None:
                    self._heard_at = now
                    if message["type"] in ("subscribe", "message"):
                        read_at = self._read(now)
                        watch_until = now + WATCH_S
                snapshot = self._snapshot
                if snapshot is not None and snapshot.generation != self._generation:
                    read_at = self._read(now)
                if now - pinged_at >= self._ping_s:
                    pubsub.ping()
                    pinged_at = now
                if now - read_at >= self._refresh_s:
                    read_at = self._read(now)
        finally:
            pubsub.close()

    def _read(self, now: float) -> float:
        """Read the blocked digests and the closure whole, in one round trip."""
        generation = self._generation
        pipe = self.redis.pipeline(transaction=False)
        digests = self._blocklist.digests_in(pipe)
        closure = ClosureBoard(self.redis).get_in(pipe)
        results = pipe.execute()
        self._snapshot = Snapshot(digests(results), closure(results), generation)
        self.reads += 1
        return now


_copies: weakref.WeakSet[ScreeningCopy] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Give each copy of a forked child its own lock and nothing of the parent's."""
    for copy in list(_copies):
        copy.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)

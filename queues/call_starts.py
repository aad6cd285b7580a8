"""Calls' starts written behind the greeting: one writer thread a process, many starts a trip.

A greeting answered from the screening copy (`queues.screening_copy`) does not wait for Redis:
the call's start (its record, sealed number, lifetime and `incoming` event, `CallStore.start_in`)
is handed to this process's writer, which sends every start waiting in one pipelined round
trip, usually within a millisecond or two. What can go wrong, and what keeps it right:

- The caller hangs up before the start is written, and the status callback reaches another
  process first: the status callback starts the record itself when it is missing (HSETNX, the
  same script), so `incoming` always comes before `ended`; the late start then writes nothing.
- Redis does not answer: the starts wait and are tried again (backing off to `MAX_BACKOFF_S`);
  past `MAX_PENDING` waiting the oldest not in the trip being tried are dropped, counted, and
  said loudly in the log and /healthz (a trip's batch, at most `BATCH`, is kept whole).
- The process stops: what waits is written before it exits (atexit); a process killed outright
  loses the last milliseconds' starts, which the status callback starts at the call's end.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from redis import RedisError

from queues.calls import CallStore

log = logging.getLogger(__name__)

# Starts kept while Redis does not answer (a few minutes of a busy line), then the oldest go.
MAX_PENDING = 10_000
# Starts sent in one round trip at most, and how long the first waits for others to join it.
BATCH = 200
GATHER_S = 0.01
MAX_BACKOFF_S = 2.0


@dataclass(frozen=True)
class Start:
    """One call's start as the greeting saw it."""

    call_sid: str
    caller: str
    at: float


class StartWriter:
    """Writes calls' starts behind their greetings; the starts go through `CallStore`."""

    def __init__(self, calls: CallStore, *, max_pending: int = MAX_PENDING):
        self.calls = calls
        self._max_pending = max_pending
        self._pending: deque[Start] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        # Starts handed over and not yet written (pending or in the trip being made).
        self._unwritten = 0
        self.written = 0
        self.lost = 0
        self.failures = 0
        self.last_error = ""
        _writers.add(self)

    def submit(self, call_sid: str, caller: str, *, at: float | None = None) -> None:
        """Hand a call's start to the writer; never waits on Redis."""
        start = Start(call_sid, caller, time.time() if at is None else at)
        self._ensure_running()
        with self._ready:
            if len(self._pending) >= self._max_pending:
                dropped = self._pending.popleft()
                self._unwritten -= 1
                self.lost += 1
                log.error(
                    "call start of %s dropped: %d starts wait for Redis; the status callback "
                    "will start it",
                    dropped.call_sid,
                    len(self._pending),
                )
            self._pending.append(start)
            self._unwritten += 1
            # The writer is woken by the first start of a batch (and a full batch), not by
            # each: every wake-up is a thread switch on the greeting's process.
            if len(self._pending) in (1, BATCH):
                self._ready.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every start handed over so far is written; False if the time ran out."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._unwritten:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._ready.wait(left)
        return True

    def state(self) -> dict[str, object]:
        """For /healthz: starts waiting, written, lost, and the last failure."""
        return {
            "waiting": self._unwritten,
            "written": self.written,
            "lost": self.lost,
            "failures": self.failures,
            "last_error": self.last_error,
        }

    def stop(self, timeout: float = 5.0) -> None:
        """Write what waits (for up to `timeout`), then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self.flush(timeout)
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        thread.join(timeout)
        with self._ready:
            self._thread, self._stopping = None, False

    def after_fork_in_child(self) -> None:
        """A forked child's writer of its own: the parent's thread, waiting starts and lock
        (which may have been held as the process forked) are the parent's."""
        self._ready = threading.Condition()
        self._pending.clear()
        self._unwritten = 0
        self._thread, self._stopping = None, False

    def _ensure_running(self) -> None:
        """Start the writer thread in this process (a forked web worker starts its own)."""
        if self._thread is not None:
            return
        with self._ready:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="call-starts", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Write whatever waits in one round trip, again and again, until stopped."""
        backoff = 0.05
        while True:
            with self._ready:
                while not self._pending and not self._stopping:
                    self._ready.wait()
                if not self._pending:
                    return
                # Let the starts of the next few milliseconds join this round trip.
                deadline = time.monotonic() + GATHER_S
                while len(self._pending) < BATCH and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
            try:
                written = self._write(batch)
            except RedisError as error:
                self.failures += 1
                self.last_error = type(error).__name__
                log.warning(
                    "%d call starts not written yet (%s); trying again",
                    len(batch),
                    type(error).__name__,
                )
                with self._ready:
                    self._pending.extendleft(reversed(batch))
                    if self._stopping:
                        return
                    self._ready.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = 0.05
            with self._ready:
                self._unwritten -= len(batch)
                self.written += written
                self.last_error = ""
                self._ready.notify_all()

    def _write(self, batch: list[Start]) -> int:
        """Every start of the batch in one pipelined round trip; how many Redis took."""
        pipe = self.calls.redis.pipeline(transaction=False)
        finishes: list[Callable[[list[object]], bool]] = [
            self.calls.start_in(pipe, start.call_sid, start.caller, at=start.at) for start in batch
        ]
        # A start Redis refuses (a script error) is said and counted, not tried forever; a
        # lost connection raises and the whole batch is tried again.
        results = pipe.execute(raise_on_error=False)
        written = 0
        for start, finish, result in zip(batch, finishes, results, strict=True):
            if isinstance(result, RedisError):
                self.lost += 1
                log.error("call start of %s refused by Redis: %s", start.call_sid, result)
                continue
            finish(results)
            written += 1
        return written


_writers: weakref.WeakSet[StartWriter] = weakref.WeakSet()


def _stop_all() -> None:
    """At the process's exit, write what waits."""
    for writer in list(_writers):
        writer.stop(timeout=2.0)


def _after_fork_in_child() -> None:
    """Give each writer of a forked child its own lock and queue."""
    for writer in list(_writers):
        writer.after_fork_in_child()


atexit.register(_stop_all)
os.register_at_fork(after_in_child=_after_fork_in_child)

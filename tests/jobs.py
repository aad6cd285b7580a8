"""Running RQ jobs in the test's own process, as a burst worker that exits as soon as it is done."""

from __future__ import annotations

from rq import Queue, SimpleWorker


class BurstWorker(SimpleWorker):
    """A burst worker without RQ's command channel.

    RQ's listener thread for commands (stop, kill) waits up to 60 s between reads; with a
    redis-py whose stop() waits for it (8.2, kept out by pyproject.toml) a burst worker's exit
    hangs that long, long enough for an agent's ringing leg in a test to ring out. A test's
    worker takes no commands, so its exit never depends on that.
    """

    def subscribe(self) -> None:
        """Listen for no commands while the test's jobs run."""
        self.pubsub_thread = None


def run_jobs(redis, *names: str) -> None:
    """Run every job queued on the named RQ queues, in this process."""
    BurstWorker([Queue(name, connection=redis) for name in names], connection=redis).work(
        burst=True
    )

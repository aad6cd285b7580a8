"""Profile the phone menu's webhooks in one process: where a caller's requests spend their time.

`python -m tools.profile_webhooks [callers] [polls]` builds the hotline app on an embedded
Redis with the bench's config and account (tools.bench_webhooks), plays each caller's signed
requests through Flask's test client (greeting, language, area, intake, the queue, waitUrl
polls, none of them pressing for a way out), and prints cProfile's top functions by own time
and by cumulative time, without the HTTP server: what is left is the app's own cost.

`python -m tools.profile_webhooks greeting [count]` profiles the greeting alone, each a new
call as in the bench's flat-out turns, after timing the same number without the profiler,
and counts the Redis round trips (pipelines count once) a greeting makes.
"""

from __future__ import annotations

import cProfile
import html
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from queues.embedded import EmbeddedRedis
from tools import bench_webhooks as bench


def greeting(count: int = 2000) -> None:
    """Time, then profile, `count` greetings of new calls; print round trips and hot spots."""
    with tempfile.TemporaryDirectory(prefix="profile-greeting-") as folder:
        home = Path(folder)
        redis = EmbeddedRedis(home / "redis")
        url = redis.start()
        try:
            os.environ.update(bench.hotline_env(home, url))
            from hotline.app import create_app

            client = create_app().test_client()
            validator = bench.RequestValidator(bench.AUTH_TOKEN)
            calls = bench.Callers("http://localhost", bench.Load(1, 1, 0))
            signed = []
            for index in range(3 * count + 50):
                form = calls.form(f"CA{index:032x}", f"+86138{index % 16:08d}")
                signed.append((form, validator.compute_signature("http://localhost/voice", form)))

            def play(batch: list[tuple[dict[str, str], str]]) -> None:
                for form, signature in batch:
                    reply = client.post(
                        "/voice", data=form, headers={"X-Twilio-Signature": signature}
                    )
                    assert reply.status_code == 200, reply.status_code  # noqa: S101

            play(signed[:50])  # the first requests' set-up is not the steady state
            trips = _RoundTrips()
            cpu = time.process_time()
            play(signed[50 : 50 + count])
            cpu = time.process_time() - cpu
            sent = trips.stop()
            print(
                f"{count} greetings, test client included: {cpu / count * 1000:.3f} ms of CPU"
                f" each, {sent / count:.2f} Redis round trips each"
            )
            profile = cProfile.Profile()
            profile.enable()
            play(signed[50 + count : 50 + 2 * count])
            profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(20)
            stats.sort_stats("cumulative").print_stats(40)
        finally:
            redis.stop()


class _RoundTrips:
    """Counts what Redis clients in this process send, a pipeline once, until stopped."""

    def __init__(self) -> None:
        from redis.connection import AbstractConnection

        self.sent = 0
        self._class = AbstractConnection
        self._original = AbstractConnection.send_packed_command

        def counting(connection, command, check_health=True):  # noqa: ANN001, ANN202
            self.sent += 1
            return self._original(connection, command, check_health)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]

    def stop(self) -> int:
        """Stop counting; how many were sent."""
        self._class.send_packed_command = self._original  # type: ignore[method-assign]
        return self.sent


def main(callers: int = 300, polls: int = 3) -> None:
    """Profile `callers` callers through the menu, each polling the waitUrl `polls` times."""
    with tempfile.TemporaryDirectory(prefix="profile-webhooks-") as folder:
        home = Path(folder)
        redis = EmbeddedRedis(home / "redis")
        url = redis.start()
        try:
            os.environ.update(bench.hotline_env(home, url))
            from hotline.app import create_app

            app = create_app()
            client = app.test_client()
            validator = bench.RequestValidator(bench.AUTH_TOKEN)
            base = "http://localhost"

            def post(path: str, form: dict[str, str]) -> str:
                signature = validator.compute_signature(base + path, form)
                reply = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
                assert reply.status_code == 200, reply.status_code  # noqa: S101
                return reply.get_data(as_text=True)

            def one(index: int) -> None:
                sid, number = f"CA{index:032x}", f"+86139{index:08d}"
                calls = bench.Callers(base, bench.Load(1, 1, 0))
                area = list(bench.AREA_KEYS)[index % len(bench.AREA_KEYS)]
                keys = ["1", area]
                text = post("/voice", calls.form(sid, number))
                while not (wait := bench._WAIT_URL.search(text)):
                    action = html.unescape(bench._GATHER.search(text).group(1))
                    text = post(
                        action, calls.form(sid, number, Digits=keys.pop(0) if keys else "1")
                    )
                for poll in range(polls):
                    extra = {"QueueSid": "QU" + "0" * 32, "QueueTime": str(10 * poll)}
                    post(html.unescape(wait.group(1)), calls.form(sid, number, **extra))

            one(0)  # the first request's set-up is not the steady state
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            for index in range(1, callers + 1):
                one(index)
            profile.disable()
            elapsed = time.perf_counter() - started
            stats = pstats.Stats(profile)
            sent = sum(
                entry[0]
                for (path, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
                if name == "post" and path.endswith("profile_webhooks.py")
            )
            print(
                f"{callers} callers, {sent} requests in {elapsed:.2f} s (profiled, test client"
                f" included): {elapsed / max(sent, 1) * 1000:.2f} ms a request"
            )
            print("views (ivr/callers/webhooks.py), cumulative ms a call:")
            for (path, _, name), entry in sorted(stats.stats.items()):  # type: ignore[attr-defined]
                if path.endswith("callers/webhooks.py") and entry[1] and not name.startswith("<"):
                    print(f"  {name:<24} {entry[1]:>6} calls {entry[3] / entry[1] * 1000:7.2f} ms")
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(45)
        finally:
            redis.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["greeting"]:
        greeting(*(int(value) for value in sys.argv[2:]))
    else:
        main(*(int(value) for value in sys.argv[1:]))

"""`hotline bench webhooks`: many callers at once on the phone menu's webhooks, signed.

A load generator (one asyncio process, raw HTTP/1.1 on a pool of keep-alive connections, so
it costs little of the machine it shares) plays N callers arriving at a steady rate: each hears
the greeting, presses a language key, an area key and the intake answers (a few seconds apart,
as long as the prompts take), is queued, and then has its waitUrl fetched every 10 s, as
Twilio does while a caller holds. Every request carries the X-Twilio-Signature Twilio would
send (twilio-python's RequestValidator) and is checked on arrival as in production.

The same load runs in the same run against a bare Flask app that returns fixed TwiML of the
same shape under the same gunicorn settings (the ceiling: what the server, Flask and the
generator cost on this machine with no hotline in between). Then the two apps' greetings are
driven flat out, taking turns of about a second, and the hotline's greeting throughput is
printed as a share of the ceiling's; a third app in the same turns, the hotline with
HOTLINE_GREETING_FROM_MEMORY=false, gives the greeting's share when it waits on Redis. The
hotline runs on an embedded Redis (or the empty database `redis_url` names), with every area
open and no agent on shift, so every caller stays waiting; Redis's memory per waiting call is
its growth over the load divided by the callers waiting.
"""

from __future__ import annotations

import asyncio
import html
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from flask import Flask, Response
from twilio.request_validator import RequestValidator

from hotline.serve import web_settings
from queues.connection import redis_client
from queues.embedded import EmbeddedRedis
from tools import REPO, SHIPPED_CONFIG

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "webhook-bench-token"
SECRET_KEY = "webhook-bench-secret"
HOTLINE_NUMBER = "+861012348000"
# The targets on the 2-core machine, generator included.
P99_TARGET_MS = 50.0
CEILING_SHARE_TARGET = 0.5
BYTES_PER_CALL_TARGET = 2048
# Twilio fetches the waitUrl again when its TwiML ends; the wait room's ends after 10 s.
POLL_EVERY_S = 10.0
# Seconds a caller takes between menu steps: the prompt's words, then a key.
THINK_S = (3.0, 6.0)
# Areas callers pick, by their menu key, and how often (the general line is the busiest).
AREA_KEYS = {"0": 3, "1": 2, "2": 2, "3": 1, "4": 1, "5": 1, "6": 1}
# `hotline serve`'s own gunicorn settings, workers and threads (HOTLINE_WEB_THREADS, else 64),
# for every benched app.
GUNICORN = web_settings()
CONNECTIONS = 64
STARTUP_S = 60.0

_GATHER = re.compile(r'<Gather[^>]*?\baction="([^"]*)"')
_WAIT_URL = re.compile(r'<Enqueue[^>]*?\bwaitUrl="([^"]*)"')
_REDIRECT = re.compile(r"<Redirect[^>]*>([^<]*)</Redirect>")


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------- the ceiling app


def _fixed(body: str) -> str:
    """A fixed TwiML document around the given verbs."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


_SAY = '<Say language="cmn-CN" voice="Polly.Zhiyu">' + "请稍候。" * 12 + "</Say>"
CEILING_TWIML = {
    "": _fixed(f'<Gather action="/voice/language?t=1" input="dtmf" numDigits="1">{_SAY}</Gather>'),
    "language": _fixed(
        f'<Gather action="/voice/area?lang=zh&amp;t=1" input="dtmf speech">{_SAY}</Gather>'
    ),
    "area": _fixed(
        f'{_SAY}<Enqueue action="/voice/queue-result?lang=zh&amp;area=general" '
        f'waitUrl="/voice/wait?lang=zh&amp;area=general" waitUrlMethod="POST">general</Enqueue>'
    ),
    "wait": _fixed(f'<Gather action="/voice/wait/key" input="dtmf" timeout="10">{_SAY}</Gather>'),
}


# The hotline's setting that puts the greeting's Redis round trip back (screening and the start).
REDIS_PATH = {"HOTLINE_GREETING_FROM_MEMORY": "false"}


def ceiling_app() -> Flask:
    """A bare Flask app answering the menu's paths with fixed TwiML: no signature, no Redis."""
    app = Flask(__name__)

    @app.post("/voice", defaults={"step": ""})
    @app.post("/voice/<step>")
    def voice(step: str) -> Response:
        """The fixed document for this step."""
        return Response(CEILING_TWIML.get(step, CEILING_TWIML["wait"]), mimetype="text/xml")

    @app.get("/healthz")
    def healthz() -> str:
        """Up."""
        return "ok"

    return app


# ---------------------------------------------------------------------------- the generator


class Pool:
    """Keep-alive HTTP/1.1 connections to one server, shared by every simulated caller."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        for _ in range(size):
            self._idle.put_nowait(None)

    async def post(self, path: str, body: bytes, signature: str) -> tuple[int, str]:
        """POST a form; a kept connection the server closed meanwhile is replaced once."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
        ).encode("latin-1")
        connection = await self._idle.get()
        try:
            for attempt in (1, 2):
                fresh = connection is None
                if fresh:
                    connection = await asyncio.open_connection(self.host, self.port)
                reader, writer = connection
                try:
                    writer.write(head + body)
                    status, text, keep = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
                    connection = None
                    # gunicorn closes a connection idle past its keep-alive (2 s): the request
                    # never reached the app, so it is sent again on a new one, as clients do.
                    if fresh or attempt == 2:
                        raise
                    continue
                if not keep:
                    writer.close()
                    connection = None
                return status, text
            raise ConnectionError("unreachable")
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        """Close the kept connections."""
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection is not None:
                connection[1].close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str, bool]:
    """Read one response: status, body and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = 0, not lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            keep = value.strip().lower() != "close"
    body = await reader.readexactly(length) if length else b""
    return status, body.decode("utf-8", "replace"), keep


@dataclass
class Load:
    """The pacing of one run: how many callers, how fast they arrive, how long they hold."""

    callers: int
    rate: float
    hold_s: float
    think_s: tuple[float, float] = THINK_S
    poll_every_s: float = POLL_EVERY_S
    seed: int = 16


@dataclass
class Tally:
    """Latencies by webhook kind, errors and waiting callers of one run."""

    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    waiting: int = 0
    requests: int = 0
    # The generator's own CPU over the run's wall time (1.0: one core all along).
    generator_cpu: float = 0.0

    def error(self, kind: str, what: str) -> None:
        """Count an error and keep the first few for the report."""
        self.errors[kind] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{kind}: {what}")


def kind_of(path: str) -> str:
    """The webhook kind a path names: greeting, language, area, intake, consent, wait..."""
    route = path.split("?", 1)[0].removeprefix("/voice").strip("/")
    return route or "greeting"


class Callers:
    """Simulated callers against one app, signing every request as Twilio would."""

    def __init__(self, base_url: str, load: Load, *, connections: int = CONNECTIONS) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80, connections)
        self.validator = RequestValidator(AUTH_TOKEN)
        self.load = load
        self.tally = Tally()
        self.random = random.Random(load.seed)

    async def request(self, path: str, form: dict[str, str]) -> str | None:
        """One signed webhook; its latency is tallied by kind, a failure counted as an error."""
        kind = kind_of(path)
        signature = self.validator.compute_signature(self.base_url + path, form)
        body = urllib.parse.urlencode(form).encode()
        started = time.perf_counter()
        try:
            status, text = await self.pool.post(path, body, signature)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            self.tally.error(kind, type(error).__name__)
            return None
        self.tally.latency_ms[kind].append((time.perf_counter() - started) * 1000)
        self.tally.requests += 1
        if status != 200 or "<Response" not in text:
            self.tally.error(kind, f"HTTP {status} {text[:80]!r}")
            return None
        return text

    def form(self, call_sid: str, number: str, **extra: str) -> dict[str, str]:
        """Twilio's webhook form for this call."""
        return {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call_sid,
            "From": number,
            "To": HOTLINE_NUMBER,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    async def caller(self, index: int, hang_up_at: float) -> None:
        """One caller: greeting, keys, the queue, then waitUrl polls until hang-up time."""
        rng = random.Random(self.load.seed * 100_003 + index)
        call_sid = "CA" + secrets.token_hex(16)
        number = f"+86139{index:08d}"
        area_key = rng.choices(list(AREA_KEYS), weights=list(AREA_KEYS.values()))[0]
        keys = [rng.choice("11112"), area_key]
        text = await self.request("/voice", self.form(call_sid, number))
        wait_url = None
        while text is not None and wait_url is None:
            await asyncio.sleep(rng.uniform(*self.load.think_s))
            if match := _WAIT_URL.search(text):
                wait_url = html.unescape(match.group(1))
                break
            if match := _GATHER.search(text):
                # Language, area, then intake answers and the recording notice: 1 each time.
                digits = keys.pop(0) if keys else "1"
                text = await self.request(
                    html.unescape(match.group(1)), self.form(call_sid, number, Digits=digits)
                )
            elif match := _REDIRECT.search(text):
                url = html.unescape(match.group(1))
                text = await self.request(url, self.form(call_sid, number))
            else:
                self.tally.error("flow", f"no way on from {text[:120]!r}")
                return
        if wait_url is None:
            return
        self.tally.waiting += 1
        queued_at = time.monotonic()
        # Twilio fetches the waitUrl as the caller is queued, then each time its TwiML ends.
        while True:
            held = int(time.monotonic() - queued_at)
            extra = {"QueueSid": "QU" + "0" * 32, "QueueTime": str(held), "QueuePosition": "1"}
            await self.request(wait_url, self.form(call_sid, number, **extra))
            if time.monotonic() + self.load.poll_every_s > hang_up_at:
                return
            await asyncio.sleep(self.load.poll_every_s)

    async def run(self) -> Tally:
        """Let the callers arrive at the load's rate and hold until the load's end."""
        tasks = []
        spacing = 1.0 / self.load.rate
        started = time.monotonic()
        last_arrival = started + spacing * self.load.callers
        # Every caller is still there, polling, for hold_s after the last one has queued.
        hang_up_at = last_arrival + 4 * self.load.think_s[1] + self.load.hold_s
        for index in range(self.load.callers):
            # Arrivals spread out at the rate, each a little early or late (no lockstep).
            due = started + spacing * (index + self.random.uniform(-0.4, 0.4))
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.caller(index, hang_up_at)))
        await asyncio.gather(*tasks)
        await self.pool.close()
        return self.tally

    async def saturate(self, seconds: float, workers: int) -> float:
        """The greeting flat out from `workers` callers at once: greetings answered a second."""
        done = 0
        stop_at = time.monotonic() + seconds

        async def one(worker: int) -> None:
            nonlocal done
            while time.monotonic() < stop_at:
                call_sid = "CA" + secrets.token_hex(16)
                text = await self.request("/voice", self.form(call_sid, f"+86138{worker:08d}"))
                done += text is not None

        started = time.monotonic()
        await asyncio.gather(*(one(worker) for worker in range(workers)))
        elapsed = time.monotonic() - started
        await self.pool.close()
        return done / elapsed


# ---------------------------------------------------------------------------- the servers


@dataclass
class Server:
    """One gunicorn app on a free port, with the hotline's settings."""

    home: Path
    app: str
    env: dict[str, str]
    settings: list[str] = field(default_factory=lambda: list(GUNICORN))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Where the app listens."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        """Start gunicorn and wait for /healthz."""
        log = (self.home / "gunicorn.log").open("a")
        bind = ["--bind", f"127.0.0.1:{self.port}"]
        command = [sys.executable, "-m", "gunicorn", *bind, *self.settings]
        self.process = subprocess.Popen(
            [*command, "--log-level", "warning", self.app],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.home / "gunicorn.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{tail}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.app} did not answer within {STARTUP_S:.0f} s")

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.process = None


def bench_config(home: Path) -> Path:
    """The shipped config with every area open around the clock, so every caller is queued."""
    config = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    always = config["hours"]["always"]
    for area in config["areas"].values():
        area["hours"] = always
    path = home / "hotline.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def hotline_env(home: Path, redis_url: str) -> dict[str, str]:
    """The hotline's environment: the bench's account, config and Redis; nothing inherited."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL", "CARRIER_", "REDIS"))
    }
    env.update(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        # Nothing listens there: a webhook that called Twilio's REST API would fail loudly.
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}",
        HOTLINE_NUMBER=HOTLINE_NUMBER,
        HOTLINE_CONFIG=str(bench_config(home)),
        HOTLINE_VAR_DIR=str(home / "var"),
        HOTLINE_SECRET_KEY=SECRET_KEY,
        VOICEMAIL_KEY="d2ViaG9vay1iZW5jaC12b2ljZW1haWwta2V5LTMyYnl0ZXM=",
        REDIS_URL=redis_url,
        PYTHONPATH=str(REPO),
    )
    return env


# ---------------------------------------------------------------------------- the run


@dataclass
class Result:
    """What one app did under the load and flat out."""

    tally: Tally
    greetings_per_s: float
    redis_bytes_per_call: float | None = None


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def drive(server: Server, load: Load, measure: Callable[[], int] | None) -> Result:
    """Run the paced load against a started server."""
    before = measure() if measure else 0
    started, cpu = time.monotonic(), time.process_time()
    tally = asyncio.run(Callers(server.url, load).run())
    tally.generator_cpu = (time.process_time() - cpu) / (time.monotonic() - started)
    per_call = None
    if measure and tally.waiting:
        per_call = (measure() - before) / tally.waiting
    return Result(tally, 0.0, per_call)


def flat_out(runs: list[tuple[Server, Result]], seconds: float, load: Load) -> None:
    """Drive each app's greeting flat out in turns of about a second, `seconds` in all each.

    Taking turns puts both apps under the same weather: on a shared machine the other work
    comes and goes, and two long runs minutes apart compared the load as much as the apps.
    """
    turns = max(1, round(seconds))
    done = {id(result): 0.0 for _server, result in runs}
    for _turn in range(turns):
        for server, result in runs:
            saturation = Callers(server.url, load)
            done[id(result)] += asyncio.run(saturation.saturate(seconds / turns, workers=16))
            for kind, count in saturation.tally.errors.items():
                result.tally.errors[f"{kind} (flat out)"] += count
            result.tally.error_samples.extend(saturation.tally.error_samples[:2])
    for _server, result in runs:
        result.greetings_per_s = done[id(result)] / turns


def ceiling_share(result: Result, ceiling: Result) -> float:
    """An app's greetings flat out as a share of the ceiling's (0 when the ceiling had none)."""
    return result.greetings_per_s / ceiling.greetings_per_s if ceiling.greetings_per_s else 0.0


def report(name: str, result: Result) -> None:
    """Print one app's figures."""
    tally = result.tally
    print(f"\n{name}: {tally.requests} requests, {tally.waiting} callers queued")
    print(f"  {'webhook':<12} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    everything: list[float] = []
    for kind, values in sorted(tally.latency_ms.items()):
        everything.extend(values)
        print(
            f"  {kind:<12} {len(values):>7} {statistics.median(values):>8.1f}"
            f" {percentile(values, 0.99):>8.1f} {max(values):>8.1f}"
        )
    if everything:
        print(
            f"  {'all':<12} {len(everything):>7} {statistics.median(everything):>8.1f}"
            f" {percentile(everything, 0.99):>8.1f} {max(everything):>8.1f}"
        )
    errors = sum(tally.errors.values())
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(tally.errors.items()))
    print(f"  errors: {errors}" + (f" ({detail})" if detail else ""))
    for sample in tally.error_samples:
        print(f"    {sample}")
    print(f"  greeting flat out (in turns with the other apps): {result.greetings_per_s:.0f}/s")
    print(f"  generator CPU: {tally.generator_cpu:.0%} of one core during the load")


def run(
    callers: int = 2000,
    rate: float = 30.0,
    hold_s: float = 30.0,
    saturate_s: float = 10.0,
    redis_url: str | None = None,
    *,
    think_s: tuple[float, float] = THINK_S,
    poll_every_s: float = POLL_EVERY_S,
) -> dict[str, Any]:
    """Run the load against the ceiling and the hotline, print and return the figures."""
    load = Load(callers, rate, hold_s, think_s=think_s, poll_every_s=poll_every_s)
    print(
        f"hotline bench webhooks: {callers} callers arriving at {rate:g}/s, holding"
        f" {hold_s:g} s after the last is queued, waitUrl every {poll_every_s:g} s;"
        f" gunicorn {' '.join(GUNICORN)}; {os.cpu_count()} CPUs",
        flush=True,
    )
    with bench_home("bench-webhooks-", redis_url) as (home, url):
        return _run(home, load, saturate_s, url)


@contextmanager
def bench_home(prefix: str, redis_url: str | None) -> Iterator[tuple[Path, str]]:
    """A scratch folder for a bench's processes, and its Redis: the given URL, else an
    embedded server in that folder, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        home = Path(folder)
        if redis_url is not None:
            yield home, redis_url
            return
        embedded = EmbeddedRedis(home / "redis")
        try:
            yield home, embedded.start()
        finally:
            embedded.stop()


def _run(home: Path, load: Load, saturate_s: float, redis_url: str) -> dict[str, Any]:
    """The paced load on each app in turn, then both greetings flat out, taking turns."""
    env = hotline_env(home, redis_url)
    ceiling = Server(home, "tools.bench_webhooks:ceiling_app()", env).start()
    hotline = through_redis = None
    try:
        bare = drive(ceiling, load, None)
        with redis_client(redis_url) as redis:
            redis.flushdb()
            hotline = Server(home, "hotline.app:create_app()", env).start()
            memory = lambda: int(redis.info("memory")["used_memory"])  # noqa: E731
            app = drive(hotline, load, memory)
        # The greeting as it was before it was answered from memory, in the same turns: a
        # single run's share moves with the machine's weather, the two paths' difference less.
        through_redis = Server(home, "hotline.app:create_app()", {**env, **REDIS_PATH}).start()
        old = Result(Tally(), 0.0)
        flat_out([(ceiling, bare), (hotline, app), (through_redis, old)], saturate_s, load)
    finally:
        for server in (ceiling, hotline, through_redis):
            if server is not None:
                server.stop()
    report("ceiling (bare Flask, fixed TwiML)", bare)
    report("hotline", app)
    old_share = ceiling_share(old, bare)
    old_errors = sum(old.tally.errors.values())
    print(
        "\nthe greeting through Redis (HOTLINE_GREETING_FROM_MEMORY=false), flat out in the same"
        f" turns: {old.greetings_per_s:.0f}/s, {old_share:.0%} of the ceiling, errors: {old_errors}"
    )
    everything = [value for values in app.tally.latency_ms.values() for value in values]
    p99 = percentile(everything, 0.99) if everything else float("nan")
    share = ceiling_share(app, bare)
    errors = sum(app.tally.errors.values())
    per_call = app.redis_bytes_per_call
    print("\nagainst the targets:")
    print(f"  p99 all webhooks: {p99:.1f} ms (target <= {P99_TARGET_MS:g})")
    print(f"  errors: {errors} (target 0)")
    print(
        f"  greeting throughput: {share:.0%} of the ceiling"
        f" ({app.greetings_per_s:.0f}/s of {bare.greetings_per_s:.0f}/s;"
        f" target >= {CEILING_SHARE_TARGET:.0%})"
    )
    shown = f"{per_call:.0f}" if per_call is not None else "n/a"
    print(f"  Redis per waiting call: {shown} bytes (target <= {BYTES_PER_CALL_TARGET})")
    return {
        "p99_ms": p99,
        "errors": errors,
        "ceiling_share": share,
        "redis_bytes_per_call": per_call,
        "waiting": app.tally.waiting,
        "redis_path_share": old_share,
    }


if __name__ == "__main__":
    arguments = [float(value) for value in sys.argv[1:]]
    run(*[int(arguments[0]), *arguments[1:]] if arguments else [])

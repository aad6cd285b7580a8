"""`hotline serve`: Redis (embedded unless REDIS_URL), gunicorn, the RQ worker and, in demo
mode, the local carrier, as child processes kept running until Ctrl-C.

A child that dies is started again after a backoff (0.5 s, doubling to 30 s, back to 0.5 s
once it has run for a minute), so one crash does not take the whole hotline down; one that
keeps crashing is still restarted, and said loudly: on stderr, and as a standing condition that
/healthz and the wallboard list and the supervisors are paged about. In production the platform
running the Procfile restarts processes instead, and this supervisor is not used.

One serve owns a var dir at a time (a lock beside var/serve.json), and it only ever removes
what it created itself: a second serve on the same var dir stops at once, touching nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import redis as redis_lib

from hotline.child_process import ForkedChild, fork_child, warm_up
from hotline.running import port_taken
from hotline.settings import Settings, read_hotline_config
from queues.connection import redis_client
from queues.embedded import EmbeddedRedis, EmbeddedRedisError, RedisAlreadyRunning, _alive
from queues.worker import registered_pids, release_dead_schedulers
from routing.privacy import mask_number
from telephony.demo import DEMO_CARRIER_PORT, demo_carrier_port

if TYPE_CHECKING:
    from queues.conditions import Conditions

# How long children get to finish in-flight requests after Ctrl-C before they are killed.
STOP_GRACE_S = 10.0
# How often the parts are asked whether they answer while serve starts (and, where the system
# has no pidfds to wake serve when a child exits, how often children are looked at).
WATCH_INTERVAL_S = 0.2
# How long every part gets to answer before serve gives up, by default.
READY_DEADLINE_S = 60.0
# Restart backoff: the first delay, doubling per crash in a row up to the cap; a child that ran
# this long before it died starts again from the first delay.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
# Crashes in a row (none after a stable minute) after which a child "keeps crashing" and the
# alarm goes up: one or two can be a passing cause, such as Redis restarting under it.
CRASH_LOOP_AFTER = 3
# The static crisis fallback the demo's carrier hosts, written under the var dir at start.
FALLBACK_TWIML = "crisis-fallback.xml"
# Threads per web worker (gthread). A webhook holds one for milliseconds, but a caller's live
# audio stream holds one for the whole call (ivr/callers/live_audio.py) and so does an agent's
# live desk (server-sent events): 50 bridged calls are 50 streams and 50 desks. With 8 threads,
# a handful of calls would take every thread and Twilio's webhooks would wait behind them;
# 2 workers of 64 leave room for the webhooks beside 50 calls' streams and desks. Idle threads
# cost a little memory each; the CPU is the streams' analysis, not the threads.
WEB_THREADS = 64
# gunicorn worker processes, unless `hotline serve --web-workers` says otherwise.
WEB_WORKERS = 2
# What the hotline cannot do while a child is down, for the alarm.
DOWN_MEANS = {
    "redis": "no waiting room, agent states or jobs",
    "web": "Twilio gets no answers from the webhooks (callers hear the fallback)",
    "worker": "agents are not rung and supervisors are not paged",
    "carrier": "demo calls cannot be placed",
}


# A running part: Redis is a new process; the web server, the worker and the carrier are forked.
Process = subprocess.Popen | ForkedChild


@dataclass
class Child:
    """One supervised process: how to start it, the running process and its crash record."""

    name: str
    spawn: Callable[[], Process]
    process: Process | None = None
    pidfd: int | None = None
    started_at: float = 0.0
    # Crashes in a row, each without a stable minute before it.
    crashes: int = 0
    restart_at: float | None = None
    # The alarm while it keeps crashing, and whether it is recorded as a standing condition.
    alarm: str = ""
    alarmed: bool = False


class Supervisor:
    """Starts the hotline's processes, restarts any that die, and stops every one on exit."""

    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        web_workers: int | None,
        carrier_port: int | None,
        *,
        ready_deadline_s: float = READY_DEADLINE_S,
    ):
        self.settings = settings
        self.host = host
        self.port = port
        self.web_workers = web_workers or WEB_WORKERS
        # None: the web port + 50, or a free port when that one is taken.
        self.carrier_port = carrier_port
        self.ready_deadline_s = ready_deadline_s
        self.embedded: EmbeddedRedis | None = None
        self.children: dict[str, Child] = {}
        self.ready = False
        self._env: dict[str, str] = {}
        self._redis_url = ""
        self._redis: redis_lib.Redis | None = None
        self._lock: IO[str] | None = None
        self._owns_state = False
        self._stopping = False
        self._stop_signal: int | None = None
        self._selector = selectors.DefaultSelector()
        self._wakeup: tuple[int, int] | None = None
        self._previous_wakeup_fd = -1

    def run(self) -> int:
        """Start everything, print how to use it once it answers, keep it up until Ctrl-C."""
        if not self.take_var_dir():
            return 1
        self._install_signals()
        try:
            problem = self._port_problem()
            if problem:
                print(f"hotline serve: {problem}", file=sys.stderr, flush=True)
                return 1
            self._write_state()
            self._start_redis()
            if self._stop_signal is None:
                self._start_children()
            return self._watch()
        except RedisAlreadyRunning as error:
            print(
                f"hotline serve: a redis-server (pid {error.pid}) left by an earlier serve still "
                f"answers on {error.socket_path}; stop it (kill {error.pid}: it saves its data) "
                "and start again",
                file=sys.stderr,
                flush=True,
            )
            return 1
        except EmbeddedRedisError as error:
            print(f"hotline serve: cannot start Redis: {error}", file=sys.stderr, flush=True)
            return 1
        finally:
            self.stop()

    # Owning the var dir

    @property
    def state_file(self) -> Path:
        """Where the running processes are listed, for ops and for tests that check shutdown."""
        return self.settings.var_dir / "serve.json"

    def take_var_dir(self) -> bool:
        """Lock the var dir for this serve; say who holds it when another serve does."""
        if self._lock is not None:
            return True
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.settings.var_dir / "serve.lock").open("a")
        try:
            # The kernel drops the lock when this process ends, however it ends.
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            print(f"hotline serve: {self._running_elsewhere()}", file=sys.stderr, flush=True)
            return False
        self._lock = lock
        return True

    def _running_elsewhere(self) -> str:
        """One line naming the serve that holds this var dir, from its state file."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            state = {}
        ports = f"web port {state.get('port', '?')}"
        if state.get("carrier_port"):
            ports += f", carrier port {state['carrier_port']}"
        return (
            f"already running on {self.settings.var_dir} (pid {state.get('supervisor', '?')}, "
            f"{ports}); stop that one first, or give this one its own HOTLINE_VAR_DIR and PORT"
        )

    def _port_problem(self) -> str | None:
        """Check the web and carrier ports are free, choosing the carrier's when not given."""
        if port_taken(self.host, self.port):
            return f"port {self.port} on {self.host} is in use (another hotline? set PORT)"
        if not self.settings.demo:
            return None
        if self.carrier_port is None:
            derived = demo_carrier_port(self.port)
            self.carrier_port = derived if not port_taken("127.0.0.1", derived) else free_port()
        elif port_taken("127.0.0.1", self.carrier_port):
            return (
                f"the carrier's port {self.carrier_port} is in use "
                "(set CARRIER_PORT or --carrier-port, or leave it to follow PORT)"
            )
        return None

    def _write_state(self) -> None:
        """List this supervisor's processes in var/serve.json; rewritten as children restart."""
        state = {
            "supervisor": os.getpid(),
            "port": self.port,
            "carrier_port": self.carrier_port if self.settings.demo else None,
            "children": {
                name: child.process.pid
                for name, child in self.children.items()
                if child.process is not None and name != "redis"
            },
            "redis": self.embedded.pid if self.embedded else None,
            "redis_url": self._redis_url,
            "ready": self.ready,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_file.with_suffix(".json.part")
        partial.write_text(json.dumps(state))
        partial.replace(self.state_file)
        self._owns_state = True

    # Signals: a flag and a wake-up, so a stop is noticed in any wait, backoffs included

    def _install_signals(self) -> None:
        """Turn stop signals into a flag that also wakes the watch loop."""
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        self._wakeup = (read, write)
        self._selector.register(read, selectors.EVENT_READ, None)
        self._previous_wakeup_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        """Remember that a stop was asked for; the watch loop wakes and stops everything."""
        self._stop_signal = signum

    # Starting the parts

    def _start_redis(self) -> None:
        """Use REDIS_URL, or start the embedded Redis under var/ on its fixed socket."""
        env = dict(os.environ)
        if not self.settings.redis_url:
            self.embedded = EmbeddedRedis(self.settings.var_dir / "redis")
            self.children["redis"] = child = Child("redis", self._spawn_redis)
            self._launch(child)
            env["REDIS_URL"] = self.embedded.socket_url
        self._redis_url = env["REDIS_URL"]
        self._env = env
        self._write_state()
        if self.settings.demo:
            self._seed_demo(self._redis_url)

    def _spawn_redis(self) -> subprocess.Popen:
        """Start the embedded Redis on the same socket and data as before."""
        assert self.embedded is not None
        # Clears what a killed server left (its socket file, a save in progress).
        self.embedded.stop()
        self.embedded.start()
        assert self.embedded.process is not None
        return self.embedded.process

    def _seed_demo(self, redis_url: str) -> None:
        """Give the demo its consultants: the demo roster, everyone available."""
        from hotline.roster_file import seed_demo_roster

        report = seed_demo_roster(
            read_hotline_config(self.settings.config_path),
            redis_url,
            Path(os.environ["HOTLINE_DEMO_ROSTER"])
            if os.environ.get("HOTLINE_DEMO_ROSTER")
            else None,
        )
        if report is not None:
            print(f"demo roster loaded: {report.total} consultants, all available", flush=True)

    def _start_children(self) -> None:
        """Start the web server, the worker and, in demo mode, the carrier."""
        env = self._env
        app_url = f"http://{self.host}:{self.port}"
        # Calls the hotline places (agents, callbacks) need the app's URL for their webhooks.
        env.setdefault("HOTLINE_APP_URL", app_url)
        # The metrics directory is in env already: serve set it before loading anything that
        # counts (hotline/commands/processes.py). Each part is forked from serve: what they all
        # load is loaded here, once.
        warm_up()
        names = ["web", "worker"]
        if self.settings.demo:
            env.setdefault("TWILIO_API_BASE_URL", f"http://127.0.0.1:{self.carrier_port}")
            carrier = [
                "carrier",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.carrier_port),
                "--app-url",
                app_url,
                "--agents",
                str(demo_agents_file(env)),
                # The number's fallback is the static crisis fallback, hosted by the carrier
                # apart from the app, as production hosts it (docs/deploying.md).
                "--fallback-twiml",
                str(self._write_fallback_twiml(app_url)),
            ]
            self.children["carrier"] = Child("carrier", lambda: self._fork_command(carrier))
            names.insert(0, "carrier")
        web = [
            "--bind",
            f"{self.host}:{self.port}",
            *web_settings(self.web_workers),
            "--graceful-timeout",
            "5",
            # Its hooks: the preloaded app frozen out of the collector before each fork.
            "--config",
            "python:hotline.web_server",
            "--log-level",
            "warning",
            "hotline.app:create_app()",
        ]
        self.children["web"] = Child("web", lambda: self._fork(["gunicorn", *web], run_gunicorn))
        self.children["worker"] = Child("worker", lambda: self._fork_command(["worker"]))
        for name in names:
            self._launch(self.children[name])
        self._write_state()
        print(f"hotline serve: waiting for {', '.join(names)} to answer", flush=True)

    def _write_fallback_twiml(self, app_url: str) -> Path:
        """Write the static crisis fallback for the carrier's bin: the running config's crisis
        lines, each reporting to this app, so a caller it puts through alerts the supervisors."""
        from ivr.crisis.fallback import fallback_document

        config = read_hotline_config(self.settings.config_path)
        path = self.settings.var_dir / FALLBACK_TWIML
        # The carrier reaches the app at app_url and signs its requests for that URL.
        path.write_text(fallback_document(config, app_url), encoding="utf-8")
        return path

    def _fork_command(self, command: list[str]) -> ForkedChild:
        """Fork a part that runs a `hotline` command, as `hotline <command>` would."""
        from hotline.cli import main

        return self._fork(["hotline", *command], lambda: main(command))

    def _fork(self, args: list[str], entry: Callable[[], int | None]) -> ForkedChild:
        """Fork a part in its own process group, so what it leaves behind can be killed."""
        if self._redis is not None:
            # Closed here, not in the part: after a fork redis-py drops a pool's connections
            # without closing them, so the part would keep serve's sockets open. The pool
            # connects again when serve next needs Redis.
            self._redis.connection_pool.disconnect()
        return fork_child(entry, args, self._env, forget=self._forget)

    def _forget(self) -> None:
        """In a forked part: let go of what is serve's (its lock, selector, signals' pipe,
        the parts' pidfds), so the part holds none of it."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        for child in self.children.values():
            if child.pidfd is not None:
                os.close(child.pidfd)
                child.pidfd = None
        self._selector.close()
        if self._wakeup is not None:
            for end in self._wakeup:
                os.close(end)
            self._wakeup = None

    def _launch(self, child: Child) -> None:
        """Start a child and watch for its exit."""
        child.restart_at = None
        child.process = child.spawn()
        child.started_at = time.monotonic()
        if hasattr(os, "pidfd_open"):
            child.pidfd = os.pidfd_open(child.process.pid)
            self._selector.register(child.pidfd, selectors.EVENT_READ, child)

    # Watching

    def _watch(self) -> int:
        """Restart children that die until a stop signal; 1 when the parts never all answer."""
        ready_by = time.monotonic() + self.ready_deadline_s
        while self._stop_signal is None:
            now = time.monotonic()
            for child in list(self.children.values()):
                self._tend(child, now)
            if not self.ready and self._stop_signal is None:
                missing = self._not_answering()
                if not missing:
                    self.ready = True
                    self._write_state()
                    self._print_banner()
                elif time.monotonic() >= ready_by:
                    print(
                        f"hotline serve: {'; '.join(missing)}: did not come up within "
                        f"{self.ready_deadline_s:g} s; stopping everything",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
            self._wait(self._next_wake())
        return 0

    def _tend(self, child: Child, now: float) -> None:
        """Notice an exit, start a child whose backoff is over, or clear a settled alarm."""
        if child.process is not None and exited(child.process):
            self._on_exit(child, now)
        elif child.process is None and child.restart_at is not None and child.restart_at <= now:
            self._restart(child)
        elif child.alarm and child.process and now - child.started_at >= STABLE_AFTER_S:
            self._clear_alarm(child)

    def _next_wake(self) -> float | None:
        """Seconds until something is due: a restart, a kill, an alarm to clear, a check."""
        now = time.monotonic()
        due = []
        for child in self.children.values():
            if child.restart_at is not None:
                due.append(child.restart_at)
            if child.alarm and child.process is not None:
                due.append(child.started_at + STABLE_AFTER_S)
        if not self.ready or not hasattr(os, "pidfd_open"):
            due.append(now + WATCH_INTERVAL_S)
        return max(min(due) - now, 0.0) if due else None

    def _wait(self, timeout: float | None) -> None:
        """Sleep in the selector until a child exits, a signal arrives or the timeout passes."""
        for key, _ in self._selector.select(timeout):
            if key.data is None and self._wakeup is not None:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wakeup[0], 512)

    def _on_exit(self, child: Child, now: float) -> None:
        """Reap a child that exited, and restart it after its backoff."""
        assert child.process is not None
        code = self._reap(child)
        if self._stop_signal is not None:
            return
        ran = now - child.started_at
        child.crashes = 1 if ran >= STABLE_AFTER_S else child.crashes + 1
        delay = min(BACKOFF_FIRST_S * 2 ** (child.crashes - 1), BACKOFF_MAX_S)
        child.restart_at = now + delay
        print(
            f"hotline serve: {child.name} exited with {describe_exit(code)} after {ran:.1f} s; "
            f"restarting in {delay:g} s",
            file=sys.stderr,
            flush=True,
        )
        self._write_state()
        if child.crashes >= CRASH_LOOP_AFTER:
            self._alarm(child, delay)

    def _reap(self, child: Child) -> int:
        """Kill what is left of a dead child's process group, then collect its exit code."""
        assert child.process is not None
        process, child.process = child.process, None
        # The leader is a zombie until waited for, so its group id cannot be reused yet.
        kill_group(process)
        code = process.wait()
        if child.pidfd is not None:
            self._selector.unregister(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = None
        return code

    def _restart(self, child: Child) -> None:
        """Start a child again; a start that fails counts as one more crash."""
        if child.name == "worker":
            self._free_dead_schedulers()
        try:
            self._launch(child)
        except (OSError, EmbeddedRedisError) as error:
            child.process = None
            child.crashes += 1
            delay = min(BACKOFF_FIRST_S * 2 ** (child.crashes - 1), BACKOFF_MAX_S)
            child.restart_at = time.monotonic() + delay
            print(
                f"hotline serve: {child.name} could not start ({error}); restarting in {delay:g} s",
                file=sys.stderr,
                flush=True,
            )
            if child.crashes >= CRASH_LOOP_AFTER:
                self._alarm(child, delay)
            return
        assert child.process is not None
        print(
            f"hotline serve: {child.name} started again (pid {child.process.pid})",
            file=sys.stderr,
            flush=True,
        )
        self._write_state()
        if child.name == "redis":
            # The web app and the worker reconnect on their next command (the worker starts its
            # scheduler again itself); alarms Redis was not there to take are recorded now.
            for other in self.children.values():
                if other.alarm and not other.alarmed:
                    self._record_alarm(other)

    def _free_dead_schedulers(self) -> None:
        """Free the scheduler locks a killed worker left, so the next one schedules at once."""
        with contextlib.suppress(redis_lib.RedisError, OSError):
            release_dead_schedulers(self._client(), _alive)

    # Alarms: a child that keeps crashing

    def _alarm(self, child: Child, delay: float) -> None:
        """Say loudly that a child keeps crashing: stderr, and a standing condition."""
        detail = (
            f"{child.name} keeps crashing ({child.crashes} times in a row), restarted every "
            f"{delay:g} s: {DOWN_MEANS[child.name]}"
        )
        print(f"hotline serve: ALARM: {detail}", file=sys.stderr, flush=True)
        child.alarm = detail
        self._record_alarm(child)

    def _record_alarm(self, child: Child) -> None:
        """Raise (or refresh) a child's standing condition; Redis may be what is down."""
        try:
            self._conditions().raise_condition(condition_name(child.name), child.alarm, time.time())
            child.alarmed = True
        except (redis_lib.RedisError, OSError) as error:
            print(
                f"hotline serve: the alarm could not be recorded in Redis ({error}); it will be "
                "once Redis answers, and /healthz says Redis is down meanwhile",
                file=sys.stderr,
                flush=True,
            )

    def _clear_alarm(self, child: Child) -> None:
        """Clear a child's alarm once it has stayed up for a stable minute."""
        if child.alarmed:
            try:
                self._conditions().clear(condition_name(child.name), time.time())
            except (redis_lib.RedisError, OSError):
                return
        child.alarm = ""
        child.alarmed = False
        child.crashes = 0
        print(
            f"hotline serve: {child.name} has stayed up for {STABLE_AFTER_S:g} s; alarm cleared",
            file=sys.stderr,
            flush=True,
        )

    def _conditions(self) -> Conditions:
        """The standing conditions on serve's client."""
        # Loaded when an alarm needs them, not with this module: they load prometheus-client,
        # which must come after serve has set the metrics directory its parts count in.
        from queues.conditions import Conditions

        return Conditions(self._client())

    def _client(self) -> redis_lib.Redis:
        """This supervisor's own Redis client, with short timeouts: it must never hang."""
        if self._redis is None:
            self._redis = redis_client(self._redis_url, socket_timeout=1, socket_connect_timeout=1)
        return self._redis

    # Readiness

    def _not_answering(self) -> list[str]:
        """Name each part that does not answer yet, with what was asked of it."""
        missing = []
        web = f"http://{probe_host(self.host)}:{self.port}/healthz"
        if not answers_http(web):
            missing.append(f"web (GET {web} is not 200)")
        if "carrier" in self.children and not listening("127.0.0.1", self.carrier_port or 0):
            missing.append(f"carrier (nothing listens on 127.0.0.1:{self.carrier_port})")
        worker = self.children.get("worker")
        try:
            registered = registered_pids(self._client())
        except (redis_lib.RedisError, OSError):
            registered = set()
        if worker is None or worker.process is None or worker.process.pid not in registered:
            missing.append("worker (not registered in RQ)")
        return missing

    def _print_banner(self) -> None:
        """Print the URLs and how to place a test call."""
        base = f"http://{self.host}:{self.port}"
        redis = (
            f"{self._redis_url} (embedded; the same on every start)"
            if self.embedded
            else "REDIS_URL"
        )
        lines = [
            "",
            "Legal consultation hotline is running",
            f"  voice webhook   POST {base}/voice",
            f"  status callback POST {base}/voice/status",
            f"  fallback        {self._fallback_line()}",
            f"  health          GET  {base}/healthz",
            f"  redis           {redis}",
        ]
        if self.settings.demo:
            local = f"http://localhost:{self.port}"
            carrier = f"http://127.0.0.1:{self.carrier_port}"
            # `hotline call` finds the carrier on its default port unless told otherwise.
            where = "" if self.carrier_port == DEMO_CARRIER_PORT else f" --carrier {carrier}"
            lines += [
                f"  local carrier   {carrier} (demo mode: no Twilio)",
                f"  demo phone      {local}/demo/phone",
                f"  consoles        {local}/ops/  (first: REDIS_URL={self._redis_url} "
                ".venv/bin/hotline user add NAME --role ops)",
                "",
                "Place a test call from another terminal (general questions never close):",
                f"  .venv/bin/hotline call{where} --press 1 --press 0",
            ]
        else:
            lines += [
                f"  hotline number  {mask_number(self.settings.hotline_number)}",
                "Point the number's Voice URL at PUBLIC_BASE_URL/voice (see README).",
            ]
        lines += ["", "Ctrl-C stops everything.", ""]
        print("\n".join(lines), flush=True)

    def _fallback_line(self) -> str:
        """Where the number's Voice Fallback URL points: the carrier's bin, or a file to host."""
        if self.settings.demo:
            bin_url = f"http://127.0.0.1:{self.carrier_port}/carrier/bins/fallback"
            return f"POST {bin_url} (the static crisis fallback, a carrier bin)"
        return "ivr/static/crisis-fallback.xml, hosted apart from the app (see README)"

    # Stopping

    def stop(self) -> None:
        """Stop every child and the embedded Redis; safe to call twice."""
        if self._stopping:
            return
        self._stopping = True
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        # Redis last: the others may still write to it as they finish.
        others = [c for name, c in self.children.items() if name != "redis" and c.process]
        stop_processes([c.process for c in others if c.process is not None], STOP_GRACE_S)
        for child in others:
            if child.process is not None:
                self._reap(child)
        if self._redis is not None:
            self._redis.close()
        redis = self.children.get("redis")
        if redis is not None and redis.pidfd is not None:
            self._selector.unregister(redis.pidfd)
            os.close(redis.pidfd)
            redis.pidfd = None
        if self.embedded is not None:
            self.embedded.stop()
        self._close_signals()
        if self._owns_state:
            self.state_file.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()

    def _close_signals(self) -> None:
        """Give the wake-up fd back and close the loop's files."""
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None
        self._selector.close()


def web_settings(workers: int = WEB_WORKERS) -> list[str]:
    """gunicorn's settings for the web server's processes and threads (the bench uses them too)."""
    return [
        "--workers",
        str(workers),
        "--threads",
        str(web_threads()),
        "--worker-class",
        "gthread",
        # The app is built once and its workers forked from it: a worker that dies comes back
        # at once, and each does not load the config and the classifier again.
        "--preload",
    ]


def web_threads() -> int:
    """Threads per web worker: HOTLINE_WEB_THREADS, else WEB_THREADS; 1-1000."""
    raw = os.environ.get("HOTLINE_WEB_THREADS", "")
    return min(max(int(raw), 1), 1000) if raw.isdigit() else WEB_THREADS


def stop_processes(processes: list[Process], grace_s: float) -> None:
    """Ask processes to stop, and kill the ones still running after the grace period."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def exited(process: Process) -> bool:
    """Tell whether a child has exited, without reaping it (so its group can still be killed)."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def kill_group(process: Process | None) -> None:
    """Kill a child's whole process group: gunicorn's workers, RQ's scheduler, a Redis save."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def describe_exit(code: int) -> str:
    """An exit code as a person reads it: `2`, or `-9 (SIGKILL)`."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


def condition_name(child: str) -> str:
    """The standing condition raised while a child keeps crashing."""
    return f"serve-{child}-crashing"


def free_port() -> int:
    """A port nothing listens on now, chosen by the system."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def probe_host(host: str) -> str:
    """Where to reach a server bound to host (all addresses are reached on loopback)."""
    # Maps a bind-all address to loopback; binds nothing.
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # nosec B104


def answers_http(url: str) -> bool:
    """Tell whether a GET answers 200."""
    try:
        # url is the http:// address of a server this process started.
        with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def listening(host: str, port: int) -> bool:
    """Tell whether something accepts connections on a port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def demo_agents_file(env: dict[str, str]) -> Path:
    """The carrier's phones: CARRIER_AGENTS, or the demo file shipped with the carrier."""
    import carrier

    given = env.get("CARRIER_AGENTS")
    return Path(given) if given else Path(carrier.__file__).with_name("demo_agents.yaml")


def shipped_fallback_twiml() -> Path:
    """The static TwiML shipped for the number's Voice Fallback URL (`hotline fallback-twiml`)."""
    import ivr

    return Path(ivr.__file__).with_name("static") / "crisis-fallback.xml"


def run_gunicorn() -> int:
    """The web server's entry point in a forked part: gunicorn, reading sys.argv as its own."""
    from gunicorn.app.wsgiapp import WSGIApplication

    WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()
    return 0

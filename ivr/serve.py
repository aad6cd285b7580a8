"""`hotline serve`: Redis (embedded unless REDIS_URL), gunicorn, the RQ worker and, in demo
mode, the local carrier, as child processes that all stop together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ivr.settings import Settings, read_hotline_config
from queues.embedded import EmbeddedRedis
from routing.privacy import mask_number

# How long children get to finish in-flight requests after Ctrl-C before they are killed.
STOP_GRACE_S = 10.0
# How often the supervisor looks at its children.
WATCH_INTERVAL_S = 0.2


class Supervisor:
    """Starts the hotline's processes, watches them, and stops every one on any exit path."""

    def __init__(
        self, settings: Settings, host: str, port: int, web_workers: int, carrier_port: int
    ):
        self.settings = settings
        self.host = host
        self.port = port
        self.web_workers = web_workers
        self.carrier_port = carrier_port
        self.embedded: EmbeddedRedis | None = None
        self.children: dict[str, subprocess.Popen] = {}
        self._stopping = False
        self._redis_url = ""

    def run(self) -> int:
        """Start everything, print how to use it, and wait for Ctrl-C or a child's death."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            env = self._start_redis()
            self._start_children(env)
            self._write_state()
            self._print_banner(env)
            return self._watch()
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def _on_signal(self, signum: int, frame: object) -> None:
        """Turn a stop signal into a clean shutdown of every child."""
        raise KeyboardInterrupt

    def _start_redis(self) -> dict[str, str]:
        """Use REDIS_URL, or start an embedded Redis under var/ and hand its URL to children."""
        env = dict(os.environ)
        if not self.settings.redis_url:
            self.embedded = EmbeddedRedis(self.settings.var_dir / "redis")
            env["REDIS_URL"] = self.embedded.start()
        self._redis_url = env["REDIS_URL"]
        if self.settings.demo:
            self._seed_demo(env["REDIS_URL"])
        return env

    def _seed_demo(self, redis_url: str) -> None:
        """Give the demo its consultants: the demo roster, everyone available."""
        from ivr.roster import seed_demo_roster

        report = seed_demo_roster(
            read_hotline_config(self.settings.config_path),
            redis_url,
            Path(os.environ["HOTLINE_DEMO_ROSTER"])
            if os.environ.get("HOTLINE_DEMO_ROSTER")
            else None,
        )
        if report is not None:
            print(f"demo roster loaded: {report.total} consultants, all available", flush=True)

    def _start_children(self, env: dict[str, str]) -> None:
        """Start the web server, the worker and, in demo mode, the carrier."""
        hotline = [sys.executable, "-m", "ivr.cli"]
        app_url = f"http://{self.host}:{self.port}"
        # Calls the hotline places (agents, callbacks) need the app's URL for their webhooks.
        env.setdefault("HOTLINE_APP_URL", app_url)
        if self.settings.demo:
            env.setdefault("TWILIO_API_BASE_URL", f"http://127.0.0.1:{self.carrier_port}")
            self.children["carrier"] = subprocess.Popen(
                [
                    *hotline,
                    "carrier",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.carrier_port),
                    "--app-url",
                    app_url,
                    "--agents",
                    str(demo_agents_file(env)),
                ],
                env=env,
            )
        self.children["web"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"{self.host}:{self.port}",
                "--workers",
                str(self.web_workers),
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
                "ivr:create_app()",
            ],
            env=env,
        )
        self.children["worker"] = subprocess.Popen([*hotline, "worker"], env=env)

    @property
    def state_file(self) -> Path:
        """Where the running processes are listed, for ops and for tests that check shutdown."""
        return self.settings.var_dir / "serve.json"

    def _write_state(self) -> None:
        """List this supervisor's processes in var/serve.json while they run."""
        state = {
            "supervisor": os.getpid(),
            "children": {name: child.pid for name, child in self.children.items()},
            "redis": self.embedded.pid if self.embedded else None,
            "redis_url": self._redis_url,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state))

    def _print_banner(self, env: dict[str, str]) -> None:
        """Print the URLs and how to place a test call."""
        base = f"http://{self.host}:{self.port}"
        redis = f"{self._redis_url} (embedded)" if self.embedded else "REDIS_URL"
        lines = [
            "",
            "Legal consultation hotline is running",
            f"  voice webhook   POST {base}/voice",
            f"  status callback POST {base}/voice/status",
            f"  fallback        POST {base}/voice/fallback",
            f"  health          GET  {base}/healthz",
            f"  redis           {redis}",
        ]
        if self.settings.demo:
            local = f"http://localhost:{self.port}"
            lines += [
                f"  local carrier   http://127.0.0.1:{self.carrier_port} (demo mode: no Twilio)",
                f"  demo phone      {local}/demo/phone",
                f"  consoles        {local}/ops/  (first: REDIS_URL=... hotline user add NAME"
                " --role ops)",
                "",
                "Place a test call from another terminal (general questions never close):",
                "  .venv/bin/hotline call --press 1 --press 0",
            ]
        else:
            lines += [
                f"  hotline number  {mask_number(self.settings.hotline_number)}",
                "Point the number's Voice URL at PUBLIC_BASE_URL/voice (see README).",
            ]
        lines += ["", "Ctrl-C stops everything.", ""]
        print("\n".join(lines), flush=True)

    def _watch(self) -> int:
        """Wait until a child exits on its own (an error) or a stop signal arrives."""
        while True:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    print(f"hotline serve: {name} exited with {code}; stopping", file=sys.stderr)
                    return 1
            time.sleep(WATCH_INTERVAL_S)

    def stop(self) -> None:
        """Stop every child and the embedded Redis; safe to call twice."""
        if self._stopping:
            return
        self._stopping = True
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop_processes(list(self.children.values()), STOP_GRACE_S)
        if self.embedded is not None:
            self.embedded.stop()
        self.state_file.unlink(missing_ok=True)


def stop_processes(processes: list[subprocess.Popen], grace_s: float) -> None:
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


def demo_agents_file(env: dict[str, str]) -> Path:
    """The carrier's phones: CARRIER_AGENTS, or the demo file shipped with the carrier."""
    import carrier

    given = env.get("CARRIER_AGENTS")
    return Path(given) if given else Path(carrier.__file__).with_name("demo_agents.yaml")

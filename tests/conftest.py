"""Shared fixtures: a real Redis (embedded unless REDIS_URL), the app, and signed Twilio posts."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as redis_lib

from queues import sealing
from queues.embedded import EmbeddedRedis, _alive
from queues.sealing import Sealer
from tests.fixtures.app import (
    OPEN_TIME,
    TEST_SECRET,
    Clock,
    Twilio,
    closed_port,
    demo_environment,
)

# The shared fixtures (rig, jobs_runtime, hotline...), each usable by any test that names it;
# a test module's own fixture of the same name takes its place there.
pytest_plugins = [
    "tests.fixtures.carrier",
    "tests.fixtures.cpu_times",
    "tests.fixtures.crisis",
    "tests.fixtures.file_order",
    "tests.fixtures.ops",
    "tests.fixtures.records",
    "tests.fixtures.url_rules",
]


def pytest_configure(config: pytest.Config) -> None:
    """Give each parallel test worker its own database on a shared REDIS_URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    given = os.environ.get("REDIS_URL", "")
    if worker.startswith("gw") and given.startswith(("redis://", "rediss://")):
        parts = urlsplit(given)
        base = int(parts.path.strip("/") or 0)
        # Workers count down from the given database: 15, 14, 13...
        database = base - int(worker[2:]) if base >= int(worker[2:]) else base + int(worker[2:])
        os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{database}"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection loaded (the hotline, the libraries, every test module) out of the
    garbage collector: it lives as long as the run, and each full collection walked it again,
    about a fifth of an in-process test's CPU. What the tests themselves make is collected as
    before."""
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failed run: every test must run on every machine, CI included."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and session.exitstatus == 0:
        reporter.write_line("FAILED: tests were skipped; every test must run", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis URL: REDIS_URL when set (the machine's Redis), else an embedded server."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    pid = server.pid
    try:
        yield url
    finally:
        server.stop()
        assert pid is not None and not _alive(pid), "embedded redis-server left running"


@pytest.fixture(autouse=True)
def sealer() -> Iterator[Sealer]:
    """The process's sealer, as a hotline installs it at start-up, under the tests' secret."""
    installed = Sealer(TEST_SECRET)
    sealing.install(installed)
    yield installed
    sealing.install(None)


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    """A client on a flushed database, so each test starts clean."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def clock() -> Clock:
    """A clock set inside opening hours."""
    return Clock(OPEN_TIME)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A demo-mode environment with nothing inherited from the developer's shell."""
    return demo_environment(monkeypatch, tmp_path / "var")


@pytest.fixture(scope="session")
def hotline_config():
    """The shipped hotline config, loaded once for the whole run."""
    from hotline.settings import DEFAULT_CONFIG, read_hotline_config

    return read_hotline_config(DEFAULT_CONFIG)


@pytest.fixture
def app(app_env: pytest.MonkeyPatch, redis, redis_url: str, clock: Clock, hotline_config):
    """The hotline app on the test Redis with a controllable clock."""
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", redis_url)
    return create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})


@pytest.fixture
def app_without_redis(app_env: pytest.MonkeyPatch, clock: Clock, hotline_config):
    """The hotline app with its Redis unreachable (nothing listens on its port)."""
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    return create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})


@pytest.fixture
def twilio(app) -> Twilio:
    """A signed-webhook poster on the app's test client."""
    return Twilio(app.test_client())

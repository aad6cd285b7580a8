"""The app's Redis connection, opened lazily and shared by the requests of one process."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis

from queues.calls import CallStore
from queues.incidents import IncidentLog

# Short timeouts: a caller must never wait on a Redis that has gone away.
SOCKET_TIMEOUT_S = 0.5


def init_app(app: Flask) -> None:
    """Prepare the slot for the connection; nothing connects until first use."""
    app.extensions["redis"] = None


def get_redis() -> Redis:
    """Return the process's Redis client, created on first use from REDIS_URL."""
    client = current_app.extensions.get("redis")
    if client is None:
        url = current_app.config["SETTINGS"].redis_url
        if not url:
            raise RuntimeError("REDIS_URL is not set; start the hotline with `hotline serve`")
        client = Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            health_check_interval=30,
        )
        current_app.extensions["redis"] = client
    return client


def call_store() -> CallStore:
    """Return a CallStore on the process's Redis."""
    store = current_app.extensions.get("call_store")
    if store is None:
        store = CallStore(get_redis())
        current_app.extensions["call_store"] = store
    return store


def incident_log() -> IncidentLog:
    """Return the crisis incident log on the process's Redis."""
    log = current_app.extensions.get("incident_log")
    if log is None:
        log = IncidentLog(get_redis())
        current_app.extensions["incident_log"] = log
    return log

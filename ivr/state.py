"""The app's Redis connection, opened lazily and shared by the requests of one process."""

from __future__ import annotations

import os

from flask import Flask, current_app
from redis import Redis

from ivr.job_urls import webhook_urls
from queues import runtime, sealing
from queues.calls import CallStore
from queues.incidents import IncidentLog
from queues.sealing import Sealer
from telephony.gateway import Gateway

# Short timeouts: a caller must never wait on a Redis that has gone away.
SOCKET_TIMEOUT_S = 0.5


def init_app(app: Flask) -> None:
    """Make the app's Redis client (it connects on first use) and install the jobs' runtime."""
    url = app.config["SETTINGS"].redis_url
    # Every blueprint, the consoles' included, shares this one client and its pool.
    app.extensions["redis"] = (
        Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            health_check_interval=30,
        )
        if url
        else None
    )
    runtime.install(lambda: app_runtime(app))
    # Callers' numbers and words are sealed, and numbers digested, under the hotline's secret:
    # every process of one hotline has the same secret, so each reads what the others wrote.
    sealing.install(Sealer(app.config["SECRET_KEY"]))


def app_runtime(app: Flask) -> runtime.Runtime:
    """The runtime of routing and alert jobs, built once per app from its settings."""
    built = app.extensions.get("runtime")
    if built is None:
        with app.app_context():
            settings = app.config["SETTINGS"]
            built = runtime.Runtime(
                redis=get_redis(),
                gateway=Gateway(
                    settings.account_sid,
                    settings.auth_token,
                    settings.api_base_url,
                    settings.hotline_number,
                ),
                config=app.config["HOTLINE"],
                public_base_url=callback_base_url(settings),
                clock=app.config["CLOCK"],
                webhooks=webhook_urls(app, callback_base_url(settings)),
            )
        app.extensions["runtime"] = built
    return built


def callback_base_url(settings) -> str:
    """Where Twilio reaches the app for calls the hotline places itself."""
    return settings.public_base_url or os.environ.get("HOTLINE_APP_URL", "http://127.0.0.1:5000")


def current_runtime() -> runtime.Runtime:
    """The current app's runtime."""
    return app_runtime(current_app._get_current_object())


def get_redis() -> Redis:
    """Return the process's Redis client."""
    client = current_app.extensions.get("redis")
    if client is None:
        raise RuntimeError("REDIS_URL is not set; start the hotline with `hotline serve`")
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

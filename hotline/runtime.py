"""The app's runtime, made once by the app factory for the process (web or worker).

Views reach it with `queues.runtime.serving()`, jobs with `queues.runtime.current()`.
"""

from __future__ import annotations

import os

from flask import Flask

from hotline import records
from hotline.settings import Settings
from ivr.job_urls import webhook_urls
from queues import runtime, sealing
from queues.connection import redis_client
from queues.sealing import Sealer
from telephony.gateway import Gateway

# Short timeouts: a caller must never wait on a Redis that has gone away.
SOCKET_TIMEOUT_S = 0.5


def init_app(app: Flask) -> None:
    """Make the app's runtime from its settings and install it as the process's jobs' runtime."""
    settings: Settings = app.config["SETTINGS"]
    # Callers' numbers and words are sealed, and numbers digested, under the hotline's secret:
    # every process of one hotline has the same secret, so each reads what the others wrote.
    sealer = Sealer(app.config["SECRET_KEY"])
    sealing.install(sealer)
    # Jobs run in this process (the worker's, or a request's inline steps) take the app's
    # runtime at their first use, so one a test puts in its place is the one they get.
    runtime.install(lambda: runtime.of(app))
    # Call records are written by jobs too, to DATABASE_URL or the var dir's SQLite file.
    records.init_app(app)
    if not settings.redis_url:
        # No runtime: the views and jobs that need one say that REDIS_URL is not set.
        return
    base_url = callback_base_url(settings)
    built = runtime.Runtime(
        # Every blueprint, the consoles' included, shares this one client and its pool; it
        # connects on first use.
        redis=redis_client(
            settings.redis_url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            health_check_interval=30,
        ),
        gateway=Gateway(
            settings.account_sid,
            settings.auth_token,
            settings.api_base_url,
            settings.hotline_number,
        ),
        config=app.config["HOTLINE"],
        public_base_url=base_url,
        clock=app.config["CLOCK"],
        webhooks=webhook_urls(app, base_url),
        sealer=sealer,
    )
    app.extensions[runtime.EXTENSION] = built


def callback_base_url(settings: Settings) -> str:
    """Where Twilio reaches the app for calls the hotline places itself."""
    return settings.public_base_url or os.environ.get("HOTLINE_APP_URL", "http://127.0.0.1:5000")

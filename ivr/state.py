"""The phone menu's way to the app's runtime (`queues.runtime`), for webhooks still asking here."""

from __future__ import annotations

from flask import Flask
from redis import Redis

from queues import runtime
from queues.calls import CallStore
from queues.incidents import IncidentLog


def app_runtime(app: Flask) -> runtime.Runtime:
    """The runtime an app's factory made."""
    return runtime.of(app)


def current_runtime() -> runtime.Runtime:
    """The current app's runtime."""
    return runtime.serving()


def get_redis() -> Redis:
    """The current app's Redis client."""
    return runtime.serving().redis


def call_store() -> CallStore:
    """The current app's call records."""
    return runtime.serving().calls


def incident_log() -> IncidentLog:
    """The current app's crisis incident log."""
    return runtime.serving().incidents

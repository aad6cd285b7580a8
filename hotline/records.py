"""Where the hotline keeps its durable call records: DATABASE_URL, else a SQLite file under the
var dir. The app factory installs the store for the process's jobs; nothing is opened until a
job (or a `hotline records` command) first needs it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flask import Flask

from hotline.settings import Settings
from queues.records import jobs

if TYPE_CHECKING:
    from queues.records.store import RecordStore


def database_url(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """DATABASE_URL when set (PostgreSQL in production), else records.sqlite3 in the var dir."""
    from queues.records.store import sqlite_url  # SQLAlchemy only when a store is wanted

    env = os.environ if environ is None else environ
    return env.get("DATABASE_URL") or sqlite_url(settings.var_dir)


def open_store(settings: Settings) -> RecordStore:
    """A store on the hotline's records database (not yet migrated)."""
    from queues.records.store import RecordStore

    return RecordStore.open(database_url(settings))


def init_app(app: Flask) -> None:
    """Install how this process's jobs open the records database, from the app's settings."""
    settings: Settings = app.config["SETTINGS"]
    jobs.install(lambda: open_store(settings))

"""`hotline records migrate` and `hotline records backfill`: the durable call records' database."""

from __future__ import annotations

import argparse
import time

from hotline.commands import Commands, redis_client, settings


def register(commands: Commands) -> None:
    """Add `records migrate` and `records backfill`."""
    records = commands.add(
        "records",
        "operations",
        "durable call records (DATABASE_URL, else var/records.sqlite3): migrate, backfill",
    )
    record_commands = records.add_subparsers(title="records commands", metavar="RECORDS_COMMAND")
    migrate = record_commands.add_parser(
        "migrate", help="bring the records database's schema up to date (the worker does too)"
    )
    migrate.set_defaults(func=_migrate)
    backfill = record_commands.add_parser(
        "backfill",
        help="record every ended call and presence change Redis still holds (safe to repeat)",
    )
    backfill.set_defaults(func=_backfill)


def _migrate(args: argparse.Namespace) -> int:
    """Run the records' migrations up to the newest; print the revision reached."""
    from hotline.records import open_store

    store = open_store(settings())
    try:
        revision = store.migrate()
    finally:
        store.close()
    print(f"records at revision {revision} ({_where()})")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    """Write the records of what Redis still holds; print how many."""
    from hotline.records import open_store
    from queues import sealing
    from queues.records.jobs import backfill

    redis = redis_client()
    store = open_store(settings())
    try:
        store.migrate()
        done = backfill(redis, store, sealing.current(), time.time())
    finally:
        store.close()
    print(
        f"{done.recorded} calls recorded, {done.live} still live (recorded when they end), "
        f"{done.presence} presence changes folded ({_where()})"
    )
    return 0


def _where() -> str:
    """The records database, its password hidden."""
    from sqlalchemy.engine.url import make_url

    from hotline.records import database_url

    return make_url(database_url(settings())).render_as_string(hide_password=True)

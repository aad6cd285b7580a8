"""`hotline incidents export` and `hotline storage accept-key`: what Redis keeps about callers."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from hotline.commands import CommandError, Commands, redis_client


def register(commands: Commands) -> None:
    """Add `incidents export` and `storage accept-key`."""
    incidents = commands.add("incidents", "operations", "crisis incident records: export")
    incident_commands = incidents.add_subparsers(
        title="incident commands", metavar="INCIDENT_COMMAND"
    )
    export = incident_commands.add_parser("export", help="export incidents as CSV or JSON")
    export.add_argument("--from", dest="start", required=True, help="date or time, UTC (ISO)")
    export.add_argument("--to", dest="end", required=True, help="date or time, UTC (ISO)")
    export.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="output format (csv)"
    )
    export.set_defaults(func=_incidents_export)

    storage = commands.add(
        "storage", "set-up", "what Redis keeps about callers: go on with a new secret key"
    )
    storage_commands = storage.add_subparsers(title="storage commands", metavar="STORAGE_COMMAND")
    accept_key = storage_commands.add_parser(
        "accept-key",
        help="go on with a new HOTLINE_SECRET_KEY: what was sealed before stays unreadable",
    )
    accept_key.set_defaults(func=_storage_accept_key)


def _incidents_export(args: argparse.Namespace) -> int:
    """Print the crisis incidents opened between two times."""
    from queues.incidents import IncidentLog, export

    try:
        start, end = _utc_epoch(args.start), _utc_epoch(args.end)
    except ValueError as error:
        raise CommandError(
            f"bad time: {error} (give an ISO date, e.g. 2025-03-01)", code=2
        ) from None
    incidents = IncidentLog(redis_client()).between(start, end)
    sys.stdout.write(export(incidents, args.format))
    return 0


def _storage_accept_key(args: argparse.Namespace) -> int:
    """Take the secret in use as the one Redis is sealed under, clearing the key condition."""
    from queues import sealing

    redis = redis_client()
    sealing.KeyCheck(redis, sealing.current()).accept(datetime.now(UTC).timestamp())
    print("Redis is now sealed under this HOTLINE_SECRET_KEY; values sealed before stay unreadable")
    return 0


def _utc_epoch(text: str) -> float:
    """Read an ISO date or date-time (UTC unless it says otherwise) as epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()

"""`hotline report`: a period's figures from the durable call records, as a table, CSV or JSON.

Dates are local dates in the hotline's time zone (service.timezone), first and last included;
docs/reports.md defines every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

from hotline.commands import CommandError, Commands, load_config, settings
from routing.report import BUCKETS, Period, report_csv, report_json, report_table

FORMATS = ("table", "csv", "json")


def register(commands: Commands) -> None:
    """Add `report`."""
    report = commands.add(
        "report",
        "operations",
        "a period's figures from the call records: offered, answered, service level, waits, ...",
        description="A period's figures from the durable call records (docs/reports.md "
        "defines each). Dates are local to the hotline's time zone, both included.",
    )
    report.add_argument("--from", dest="first", required=True, help="first date (YYYY-MM-DD)")
    report.add_argument("--to", dest="last", required=True, help="last date (YYYY-MM-DD)")
    report.add_argument("--area", default="", help="one area's calls only (default: every area)")
    report.add_argument("--by", choices=BUCKETS, default="day", help="one row per ... (day)")
    report.add_argument("--format", choices=FORMATS, default="table", help="output (table)")
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    """Print the report of the period asked for."""
    config = load_config()
    if args.area and args.area not in config.areas:
        known = ", ".join(sorted(config.areas))
        raise CommandError(f"no area {args.area!r} (the config has {known})", code=2)
    try:
        period = Period(_date(args.first), _date(args.last), config.timezone)
    except ValueError as error:
        raise CommandError(f"bad period: {error}", code=2) from None
    # SQLAlchemy is imported here, not by every `hotline` command.
    from hotline.records import open_store
    from queues.records import reading

    store = open_store(settings())
    try:
        store.migrate()
        found = reading.report(
            store, period, by=args.by, area=args.area, policy=config.reports, now=time.time()
        )
    finally:
        store.close()
    if args.format == "csv":
        # Bytes, so the BOM and Chinese reach a file unchanged whatever the terminal's encoding.
        sys.stdout.buffer.write(report_csv(found).encode("utf-8"))
        sys.stdout.flush()
    elif args.format == "json":
        print(json.dumps(report_json(found), ensure_ascii=False, indent=2))
    else:
        print(report_table(found), end="")
    return 0


def _date(text: str) -> date:
    """A date as YYYY-MM-DD, or a ValueError saying what was given."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date as YYYY-MM-DD") from None

"""`hotline roster import|export`: the agents and their shifts, as a YAML or CSV file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hotline.commands import CommandError, Commands, load_config, redis_client, redis_url
from routing.problems import ProblemsError


def register(commands: Commands) -> None:
    """Add `roster import` and `roster export`."""
    roster = commands.add("roster", "operations", "agents and their shifts: import, export")
    roster_commands = roster.add_subparsers(title="roster commands", metavar="ROSTER_COMMAND")
    roster_import = roster_commands.add_parser(
        "import", help="replace the roster with a YAML or CSV file (checked whole first)"
    )
    roster_import.add_argument("file", help="the roster, YAML or CSV (see examples/)")
    roster_import.add_argument(
        "--presence",
        choices=("offline", "available", "on_break"),
        default="offline",
        help="presence of agents new to the roster (default offline)",
    )
    roster_import.add_argument(
        "--force",
        action="store_true",
        help="apply it even if some hour of the next 14 days has no supervisor on call or an "
        "open area no crisis-trained agent (audited as forced, with the gaps)",
    )
    roster_import.add_argument(
        "--by", metavar="NAME", help="who the audit log names (default: the OS user)"
    )
    roster_import.set_defaults(func=_roster_import)
    roster_export = roster_commands.add_parser("export", help="print the current roster")
    roster_export.add_argument(
        "--format", choices=("yaml", "csv"), default="yaml", help="file format (yaml)"
    )
    roster_export.set_defaults(func=_roster_export)


def _roster_import(args: argparse.Namespace) -> int:
    """Check a roster file whole and for cover, apply and audit it; print every problem or gap."""
    from hotline.roster_file import import_roster_file
    from queues.audit import command_line_actor
    from queues.rostering import UncoveredRoster

    config = load_config()
    url = redis_url()
    redis_client().close()  # answers, or the one line saying why not
    # --by names who asked; the OS user stays beside it, so the log never loses who ran it.
    actor = f"{args.by} ({command_line_actor()})" if args.by else command_line_actor()
    try:
        done = import_roster_file(
            Path(args.file), config, url, actor=actor, presence=args.presence, force=args.force
        )
    except (ProblemsError, OSError) as error:
        # Every problem of the file at once, each on its line: fixed in one pass, not one a run.
        print(str(error), file=sys.stderr)
        return 1
    except UncoveredRoster as refused:
        print(f"{args.file}: {refused}:", file=sys.stderr)
        for gap in refused.gaps:
            print(f"  {gap.describe()}", file=sys.stderr)
        print("import it with --force to apply it anyway (audited as forced)", file=sys.stderr)
        return 1
    report = done.report
    print(
        f"{args.file}: {report.total} agents ({len(report.added)} added, "
        f"{len(report.removed)} removed), {done.supervisors} supervisors"
    )
    if done.forced:
        print(
            f"forced: {len(done.gaps)} uncovered stretch(es) in the next 14 days (audited):",
            file=sys.stderr,
        )
        for gap in done.gaps:
            print(f"  {gap.describe()}", file=sys.stderr)
    return 0


def _roster_export(args: argparse.Namespace) -> int:
    """Print the roster as last imported, as YAML or CSV."""
    from queues.agents import AgentBoard
    from routing.roster import export_roster_csv, parse_roster

    config = load_config()
    text = AgentBoard(redis_client(), config.routing).roster_text()
    if text is None:
        raise CommandError("no roster has been imported: hotline roster import FILE")
    if args.format == "csv":
        roster = parse_roster(
            text, source="roster.yaml", area_ids=config.areas, languages=config.languages
        )
        text = export_roster_csv(roster)
    sys.stdout.write(text)
    return 0

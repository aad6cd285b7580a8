"""`hotline staffing erlang|plan`: agents a demand needs (Erlang C), and the fortnight's plan.

`erlang` is a calculator: calls in an interval with a handling time and a target, and it prints
the agents answering, the service level, ASA and occupancy they give. `plan` forecasts an area's
calls per half-hour from the call history (routing.forecast) and prints, beside each half-hour's
agents required, those the stored roster has on shift, marking the gaps. Past calls come from
the durable call records when they keep any, else from what the Redis event stream holds.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hotline.commands import CommandError, Commands, load_config, redis_client

if TYPE_CHECKING:
    from routing.forecast import CallHistory, PlanRow

# The plan's columns with their widths; text left-aligned, figures right.
COLUMNS = (
    ("date", -10),
    ("time", -5),
    ("pattern", -7),
    ("calls", 5),
    ("AHT_s", 5),
    ("answering", 9),
    ("required", 8),
    ("rostered", 8),
    ("gap", 3),
)


def register(commands: Commands) -> None:
    """Add `staffing erlang` and `staffing plan`."""
    staffing = commands.add(
        "staffing", "operations", "agents needed: Erlang C, the fortnight's plan against the roster"
    )
    staffing_commands = staffing.add_subparsers(
        title="staffing commands", metavar="STAFFING_COMMAND"
    )
    erlang = staffing_commands.add_parser(
        "erlang", help="agents for calls in an interval to meet a service level (Erlang C)"
    )
    erlang.add_argument("--calls", type=float, required=True, help="calls offered in the interval")
    erlang.add_argument(
        "--interval-s", type=float, default=1800, help="the interval in seconds (1800)"
    )
    erlang.add_argument(
        "--aht-s", type=float, required=True, help="average handling time: talk and wrap-up"
    )
    erlang.add_argument(
        "--target-sl", type=float, default=0.8, help="share answered within --target-s (0.8)"
    )
    erlang.add_argument("--target-s", type=float, default=20, help="the answer target (20 s)")
    erlang.add_argument(
        "--max-occupancy", type=float, default=1.0, help="the busiest agents may be (1: no cap)"
    )
    erlang.add_argument(
        "--shrinkage", type=float, default=0.0, help="share of rostered time off the phones (0)"
    )
    erlang.set_defaults(func=_erlang)

    plan_parser = staffing_commands.add_parser(
        "plan",
        help="an area's agents required per half-hour (forecast from past calls) against the "
        "roster, gaps marked",
    )
    plan_parser.add_argument("--area", required=True, help="the area to plan (an area id)")
    plan_parser.add_argument(
        "--from", dest="start", help="first date, YYYY-MM-DD in the hotline's zone (today)"
    )
    plan_parser.add_argument("--days", type=int, default=14, help="days to plan (14)")
    plan_parser.add_argument(
        "--weeks", type=int, help="weeks of history to learn from (config staffing.history_weeks)"
    )
    plan_parser.add_argument(
        "--history",
        choices=("auto", "records", "redis"),
        default="auto",
        help="past calls from the durable call records or the Redis event stream (auto: the "
        "records when they keep any)",
    )
    plan_parser.add_argument(
        "--all", action="store_true", help="print every half-hour, even without calls or agents"
    )
    plan_parser.set_defaults(func=_plan)


def _erlang(args: argparse.Namespace) -> int:
    """Print the agents a demand needs and how they fare."""
    from routing.erlang import Demand, Target, required

    try:
        demand = Demand(args.calls, args.interval_s, args.aht_s)
        target = Target(args.target_sl, args.target_s, args.max_occupancy, args.shrinkage)
    except ValueError as error:
        raise CommandError(str(error), code=2) from None
    need = required(demand, target)
    found = need.answering
    print(f"traffic: {found.traffic:.2f} Erlangs")
    print(f"agents: {found.agents}")
    print(f"service level: {found.service_level:.1%}")
    print(f"ASA s: {found.asa_s:.1f}")
    print(f"occupancy: {found.occupancy:.1%}")
    if target.shrinkage:
        print(f"rostered with {target.shrinkage:.0%} shrinkage: {need.rostered}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    """Print an area's half-hours ahead: calls, agents required, rostered, and the gaps."""
    # Imported here: the records' database layer is loaded only by the commands that read it.
    from queues.staffing_plan import (
        MAX_DAYS,
        MAX_WEEKS,
        PlanError,
        RecordsUnreadable,
        staffing_plan,
    )

    config = load_config()
    if args.area not in config.areas:
        raise CommandError(f"unknown area {args.area!r}; one of {', '.join(config.areas)}", code=2)
    if not 1 <= args.days <= MAX_DAYS:
        raise CommandError(f"--days must be from 1 to {MAX_DAYS}", code=2)
    if args.weeks is not None and not 1 <= args.weeks <= MAX_WEEKS:
        raise CommandError(f"--weeks must be from 1 to {MAX_WEEKS}", code=2)
    now = datetime.now(UTC)
    first = _start_date(args.start, now, ZoneInfo(config.timezone))
    redis = redis_client()
    try:
        history = call_history(redis, args.history)
        found = staffing_plan(
            history,
            _stored_roster(redis, config),
            config,
            args.area,
            first,
            args.days,
            now=now,
            weeks=args.weeks,
        )
    except RecordsUnreadable as error:
        raise CommandError(str(error), code=2) from None
    except PlanError as error:
        raise CommandError(str(error), code=1) from None
    policy = found.policy
    print(f"{args.area}: {first} to {found.last}, {config.timezone}")
    print(
        f"learned from {found.learned[0]} to {found.learned[1]} ({found.days_learned} days, "
        f"{found.calls_learned} calls) in {found.source_description}"
    )
    print(
        f"targets: {policy.target_service_level:.0%} answered within {policy.target_answer_s} s, "
        f"occupancy at most {policy.max_occupancy:.0%}, shrinkage {policy.shrinkage:.0%}"
    )
    print(
        "  ".join(
            f"{name:<{-width}}" if width < 0 else f"{name:>{width}}" for name, width in COLUMNS
        )
    )
    for row in found.rows:
        if args.all or row.slot.calls > 0 or row.rostered > 0:
            print(_line(row))
    print(
        f"{len(found.short)} of {len(found.rows)} half-hours short of agents: "
        f"{found.agent_hours_missing:.1f} agent-hours missing"
    )
    if found.calendar_warning:
        print(f"note: {found.calendar_warning}")
    return 0


def call_history(redis, source: str) -> CallHistory:
    """Where the plan reads past calls (queues.staffing_plan chooses): the durable call
    records when they keep any (or are asked for), else the Redis event stream."""
    from hotline.commands import settings
    from hotline.records import open_store
    from queues.staffing_plan import call_history as choose_history
    from queues.staffing_plan import records_written

    found = settings()
    # Asked for, the records are opened even if never written, so the refusal says why.
    opened = source == "records" or records_written(found.var_dir)
    return choose_history(redis, source, (lambda: open_store(found)) if opened else None)


def _start_date(text: str | None, now: datetime, zone: ZoneInfo) -> date:
    """The plan's first date: --from, or today in the hotline's zone."""
    if text is None:
        return now.astimezone(zone).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"bad --from {text!r}: give a date, e.g. 2026-03-02", code=2) from None


def _stored_roster(redis, config):
    """The roster as last imported (empty when none was)."""
    from queues.agents import AgentBoard
    from routing.roster import Roster, parse_roster

    text = AgentBoard(redis, config.routing).roster_text()
    if not text:
        return Roster(())
    return parse_roster(
        text,
        source="roster.yaml",
        area_ids=config.areas,
        languages=config.languages,
        accepted=True,
    )


def _line(row: PlanRow) -> str:
    """One half-hour of the plan; a short one ends with GAP."""
    slot = row.slot
    from queues.staffing_plan import pattern_name

    pattern = pattern_name(slot.pattern)
    cells = (
        f"{slot.start:%Y-%m-%d}",
        f"{slot.start:%H:%M}",
        f"{pattern:<7}",
        f"{slot.calls:5.1f}",
        f"{slot.aht_s:5.0f}",
        f"{row.need.answering.agents:9d}",
        f"{row.required:8d}",
        f"{row.rostered:8d}",
        f"{-row.gap:3d}",
    )
    return "  ".join(cells) + ("  GAP" if row.gap else "")

"""Whole-roster imports: checked for the coming fortnight's cover, applied in one step, audited.

A roster that would leave an hour of the next 14 days without a supervisor on call, or an open
area (the hours calls keep: ops' edits, else the config's) without a crisis-trained agent on
shift, is refused with the uncovered stretches listed, unless the import is forced; a forced
import is audited as forced, with its gaps. The consoles, the API, `hotline roster import` and
the demo's seeding all import through here, so every import is checked and audited alike.

The audit log never holds a PIN hash: each is replaced by a short fingerprint that still shows
whether a PIN changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from redis import Redis

from queues.agents import AgentBoard, ImportReport
from queues.audit import AuditLog
from queues.hours_edits import area_hours
from routing.config import HotlineConfig
from routing.coverage import ROSTER_CHECK_DAYS, StaffingGap, roster_gaps
from routing.hours import WeeklyHours
from routing.roster import Roster, export_roster, hash_pins

ROSTER_IMPORT = "roster.import"


class UncoveredRoster(Exception):
    """Raised when a roster would leave hours uncovered and its import was not forced."""

    def __init__(self, gaps: tuple[StaffingGap, ...]):
        self.gaps = gaps
        super().__init__(
            f"the roster leaves {len(gaps)} stretch(es) of the next {ROSTER_CHECK_DAYS} days "
            "uncovered; nothing was applied"
        )


@dataclass(frozen=True)
class RosterImport:
    """A roster applied: what changed, the gaps it leaves, and whether it was forced past them."""

    report: ImportReport
    supervisors: int
    gaps: tuple[StaffingGap, ...]
    forced: bool


def effective_hours(redis: Redis, config: HotlineConfig) -> dict[str, WeeklyHours]:
    """Every area's hours as calls keep them: ops' edit, else the config's."""
    return {area: area_hours(redis, config, area) for area in config.areas}


def coming_gaps(
    redis: Redis, config: HotlineConfig, roster: Roster, now: float
) -> tuple[StaffingGap, ...]:
    """The gaps a roster would leave over the next 14 days, in the hotline's time zone."""
    local = datetime.fromtimestamp(now, ZoneInfo(config.timezone))
    return roster_gaps(roster, effective_hours(redis, config), local)


def import_roster(
    redis: Redis,
    config: HotlineConfig,
    roster: Roster,
    *,
    actor: str,
    fmt: str,
    now: float,
    force: bool = False,
    presence: str = "offline",
    board: AgentBoard | None = None,
) -> RosterImport:
    """Check a roster's cover, apply it (raising UncoveredRoster for gaps unless forced), audit."""
    roster = hash_pins(roster)
    gaps = coming_gaps(redis, config, roster, now)
    if gaps and not force:
        raise UncoveredRoster(gaps)
    board = board or AgentBoard(redis, config.routing)
    before = board.roster_text()
    report = board.import_roster(roster, now, presence=presence)
    forced = bool(gaps)
    AuditLog(redis).record(
        actor,
        ROSTER_IMPORT,
        "roster",
        before=audited_roster(before),
        after={
            "format": fmt,
            "agents": len(roster.agents),
            "supervisors": len(roster.supervisors),
            "forced": forced,
            "gaps": [gap.describe() for gap in gaps],
            "roster": audited_roster(export_roster(roster)),
        },
        now=now,
    )
    return RosterImport(report, len(roster.supervisors), gaps, forced)


def gap_view(gap: StaffingGap) -> dict[str, Any]:
    """A gap as the API and the consoles show it."""
    return {
        "kind": gap.kind,
        "area": gap.area,
        "start": gap.start.isoformat(),
        "end": gap.end.isoformat(),
        "message": gap.describe(),
    }


def audited_agent(document: dict[str, Any]) -> dict[str, Any]:
    """An agent's fields for the audit log: a PIN hash only as a fingerprint that shows a change."""
    if "pin_hash" not in document:
        return document
    digest = hashlib.sha256(str(document["pin_hash"]).encode()).hexdigest()[:12]
    return {
        ("pin" if name == "pin_hash" else name): (f"set #{digest}" if name == "pin_hash" else value)
        for name, value in document.items()
    }


def audited_roster(text: str | None) -> dict[str, Any] | None:
    """A stored roster's document for the audit log, each PIN hash replaced by its fingerprint."""
    if text is None:
        return None
    document = yaml.safe_load(text)
    document["agents"] = [audited_agent(entry) for entry in document.get("agents") or []]
    # Plain JSON values only (a date the file left unquoted becomes its ISO text).
    return json.loads(json.dumps(document, default=str, ensure_ascii=False))

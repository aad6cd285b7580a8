"""Loading a roster file into Redis: checked whole and for cover, PINs hashed, applied, audited."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from queues.agents import AgentBoard, ImportReport
from queues.connection import redis_client
from queues.rostering import RosterImport, import_roster
from routing.config import HotlineConfig
from routing.coverage import ROSTER_CHECK_DAYS
from routing.roster import parse_roster

log = logging.getLogger(__name__)

DEMO_ROSTER = Path(__file__).resolve().parents[1] / "examples" / "roster.yaml"
# Who the audit log names for the demo's own roster, loaded at start-up.
DEMO_ACTOR = "hotline serve (demo roster)"
# Start-up names this many gaps of a forced demo roster; the audit log keeps every one.
SHOWN_GAPS = 10


def import_roster_file(
    path: Path,
    config: HotlineConfig,
    redis_url: str,
    *,
    actor: str,
    presence: str = "offline",
    force: bool = False,
) -> RosterImport:
    """Parse a YAML or CSV roster (raising with every problem), check its cover and apply it."""
    roster = parse_roster(
        path.read_text(encoding="utf-8"),
        source=str(path),
        area_ids=set(config.areas),
        languages=set(config.languages),
    )
    fmt = "csv" if path.name.lower().endswith(".csv") else "yaml"
    redis = redis_client(redis_url)
    return import_roster(
        redis,
        config,
        roster,
        actor=actor,
        fmt=fmt,
        now=time.time(),
        force=force,
        presence=presence,
    )


def seed_demo_roster(
    config: HotlineConfig, redis_url: str, path: Path | None = None
) -> ImportReport | None:
    """In demo mode, load a roster (the demo one by default) with everyone available, once."""
    board = AgentBoard(redis_client(redis_url), config.routing)
    path = path or DEMO_ROSTER
    if board.roster_text() is not None or not path.exists():
        return None
    # A demo must start even with a roster of one's own that leaves gaps: it is forced, and the
    # gaps are logged and audited, never passed over in silence.
    done = import_roster_file(
        path, config, redis_url, actor=DEMO_ACTOR, presence="available", force=True
    )
    if done.gaps:
        log.warning(
            "demo roster %s imported by force: %d uncovered stretch(es) in the next %d days "
            "(all in the audit log)",
            path.name,
            len(done.gaps),
            ROSTER_CHECK_DAYS,
        )
    for gap in done.gaps[:SHOWN_GAPS]:
        log.warning("demo roster %s: %s", path.name, gap.describe())
    return done.report

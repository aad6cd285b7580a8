"""Loading a roster file into Redis: checked whole, PINs hashed, then applied in one step."""

from __future__ import annotations

import time
from pathlib import Path

from redis import Redis

from queues.agents import AgentBoard, ImportReport
from routing.config import HotlineConfig
from routing.roster import parse_roster

DEMO_ROSTER = Path(__file__).resolve().parents[1] / "examples" / "roster.yaml"


def import_roster_file(
    path: Path, config: HotlineConfig, redis_url: str, *, presence: str = "offline"
) -> ImportReport:
    """Parse a YAML or CSV roster (raising with every problem) and replace the agents."""
    roster = parse_roster(
        path.read_text(encoding="utf-8"),
        source=str(path),
        area_ids=set(config.areas),
        languages=set(config.languages),
    )
    board = AgentBoard(Redis.from_url(redis_url), config.routing)
    return board.import_roster(roster, time.time(), presence=presence)


def seed_demo_roster(
    config: HotlineConfig, redis_url: str, path: Path | None = None
) -> ImportReport | None:
    """In demo mode, load a roster (the demo one by default) with everyone available, once."""
    board = AgentBoard(Redis.from_url(redis_url), config.routing)
    path = path or DEMO_ROSTER
    if board.roster_text() is not None or not path.exists():
        return None
    return import_roster_file(path, config, redis_url, presence="available")

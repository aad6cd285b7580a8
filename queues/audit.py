"""The audit log: an append-only stream of who changed what, when, with before and after."""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import keys


@dataclass(frozen=True)
class AuditEntry:
    """One change: who made it, when, to what, and the state before and after."""

    id: str
    at: float
    actor: str
    action: str
    target: str
    before: Any
    after: Any

    def public(self) -> dict[str, Any]:
        """The entry as the API shows it."""
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }


class AuditLog:
    """Appends and reads audit entries; entries are never edited, trimmed or removed."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
        now: float,
        pipeline: Any = None,
    ) -> None:
        """Append one entry; before and after are stored as JSON."""
        entry = {
            "at": repr(now),
            "actor": actor,
            "action": action,
            "target": target,
            "before": json.dumps(before, ensure_ascii=False, sort_keys=True),
            "after": json.dumps(after, ensure_ascii=False, sort_keys=True),
        }
        target_client = pipeline if pipeline is not None else self.redis
        target_client.xadd(keys.audit(), entry)

    def recent(self, count: int = 100, *, before_id: str | None = None) -> list[AuditEntry]:
        """The latest entries, newest first (older than before_id when given, for paging)."""
        top = f"({before_id}" if before_id else "+"
        rows = self.redis.xrevrange(keys.audit(), max=top, min="-", count=count)
        return [_entry(entry_id.decode(), fields) for entry_id, fields in rows]


def _entry(entry_id: str, fields: dict[bytes, bytes]) -> AuditEntry:
    """Build an entry from its stream fields."""
    data = {k.decode(): v.decode() for k, v in fields.items()}
    return AuditEntry(
        id=entry_id,
        at=float(data["at"]),
        actor=data["actor"],
        action=data["action"],
        target=data["target"],
        before=json.loads(data["before"]),
        after=json.loads(data["after"]),
    )


def command_line_actor() -> str:
    """Who the audit log names for a command: the operating-system user."""
    return f"cli:{getpass.getuser()}"

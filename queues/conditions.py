"""Standing conditions: promises the hotline cannot keep right now, raised once, cleared later.

A condition is a system-wide fact such as "the carrier's REST API is unreachable" or "no
supervisor is on call at 03:00 tomorrow", named by whoever notices it (the dispatch jobs, the
self-check). The first raise records it, writes an `alert` event that the supervisors' alert
feed shows, logs an error and pages the supervisors on call through `queues.alerts`; raising it
again only refreshes its detail, so a failing check run every minute pages once. Clearing it
writes a `condition-cleared` event. `/healthz` and the wallboard list the active ones.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from redis import Redis

from queues import events, keys

log = logging.getLogger(__name__)

# A condition that clears and comes back within this long does not page supervisors again:
# a flapping carrier must not send an SMS a minute.
REPAGE_AFTER_S = 30 * 60
# Longest detail kept: one line a supervisor reads on a phone.
MAX_DETAIL = 300
# The trigger that marks an alert as a standing condition (`queues.alerts.alert_kind`).
TRIGGER_PREFIX = "condition-"


@dataclass(frozen=True)
class Condition:
    """One active condition: its name, what is wrong in a line, since when and last seen."""

    name: str
    detail: str
    since: float
    updated: float


class Conditions:
    """Reads and writes standing conditions; the only owner of the condition keys."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def raise_condition(self, name: str, detail: str, now: float, *, page: bool = True) -> bool:
        """Record a condition (or refresh its detail); True the first time, which alerts."""
        key = keys.condition(name)
        detail = " ".join(detail.split())[:MAX_DETAIL]
        first = bool(self.redis.hsetnx(key, "since", repr(now)))
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"detail": detail, "updated": repr(now)})
        pipe.sadd(keys.conditions(), name)
        if first:
            events.append(
                self.redis,
                "alert",
                pipeline=pipe,
                at=f"{now:.3f}",
                alert="condition",
                condition=name,
            )
        pipe.execute()
        if not first:
            return False
        log.error("condition raised: %s: %s", name, detail)
        if page and self.redis.set(
            keys.condition_paged(name), repr(now), nx=True, ex=REPAGE_AFTER_S
        ):
            # Imported here: alerts imports the runtime and the roster, which conditions
            # raised from low-level jobs need not load until a page is due.
            from queues.alerts import raise_alert

            # The alert id names the page's RQ job, which takes letters, digits, "_" and "-"
            # only: a condition such as "self_check:workers" must page all the same.
            alert_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{TRIGGER_PREFIX}{name}-{int(now)}")
            self.redis.hset(keys.crisis_alert(alert_id), "detail", detail)
            raise_alert(self.redis, alert_id, trigger=TRIGGER_PREFIX + name, language="", now=now)
        return True

    def clear(self, name: str, now: float) -> bool:
        """End a condition; True when it was active, which writes a `condition-cleared` event."""
        pipe = self.redis.pipeline()
        pipe.srem(keys.conditions(), name)
        pipe.delete(keys.condition(name))
        removed, _ = pipe.execute()
        if removed:
            log.warning("condition cleared: %s", name)
            events.append(self.redis, "condition-cleared", at=f"{now:.3f}", condition=name)
        return bool(removed)

    def get(self, name: str) -> Condition | None:
        """One condition if it is active."""
        raw = self.redis.hgetall(keys.condition(name))
        if not raw or b"since" not in raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return Condition(
            name=name,
            detail=fields.get("detail", ""),
            since=float(fields["since"]),
            updated=float(fields.get("updated", fields["since"])),
        )

    def active(self) -> list[Condition]:
        """Every active condition, oldest first."""
        names = sorted(n.decode() for n in self.redis.smembers(keys.conditions()))
        found = [c for c in (self.get(name) for name in names) if c is not None]
        return sorted(found, key=lambda c: (c.since, c.name))

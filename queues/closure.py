"""The emergency closure supervisors set: one JSON value in Redis, every change audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from queues import events, keys, screening_news
from routing.holidays import Closure


class ClosureBoard:
    """Sets, clears and reads the emergency closure; the owner of the closure key."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def set(self, closure: Closure, *, by: str, now: float) -> None:
        """Close the hotline with a message per language and an optional end."""
        value = {
            "message": closure.message,
            "until": closure.until.timestamp() if closure.until else None,
            "by": by,
            "since": now,
        }
        pipe = self.redis.pipeline()
        pipe.set(keys.closure(), json.dumps(value, ensure_ascii=False))
        events.append(
            self.redis,
            "closure-set",
            pipeline=pipe,
            at=f"{now:.3f}",
            by=by,
            until=f"{value['until']:.0f}" if value["until"] else None,
        )
        screening_news.announce(pipe, screening_news.CLOSURE)
        pipe.execute()
        screening_news.changed_here()

    def clear(self, *, by: str, now: float) -> bool:
        """Reopen the hotline; tell whether a closure was in force."""
        pipe = self.redis.pipeline()
        pipe.delete(keys.closure())
        screening_news.announce(pipe, screening_news.CLOSURE)
        cleared = bool(pipe.execute()[0])
        screening_news.changed_here()
        if cleared:
            events.append(self.redis, "closure-cleared", at=f"{now:.3f}", by=by)
        return cleared

    def get(self) -> Closure | None:
        """The closure as set (it may have ended: ask `active(now)`), or None."""
        return self._parse(self.redis.get(keys.closure()))

    def get_in(self, pipe: Any) -> Callable[[list[Any]], Closure | None]:
        """Queue `get`'s read on a pipeline shared with other reads (one round trip); the
        function returned reads the closure from that pipeline's results."""
        at = len(pipe)
        pipe.get(keys.closure())
        return lambda results: self._parse(results[at])

    @staticmethod
    def _parse(raw: bytes | None) -> Closure | None:
        """The closure a stored value describes, or None when none is stored."""
        if raw is None:
            return None
        data = json.loads(raw)
        until = data.get("until")
        return Closure(
            message={str(k): str(v) for k, v in (data.get("message") or {}).items()},
            until=datetime.fromtimestamp(until, UTC) if until else None,
            set_by=str(data.get("by", "")),
            since=datetime.fromtimestamp(data["since"], UTC) if data.get("since") else None,
        )

"""The statutes document supervisors edit: kept in Redis over the shipped file, saved audited.

The shipped `hotline/statutes.yaml` is the default. A supervisor's saved document is kept whole
under one key, so every web host shows the same statutes the moment it is saved; clearing it
brings the shipped file back. A save names the version it was edited from (its digest), and is
refused when someone saved another in between, so two consoles never overwrite each other
unseen. The change and its audit entry are written in one transaction.

Reading never fails a desk: when Redis cannot be read, the shipped file is what agents see.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError
from redis.exceptions import WatchError

from queues import keys
from queues.audit import AuditLog
from queues.calls import CallStore

log = logging.getLogger(__name__)

STATUTES_SAVE = "statutes.save"
STATUTES_RESET = "statutes.reset"
SHIPPED = "shipped"
EDITED = "edited"


class StaleStatutes(Exception):
    """Raised when the document changed since the editor read it; nothing was saved."""


@dataclass(frozen=True)
class StatutesText:
    """The document in force: its text, where it comes from, and who saved it when."""

    text: str
    source: str
    by: str = ""
    at: float = 0.0

    @property
    def version(self) -> str:
        """A short digest naming this exact text, for saves made from it."""
        return digest(self.text)


def digest(text: str) -> str:
    """The version of a document's text: the start of its SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StatuteShelf:
    """Reads, saves and clears the supervisors' statutes document; the owner of its key."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def edited(self, *, client: Any = None) -> StatutesText | None:
        """The saved document, or None when the shipped file is in force."""
        raw = (client if client is not None else self.redis).get(keys.statutes())
        if raw is None:
            return None
        data = json.loads(raw)
        return StatutesText(data["text"], EDITED, data.get("by", ""), float(data.get("at", 0)))

    def current(self, shipped: str) -> StatutesText:
        """The document in force: the saved one, else the shipped text (also when Redis fails)."""
        try:
            found = self.edited()
        except RedisError as error:
            # An agent's desk must still show statutes: the shipped file is always there.
            log.warning("statutes taken from the shipped file: %s", type(error).__name__)
            found = None
        return found or StatutesText(shipped, SHIPPED)

    def save(
        self,
        text: str,
        shipped: str,
        *,
        actor: str,
        now: float,
        base: str | None,
        before: Any,
        after: Any,
    ) -> StatutesText:
        """Keep a checked document over the shipped file, with its audit entry, in one step.

        `base` is the version the editor started from (None: no check); a save over a newer
        version raises StaleStatutes.
        """
        value = json.dumps({"text": text, "by": actor, "at": now}, ensure_ascii=False)
        return self._change(
            STATUTES_SAVE, base, shipped, actor=actor, now=now, before=before, after=after,
            write=lambda pipe: pipe.set(keys.statutes(), value),
        )  # fmt: skip

    def reset(
        self, shipped: str, *, actor: str, now: float, base: str | None, before: Any
    ) -> StatutesText:
        """Drop the saved document so the shipped file is in force again; audited."""
        after = {"source": SHIPPED, "version": digest(shipped)}
        return self._change(
            STATUTES_RESET, base, shipped, actor=actor, now=now, before=before, after=after,
            write=lambda pipe: pipe.delete(keys.statutes()),
        )  # fmt: skip

    def _change(
        self,
        action: str,
        base: str | None,
        shipped: str,
        *,
        actor: str,
        now: float,
        before: Any,
        after: Any,
        write: Any,
    ) -> StatutesText:
        """Check the version under WATCH, then write and audit in one transaction."""
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(keys.statutes())
                found = self.edited(client=pipe) or StatutesText(shipped, SHIPPED)
                if base is not None and base != found.version:
                    raise StaleStatutes(
                        f"the statutes were changed since version {base} "
                        f"(now {found.version}, {found.by or 'the shipped file'})"
                    )
                pipe.multi()
                write(pipe)
                AuditLog(self.redis).record(
                    actor, action, "statutes", before=before, after=after, now=now, pipeline=pipe
                )
                pipe.execute()
            except WatchError:
                raise StaleStatutes("the statutes were changed while saving") from None
        return self.current(shipped)


def call_intake(redis: Redis, call_sid: str) -> tuple[str, str, str]:
    """A call's area, its intake answers as the menu wrote them ("12", "-" for skipped) and
    the caller's words, from its record ('' for what is not known)."""
    record = CallStore(redis).get(call_sid)
    if record is None:
        return "", "", ""
    return record.area, record.answers, record.speech

"""Announcing a change to the blocklist or the closure to every web process's copy of them.

The owners (`queues.blocklist`, `queues.closure`) queue the announcement on the pipeline of
their write, so it goes out with the write; then they tell this process's copies at once, so a
greeting answered right after a supervisor's change in the same process never hears the old
answer. Copies elsewhere hear the announcement within a round trip (`queues.screening_copy`).
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from queues import keys

# The parts a copy keeps, as announced.
BLOCKLIST = "blocklist"
CLOSURE = "closure"


class Listener(Protocol):
    """Something kept current by the announcements: a process's screening copy."""

    def changed_here(self) -> None:
        """This process changed the blocklist or the closure: stop trusting what is kept."""


_listeners: weakref.WeakSet[Any] = weakref.WeakSet()


def announce(pipe: Any, part: str) -> None:
    """Queue the announcement of a change to `part` on the pipeline that writes it."""
    pipe.publish(keys.screening_changes(), part)


def listen(listener: Listener) -> None:
    """Have `changed_here` told to a copy for as long as it lives."""
    _listeners.add(listener)


def changed_here() -> None:
    """Tell this process's copies that a change was just written (call after the write)."""
    for listener in list(_listeners):
        listener.changed_here()

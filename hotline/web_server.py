"""Gunicorn's hooks for the hotline's web server: `hotline serve` passes this module as the web
server's config. The preloaded app is frozen out of the garbage collector before each worker is
forked, so a worker's collections neither walk nor copy the app it shares with the master."""

from __future__ import annotations

import gc
from typing import Any


def pre_fork(server: Any, worker: Any) -> None:
    """Freeze what the master holds (the preloaded app) just before a worker is forked."""
    # Unfrozen, every worker walked the shared app in its collections, copying its pages, and
    # again as it exited: about 0.2 s of CPU for each worker's exit alone.
    gc.freeze()

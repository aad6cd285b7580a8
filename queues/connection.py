"""Reaching the hotline's Redis from command-line tools: REDIS_URL, or a clear word why not."""

from __future__ import annotations

import os
import sys

from redis import Redis

MISSING = "REDIS_URL is not set: point it at the hotline's Redis (hotline serve prints it)"


def configured_url() -> str | None:
    """REDIS_URL, or None after telling the person at the terminal it is missing."""
    url = os.environ.get("REDIS_URL")
    if not url:
        print(MISSING, file=sys.stderr)
        return None
    return url


def from_environment() -> Redis | None:
    """A client on REDIS_URL, or None after saying it is missing."""
    url = configured_url()
    return Redis.from_url(url) if url else None

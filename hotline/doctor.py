"""`hotline doctor`: the hotline's promises checked now, one line for each that does not hold."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from redis import Redis

from hotline.settings import Settings
from queues.connection import configured_url
from queues.doctor import PROBE_TIMEOUT_S, examine
from routing.config import HotlineConfig
from telephony.demo import DEMO_CARRIER_PORT
from telephony.gateway import Gateway

# A Redis that does not answer within this long is reported, not waited for.
REDIS_TIMEOUT_S = 5.0


def register(subparsers: Any, *, load_config: Callable[[], HotlineConfig | None]) -> None:
    """Add `hotline doctor` to the hotline CLI."""
    doctor = subparsers.add_parser(
        "doctor", help="check the hotline's promises now; exit 1 when one is broken"
    )
    doctor.set_defaults(func=run, load_config=load_config)


def run(args: argparse.Namespace) -> int:
    """Print one line per broken promise and exit 1, or say that all promises hold and exit 0."""
    settings = Settings.from_env()
    config = args.load_config()
    url = configured_url() if config is not None else None
    if config is None or url is None:
        return 2
    redis = Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        report = examine(
            redis, config, time.time(), production=not settings.demo, gateway=gateway(settings)
        )
    finally:
        redis.close()
    for line in report.lines():
        print(line)
    if report.broken:
        return 1
    # What cannot be told here (a managed Redis refusing CONFIG) is printed above, not a failure.
    untold = len(report.findings)
    print("all promises hold" + (f" ({untold} cannot be told here: see above)" if untold else ""))
    return 0


def gateway(settings: Settings) -> Gateway:
    """The hotline's REST gateway, quick to give up; in demo mode the local carrier by default."""
    base_url = settings.api_base_url
    if base_url is None and settings.demo:
        # As `hotline call` does: `hotline serve` runs the demo carrier on this port.
        base_url = f"http://127.0.0.1:{DEMO_CARRIER_PORT}"
    return Gateway(
        settings.account_sid,
        settings.auth_token,
        base_url,
        settings.hotline_number,
        timeout=PROBE_TIMEOUT_S,
    )

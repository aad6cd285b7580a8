"""`hotline doctor`: the hotline's promises checked now, one line for each that does not hold."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from hotline.commands import Commands, load_config, redis_url, settings

if TYPE_CHECKING:
    from hotline.settings import Settings
    from telephony.gateway import Gateway

# A Redis that does not answer within this long is reported, not waited for.
REDIS_TIMEOUT_S = 5.0


def register(commands: Commands) -> None:
    """Add `hotline doctor`."""
    doctor = commands.add(
        "doctor",
        "operations",
        "check the hotline's promises now; exit 1 when one is broken",
        description="Check now what the worker's self-check checks every minute: supervisors "
        "and crisis-trained agents on call, crisis numbers, the carrier, workers, queue waits, "
        "Redis persistence, holiday data and the voicemail buckets. One line for each promise "
        "that does not hold.",
    )
    doctor.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per broken promise and exit 1, or say that all promises hold and exit 0."""
    from queues.connection import redis_client
    from queues.doctor import examine
    from voicemail.runtime import storage_trouble

    current = settings()
    config = load_config()
    redis = redis_client(
        redis_url(), socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        report = examine(
            redis, config, time.time(), production=not current.demo, gateway=gateway(current)
        )
    finally:
        redis.close()
    # A bucket holding voicemail that cannot be reached: new messages stay at Twilio.
    storage = storage_trouble(current.storage, current.storage_copy)
    for line in report.lines() + storage:
        print(line)
    if report.broken or storage:
        broken = len(report.broken) + len(storage)
        print(f"hotline: {broken} promise(s) broken (listed above)", file=sys.stderr)
        return 1
    # What cannot be told here (a managed Redis refusing CONFIG) is printed above, not a failure.
    untold = len(report.findings)
    print("all promises hold" + (f" ({untold} cannot be told here: see above)" if untold else ""))
    return 0


def gateway(current: Settings) -> Gateway:
    """The hotline's REST gateway, quick to give up; in demo mode the local carrier by default."""
    from hotline.running import carrier_url
    from queues.doctor import PROBE_TIMEOUT_S
    from telephony.gateway import Gateway

    base_url = current.api_base_url
    if base_url is None and current.demo:
        # As `hotline call` does: the demo carrier of the serve running here, else its port.
        base_url = carrier_url(current.var_dir)
    return Gateway(
        current.account_sid,
        current.auth_token,
        base_url,
        current.hotline_number,
        timeout=PROBE_TIMEOUT_S,
    )

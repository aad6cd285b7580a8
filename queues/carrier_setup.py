"""Setting the carrier up for a worker: each area's Twilio queue with an explicit MaxSize.

`hotline worker` queues this as a job on the least urgent queue as it starts, rather than doing
it before taking jobs: a worker takes crisis pages and rings first, and Twilio's queue listing
(slow, or long on a busy account) must never hold them up. The job reads one page of the
account's queues, whatever their number, and RQ bounds it with a timeout. A carrier that fails
the set-up has it tried again later; the callers' `<Enqueue>` makes a missing queue meanwhile,
only with Twilio's default MaxSize.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Retry

from queues import keys, runtime
from queues.carrier_health import CarrierHealth
from telephony.gateway import GatewayError

log = logging.getLogger(__name__)

SETUP_JOB_ID = "hotline-twilio-queues"
# One listing and a request per area, each bounded by the gateway's own timeout.
SETUP_TIMEOUT_S = 120
SETUP_RETRY = Retry(max=3, interval=[30, 120, 600])
# Where the runtime keeps the queue SIDs this process has written: {area: SID}.
_NOTED_MEMO = "carrier_setup.queues"


def schedule_queue_setup(redis: Redis) -> None:
    """Queue the set-up behind any work already waiting; one fixed id keeps one in the queue."""
    Queue("default", connection=redis).enqueue(
        set_up_queues,
        job_id=SETUP_JOB_ID,
        job_timeout=SETUP_TIMEOUT_S,
        retry=SETUP_RETRY,
    )


def set_up_queues() -> dict[str, str]:
    """RQ job: make each area's Twilio queue with the configured MaxSize; return name to SID."""
    rt = runtime.current()
    health = CarrierHealth(rt.redis)
    # twilio-python builds its call and conference resources on first use, tens of
    # milliseconds a ring would otherwise pay; jobs run in this process, so build them here.
    rt.gateway.client.calls  # noqa: B018 - loads the resource modules
    rt.gateway.client.conferences  # noqa: B018
    try:
        known = rt.gateway.list_queues()
    except GatewayError as error:
        health.failed(error, rt.now())
        log.warning("Twilio queues not set up yet: %s", error)
        raise
    made: dict[str, str] = {}
    trouble: GatewayError | None = None
    for area in rt.config.areas:
        try:
            made[area] = rt.gateway.ensure_queue(area, rt.config.queue_max_size, known=known)
        except GatewayError as error:
            health.failed(error, rt.now())
            log.warning("Twilio queue %s not set up yet: %s", area, error)
            trouble = error
    if made:
        rt.redis.hset(keys.twilio_queues(), mapping=made)
    if trouble is not None:
        # RQ tries again later; the queues already made are found and left as they are.
        raise trouble
    health.reached(rt.now())
    return made


def note_queue(rt: runtime.Runtime, area: str, queue_sid: str) -> None:
    """Keep the SID a waitUrl poll reports for an area's queue; written once per process."""
    noted = rt.memo.setdefault(_NOTED_MEMO, {})
    if not queue_sid or noted.get(area) == queue_sid:
        return
    rt.redis.hset(keys.twilio_queues(), area, queue_sid)
    noted[area] = queue_sid


def queue_sid(rt: runtime.Runtime, area: str) -> str | None:
    """Return the SID of an area's Twilio queue: as noted, else from one page of the listing.

    None when the queue is neither noted nor on that page (Twilio makes it at the first
    `<Enqueue>`, and a busy account may list it later).
    """
    noted = rt.redis.hget(keys.twilio_queues(), area)
    if noted:
        return noted.decode()
    listed = {q.friendly_name: q.sid for q in rt.gateway.list_queues()}
    ours = {name: sid for name, sid in listed.items() if name in rt.config.areas}
    if ours:
        rt.redis.hset(keys.twilio_queues(), mapping=ours)
    return ours.get(area)

"""When and how callback tasks start: a follow-up's or a message's callback job runs at its area's
next opening (or at once when the area is open), scheduled once under its fixed job id and
retried with backoff when it fails; it then puts its task in the waiting room."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue, Retry

from queues import runtime
from queues.hours_edits import area_hours
from routing.config import HotlineConfig

QUEUE = "default"
RETRY = Retry(max=3, interval=[5, 30, 120])


def due(redis: Redis, config: HotlineConfig, area: str, now: datetime) -> datetime | None:
    """When a callback task of an area may start: None for now, else the area's next opening."""
    # The effective hours (ops' edit, else the config's), as the phone menu keeps them.
    hours = area_hours(redis, config, area)
    if hours.is_open(now):
        return None
    opening = hours.next_opening(now)
    if opening is None:
        # An area that never opens cannot call back: the general area's next opening can.
        general = area_hours(redis, config, config.general_area)
        opening = general.next_opening(now) or now + timedelta(hours=1)
    return opening


def start_at(
    redis: Redis, when: datetime | None, job: Callable[[str], str], argument: str, job_id: str
) -> None:
    """Run a callback's job at `when` (None: now), once under its fixed id, retried on failure."""
    queue = Queue(QUEUE, connection=redis)
    if when is None:
        queue.enqueue(job, argument, job_id=job_id, retry=RETRY)
    else:
        queue.enqueue_at(when, job, argument, job_id=job_id, retry=RETRY)


def join_room(
    rt: runtime.Runtime,
    task: str,
    number: str,
    *,
    area: str,
    language: str,
    summary: str,
    arrival: float,
    record: dict[str, str],
    **room: object,
) -> None:
    """Put a callback task in the waiting room as a callback to `number`: its call record first
    (the agent's whisper reads area, language and summary there), then its place."""
    routing = rt.routing
    routing.calls.start(task, number)
    routing.calls.update(task, area=area, language=language, summary=summary, **record)
    # Queued as a callback in the same routing step that makes it matchable: a match landing
    # in between two steps would ring an agent for a live call with no caller leg to bridge.
    routing.room.enqueue(
        task, area=area, language=language, now=arrival, callback_number=number, **room
    )

"""The hotline's Prometheus metrics: counts and times recorded as calls move, and the gauges
read from Redis when /metrics is scraped.

Counters and histograms live in prometheus-client's default registry; under gunicorn (and in
the RQ worker) PROMETHEUS_MULTIPROC_DIR makes every process write its own file, summed at
scrape time. Gauges are never kept in a process: the waiting room, the agents and the job
queues are shared state, so `HotlineCollector` reads them from Redis at each scrape.

Label values are bounded: areas and languages from the config, outcomes and states from fixed
lists, webhook endpoints by their Flask rule name. No call SID, number or agent id is a label.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request
from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from redis import Redis, RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from queues import keys
from queues.worker import QUEUE_NAMES

if TYPE_CHECKING:
    from routing.config import HotlineConfig

log = logging.getLogger(__name__)

# Where a caller's time in the waiting room ends: answered by an agent, or one of the ways of
# leaving it (queues.waiting.LEAVE_OUTCOMES, kept in step by tests/integration/test_metrics.py).
OUTCOMES = ("answered", "abandoned", "voicemail", "crisis", "left", "closed")
# The events that end a waiting call, by the outcome they mean.
_OUTCOME_EVENTS = {"bridged": "answered", **{o: o for o in OUTCOMES if o != "answered"}}
# What an agent can be doing (activity when busy, else presence), and "other" for the rest.
AGENT_STATES = ("available", "on_break", "offline", "reserved", "talking", "wrap_up", "crisis")
# A caller waits seconds to half an hour; a webhook answers in milliseconds.
WAIT_BUCKETS = (5, 15, 30, 60, 90, 120, 180, 300, 600, 900, 1800, 3600)
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15)
# A span longer than this is two clocks disagreeing (a test's, a restored record), not a wait.
MAX_SPAN_S = 24 * 3600
# A crisis trigger is a reason named by the code (`danger_key`, `crisis_words`...); anything else
# is counted as "other" so no caller's words can become a label.
_TRIGGER = re.compile(r"[a-z][a-z0-9_]{0,39}")
UNKNOWN = "unknown"
_STARTED_KEY = "hotline.webhook_started"

# No `_created` series: multiprocess mode has none, and one process must answer as many do.
disable_created_metrics()

CALLS_INCOMING = Counter("hotline_calls_incoming", "Calls that reached the hotline's number.")
CALLS = Counter(
    "hotline_calls", "Calls leaving the waiting room, by area and outcome.", ["area", "outcome"]
)
WAIT = Histogram(
    "hotline_wait_seconds",
    "Seconds a caller waited, from joining the queue to being answered or leaving it.",
    ["area", "outcome"],
    buckets=WAIT_BUCKETS,
)
TIME_TO_HUMAN = Histogram(
    "hotline_time_to_human_seconds",
    "Seconds from the call's arrival until a person (an agent or a crisis taker) took it.",
    ["path"],
    buckets=WAIT_BUCKETS,
)
CRISIS_TRIGGERS = Counter(
    "hotline_crisis_triggers", "Crisis incidents opened, by what triggered them.", ["trigger"]
)
WEBHOOK_SECONDS = Histogram(
    "hotline_webhook_seconds",
    "Seconds the app took to answer a Twilio webhook, by endpoint.",
    ["endpoint"],
    buckets=WEBHOOK_BUCKETS,
)


def observe_event(redis: Redis, kind: str, fields: Mapping[str, str]) -> None:
    """Count one appended event; reads what the event lacks; a failure never reaches the caller."""
    try:
        if kind == "incoming":
            CALLS_INCOMING.inc()
        elif kind == "crisis":
            trigger = fields.get("trigger", "")
            CRISIS_TRIGGERS.labels(trigger if _TRIGGER.fullmatch(trigger) else "other").inc()
        if kind in _OUTCOME_EVENTS:
            _waiting_ended(redis, fields, _OUTCOME_EVENTS[kind])
    except (RedisError, ValueError) as error:
        log.warning("metrics: event %s not counted: %s", kind, type(error).__name__)


def _waiting_ended(redis: Redis, fields: Mapping[str, str], outcome: str) -> None:
    """Count a call leaving the waiting room, its wait, and, when answered, its time to a human."""
    call_sid, at = fields.get("call", ""), float(fields.get("at") or time.time())
    area, arrival = redis.hmget(keys.queued_call(call_sid), "area", "arrival")
    area_label = area.decode() if area else UNKNOWN
    CALLS.labels(area_label, outcome).inc()
    if arrival:
        _observe_span(WAIT.labels(area_label, outcome), at - float(arrival))
    if outcome == "answered":
        _time_to_human(redis, call_sid, "agent", at)


def reached_human(redis: Redis, call_sid: str, path: str, now: float) -> None:
    """Time from the call's first webhook until a person took it; never fails the caller."""
    try:
        _time_to_human(redis, call_sid, path, now)
    except (RedisError, ValueError) as error:
        log.warning("metrics: time to a human not counted: %s", type(error).__name__)


def _time_to_human(redis: Redis, call_sid: str, path: str, now: float) -> None:
    """Observe the seconds from the call's record being started until now (path: agent, crisis)."""
    started = redis.hget(keys.call(call_sid), "started_at")
    if started:
        _observe_span(TIME_TO_HUMAN.labels(path), now - float(started))


def _observe_span(histogram: Histogram, seconds: float) -> None:
    """Observe a span of time, unless the clocks it came from disagree."""
    if 0 <= seconds <= MAX_SPAN_S:
        histogram.observe(seconds)


def time_webhooks(blueprint: Blueprint) -> None:
    """Time every request of a Twilio blueprint, refused ones too (register before the check)."""
    blueprint.before_request(_start_webhook)
    blueprint.after_request(_observe_webhook)


def _start_webhook() -> None:
    """Note when the webhook started, in the request's own environ."""
    request.environ[_STARTED_KEY] = time.perf_counter()


def _observe_webhook(response: Response) -> Response:
    """Observe the webhook's time under its endpoint (the rule's name, never the URL)."""
    started = request.environ.get(_STARTED_KEY)
    if started is not None:
        observe_webhook(request.endpoint, time.perf_counter() - started)
    return response


def observe_webhook(endpoint: str | None, seconds: float) -> None:
    """Time one Twilio webhook; unmatched URLs share one label so a scan cannot add series."""
    WEBHOOK_SECONDS.labels(endpoint or "unmatched").observe(seconds)


class HotlineCollector:
    """Gauges read from Redis at scrape time: waiting callers, agents, and the job queues."""

    def __init__(
        self, redis: Redis, config: HotlineConfig, *, clock: Callable[[], float] = time.time
    ):
        self.redis = redis
        self.config = config
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        """Every gauge, or only `hotline_redis_up 0` when Redis cannot be read."""
        up = GaugeMetricFamily("hotline_redis_up", "Whether /metrics could read Redis (1) or not.")
        try:
            gauges = [self._waiting(), self._agents(), *self._jobs()]
        except RedisError as error:
            log.warning("metrics: Redis unreadable at scrape: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from gauges

    def _waiting(self) -> GaugeMetricFamily:
        """Callers in each area's queue, per language."""
        family = GaugeMetricFamily(
            "hotline_waiting_callers",
            "Callers waiting in an area's queue now, by language.",
            labels=["area", "language"],
        )
        pairs = [(a, lang) for a in self.config.areas for lang in self.config.languages]
        pipe = self.redis.pipeline(transaction=False)
        for area, language in pairs:
            pipe.zcard(keys.waiting(area, language))
        for (area, language), count in zip(pairs, pipe.execute(), strict=True):
            family.add_metric([area, language], int(count))
        return family

    def _agents(self) -> GaugeMetricFamily:
        """Agents on the roster by what they are doing now (activity when busy, else presence)."""
        ids = sorted(member.decode() for member in self.redis.smembers(keys.agents()))
        pipe = self.redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hmget(keys.agent(agent_id), "presence", "activity", "removed")
        counts = dict.fromkeys((*AGENT_STATES, "other"), 0)
        for presence, activity, removed in pipe.execute() if ids else []:
            if removed == b"1":
                continue
            counts[agent_state(presence, activity)] += 1
        family = GaugeMetricFamily(
            "hotline_agents", "Agents on the roster by state now.", labels=["state"]
        )
        for state, count in counts.items():
            family.add_metric([state], count)
        return family

    def _jobs(self) -> list[GaugeMetricFamily]:
        """Each RQ queue's depth and the age of its oldest job."""
        depth = GaugeMetricFamily(
            "hotline_job_queue_depth", "Jobs waiting in an RQ queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "hotline_job_queue_oldest_seconds",
            "Age of the oldest job waiting in an RQ queue (0 when empty).",
            labels=["queue"],
        )
        now = self.clock()
        for name in QUEUE_NAMES:
            queue = Queue(name, connection=self.redis)
            depth.add_metric([name], queue.count)
            oldest.add_metric([name], self._oldest_age(queue, now))
        return [depth, oldest]

    def _oldest_age(self, queue: Queue, now: float) -> float:
        """Seconds since the queue's first job was enqueued (0 when none or unreadable)."""
        first = queue.get_job_ids(0, 1)
        if not first:
            return 0.0
        try:
            job = Job.fetch(first[0], connection=self.redis)
        except NoSuchJobError:
            # Listed but expired (or finished between the two reads): nothing is that old.
            return 0.0
        if job.enqueued_at is None:
            return 0.0
        return max(now - _epoch(job.enqueued_at), 0.0)


def agent_state(presence: bytes | None, activity: bytes | None) -> str:
    """One bounded state: the routing activity when busy, else the presence."""
    busy = activity.decode() if activity else "idle"
    state = busy if busy != "idle" else (presence.decode() if presence else "offline")
    return state if state in AGENT_STATES else "other"


def _epoch(moment: datetime) -> float:
    """A job's time as seconds since the epoch (RQ writes naive UTC in some versions)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

"""Jobs that schedule their own next run (the sweep, the self-check) are kept going by the worker.

A Redis failover can lose the write that scheduled a sweep's next run, and then no sweep would
ever run again until a worker restarted: the timers, the leg checks and every repair the sweep
makes would stop. The worker looks every 30 s (and as it starts) and schedules again a chain
that has no next run anywhere, leaving one that has alone.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from queues import worker
from queues.dispatch import SWEEP_JOB_ID, schedule_sweep
from queues.worker import Chain, has_next_run, keep_scheduled
from voicemail import consultation_jobs, jobs
from voicemail.jobs import periodic_chains

pytestmark = pytest.mark.redis

LATER = timedelta(minutes=10)


def schedule_later(job_id: str):
    """A chain's scheduling step: a harmless job, ten minutes from now, under a fixed id."""

    def schedule(redis) -> None:
        Queue("default", connection=redis).enqueue_in(LATER, "builtins.len", "x", job_id=job_id)

    return schedule


def test_only_a_chain_without_a_next_run_is_scheduled_again(redis):
    kept = Chain("default", "kept", schedule_later("kept"))
    lost = Chain("default", "lost", schedule_later("lost"))
    kept.schedule(redis)
    registry = ScheduledJobRegistry(queue=Queue("default", connection=redis))
    before = redis.zscore(registry.key, "kept")

    assert keep_scheduled(redis, (kept, lost)) == ["lost"]
    assert "lost" in registry
    assert redis.zscore(registry.key, "kept") == before
    assert keep_scheduled(redis, (kept, lost)) == []


def test_a_run_waiting_in_the_queue_counts_as_the_next_run(redis):
    chain = Chain("default", "queued", schedule_later("queued"))
    assert not has_next_run(redis, chain)
    Queue("default", connection=redis).enqueue("builtins.len", "x", job_id="queued")
    assert has_next_run(redis, chain)


def test_a_starting_worker_schedules_the_sweep_that_a_failover_lost(redis, redis_url):
    chain = Chain("default", SWEEP_JOB_ID, schedule_sweep)
    assert not has_next_run(redis, chain)
    # In burst the worker runs its maintenance once, as it starts, and stops with nothing due.
    worker.run(redis_url, burst=True, chains=(chain,))
    assert SWEEP_JOB_ID in ScheduledJobRegistry(queue=Queue("default", connection=redis))


def test_a_starting_worker_schedules_the_voicemail_jobs_that_a_failover_lost(redis, redis_url):
    # Retention and the sweeps of messages and recorded consultations run on their own chains:
    # lost, message retention would stop until a worker restarted.
    chains = periodic_chains()
    assert {chain.job_id for chain in chains} == {
        jobs.RETENTION_JOB_ID,
        jobs.SWEEP_JOB_ID,
        consultation_jobs.RETENTION_JOB_ID,
        consultation_jobs.SWEEP_JOB_ID,
    }
    assert not any(has_next_run(redis, chain) for chain in chains)
    worker.run(redis_url, burst=True, chains=chains)
    registry = ScheduledJobRegistry(queue=Queue(jobs.QUEUE, connection=redis))
    assert all(chain.job_id in registry for chain in chains)
    assert keep_scheduled(redis, chains) == []

"""Voicemail retention and the RQ jobs: expiry, audit, Twilio copies, orphans, retries."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from queues import events
from tests.fixtures.app import CLOSED_TIME
from tests.fixtures.jobs import BurstWorker
from tests.fixtures.recordings import TwilioRecordings
from tools import voicemail_samples as samples
from voicemail import jobs
from voicemail.messages import MessageStore, audit_entries
from voicemail.processing import process_recording, register_recording
from voicemail.retention import RetentionRules, purge_expired
from voicemail.vault import Vault

pytestmark = pytest.mark.redis

CALLER = "+8613812345678"
API = "https://api.twilio.com"
KEY = "k" * 43
NOW = CLOSED_TIME
DAY = timedelta(days=1)


def sid(n: int) -> str:
    return f"RE{n:032x}"


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "voicemail", KEY)


def leave(redis, twilio, vault, n: int, when, wav: bytes, *, process: bool = True):
    """Leave message n at a time, and process it then."""
    twilio.recordings[sid(n)] = wav
    register_recording(redis, sid(n), now=when, caller=CALLER, area="labor", language="zh")
    if process:
        process_recording(sid(n), redis=redis, source=twilio, vault=vault, now=when)


def test_messages_past_retention_are_deleted_and_audited(redis, vault):
    twilio = TwilioRecordings()
    speech = samples.speech_wav(5, "calm")
    leave(redis, twilio, vault, 1, NOW - 31 * DAY, speech)
    leave(redis, twilio, vault, 2, NOW - 29 * DAY, speech)
    leave(redis, twilio, vault, 3, NOW - 3 * DAY, samples.silence_wav(3))
    leave(redis, twilio, vault, 4, NOW - 1 * DAY, samples.silence_wav(3))
    purged = purge_expired(redis, vault, now=NOW)
    assert sorted(purged) == [sid(1), sid(3)]
    store = MessageStore(redis)
    assert store.get(sid(1)) is None and store.get(sid(3)) is None
    assert store.get(sid(2)) is not None and store.get(sid(4)) is not None
    assert vault.message_ids() == [sid(2), sid(4)]
    trail = audit_entries(redis)
    assert {(entry["message"], entry["reason"]) for entry in trail} == {
        (sid(1), "retention"),
        (sid(3), "empty"),
    }
    assert all(
        entry["actor"] == "retention" and entry["caller"] == "+86*******5678" for entry in trail
    )
    deleted = [event for event in events.recent(redis) if event["kind"] == "voicemail_deleted"]
    assert len(deleted) == 2 and all(CALLER not in str(event) for event in deleted)
    # Running again finds nothing more to do.
    assert purge_expired(redis, vault, now=NOW) == []


def test_retention_period_is_a_setting(redis, vault):
    twilio = TwilioRecordings()
    leave(redis, twilio, vault, 1, NOW - 8 * DAY, samples.speech_wav(3, "calm"))
    assert purge_expired(redis, vault, now=NOW) == []
    assert purge_expired(redis, vault, now=NOW, rules=RetentionRules(keep_days=7)) == [sid(1)]


def test_twilio_copy_of_an_unfinished_message_goes_too(redis, vault):
    twilio = TwilioRecordings()
    leave(redis, twilio, vault, 1, NOW - 40 * DAY, b"garbage", process=True)  # corrupt: kept
    leave(redis, twilio, vault, 2, NOW - 40 * DAY, b"never fetched", process=False)
    # Without a way to Twilio the messages wait, so their copies there are not forgotten.
    assert purge_expired(redis, vault, now=NOW) == []
    purged = purge_expired(redis, vault, now=NOW, source=twilio)
    assert sorted(purged) == [sid(1), sid(2)]
    assert sorted(twilio.deleted) == [sid(1), sid(2)] and twilio.recordings == {}
    assert vault.message_ids() == []


def test_orphan_files_are_deleted_after_retention(redis, vault):
    vault.store(sid(9), b"audio whose metadata was lost")
    assert purge_expired(redis, vault, now=NOW + 1 * DAY) == []
    old = (NOW - 31 * DAY).timestamp()
    os.utime(vault.path(sid(9)), (old, old))
    assert purge_expired(redis, vault, now=NOW) == [sid(9)]
    assert audit_entries(redis)[0]["reason"] == "orphan"


def test_many_messages_are_purged_across_pages(redis, vault):
    store = MessageStore(redis)
    for n in range(1, 1201):
        # Young messages first in time order would hide old empty ones behind a page limit.
        store.register(sid(n), now=NOW - (10 * DAY if n <= 1100 else 3 * DAY))
        store.set_fields(sid(n), {"state": "empty" if n > 1100 else "ready"})
        store.set_fields(sid(n), {"remote_deleted_at": "1"})
    purged = purge_expired(redis, vault, now=NOW)
    assert len(purged) == 100


# -- RQ jobs ---------------------------------------------------------------------------


@pytest.fixture
def runtime(redis, vault):
    twilio = TwilioRecordings()
    made = jobs.Runtime(redis=redis, source=twilio, vault=vault, clock=lambda: NOW)
    jobs.use_runtime(lambda: made)
    yield made
    jobs.use_runtime(None)


def run_jobs(redis) -> None:
    """Run queued voicemail jobs in-process until the queue is empty."""
    BurstWorker([Queue(jobs.QUEUE, connection=redis)], connection=redis).work(burst=True)


def test_processing_job_runs_on_the_voicemail_queue(redis, runtime):
    runtime.source.recordings[sid(1)] = samples.speech_wav(5, "calm")
    register_recording(redis, sid(1), now=NOW, caller=CALLER)
    job = jobs.enqueue_processing(Queue(jobs.QUEUE, connection=redis), sid(1))
    assert job.id == f"voicemail-{sid(1)}"
    run_jobs(redis)
    job.refresh()
    assert job.return_value() == "ready"
    assert runtime.source.deleted == [sid(1)]


def test_job_for_a_fresh_recording_is_scheduled_for_retry(redis, runtime):
    register_recording(redis, sid(2), now=NOW)
    queue = Queue(jobs.QUEUE, connection=redis)
    job = jobs.enqueue_processing(queue, sid(2))
    run_jobs(redis)
    job.refresh()
    assert job.get_status() == "scheduled"
    assert job.id in ScheduledJobRegistry(queue=queue).get_job_ids()


def test_refused_job_is_not_retried(redis, runtime):
    url = f"https://evil.example/2010-04-01/Accounts/AC1/Recordings/{sid(3)}"
    register_recording(redis, sid(3), now=NOW, recording_url=url)
    job = jobs.enqueue_processing(Queue(jobs.QUEUE, connection=redis), sid(3))
    run_jobs(redis)
    job.refresh()
    assert job.return_value() == "refused: ForeignRecordingUrl"


def test_sweep_requeues_stalled_messages(redis, runtime):
    runtime.source.recordings[sid(4)] = samples.speech_wav(3, "calm")
    register_recording(redis, sid(4), now=NOW - timedelta(hours=2))
    assert jobs.sweep_job() == 1
    run_jobs(redis)
    assert MessageStore(redis).get(sid(4)).state == "ready"
    assert jobs.sweep_job() == 0


def test_retention_job(redis, runtime):
    register_recording(redis, sid(5), now=NOW - 40 * DAY)
    MessageStore(redis).set_fields(sid(5), {"state": "missing"})
    assert jobs.retention_job() == 1

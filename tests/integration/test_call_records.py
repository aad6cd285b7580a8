"""Durable call records: a routed call's row written once whatever repeats, its facts right, the
caller kept only as a digest, the backfill from Redis, retention, and migrations from empty.

Every test runs on a SQLite file; when DATABASE_URL names a PostgreSQL server, each runs there
too, in a scratch database made for the test and dropped after it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine.url import make_url

from queues import runtime
from queues.calls import CallStore
from queues.records import jobs
from queues.records.schema import calls
from queues.records.store import RecordStore
from queues.reservations import Reservations
from tests.fixtures.conference import report_join
from tests.fixtures.jobs import run_jobs
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALL = "CA" + "7" * 32
OTHER = "CA" + "8" * 32
LIVE_CALL = "CA" + "9" * 32
CALLER = "+8613812345678"
LIVE = {"CallStatus": "in-progress", "DialCallStatus": "completed"}


def routed_call(app, hotline: Hotline, twilio, clock, call_sid: str = CALL) -> str:
    """A caller queues, waits 25 s, talks 2 minutes with d1, rates 1 and hangs up."""
    CallStore(hotline.redis).start(call_sid, CALLER)
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(call_sid, area="family")
    assert match is not None and match.agent_id == "d1"
    rid = match.reservation_id
    clock.now += timedelta(seconds=20)
    answer = twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": "CA9", "Digits": "1"})
    assert Doc.parse(answer).first("Conference").text == rid
    report_join(twilio, Doc.parse(answer), "CA9")
    clock.now += timedelta(seconds=5)
    joined = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": call_sid}))
    report_join(twilio, joined, call_sid)
    clock.now += timedelta(seconds=120)
    with app.app_context():
        from queues import dispatch

        assert dispatch.finish(runtime.current(), rid).state == "finished"
    action = joined.first("Dial").get("action")
    question = Doc.parse(twilio.post(action, {"CallSid": call_sid, **LIVE}))
    rating = question.first("Gather").get("action")
    twilio.post(rating, {"CallSid": call_sid, "Digits": "1"})
    twilio.post("/voice/status", {"CallSid": call_sid, "CallStatus": "completed"})
    return rid


def rows(store: RecordStore) -> list[dict]:
    """Every call row, by call sid."""
    with store.engine.connect() as connection:
        found = connection.execute(select(calls).order_by(calls.c.call_sid))
        return [dict(row._mapping) for row in found]


def test_migrations_build_the_schema_from_an_empty_database(records_url):
    store = RecordStore.open(records_url)
    try:
        assert store.migrate() == "0004"
        tables = set(inspect(store.engine).get_table_names())
        assert {"call_records", "agent_intervals", "record_cursors"} <= tables
        # Again: already at the head, nothing to do.
        assert store.migrate() == "0004"
        assert store.count_calls() == 0
    finally:
        store.close()


def test_a_routed_calls_record_is_written_once_whatever_repeats(
    app, hotline, twilio, clock, redis, records, sealer
):
    routed_call(app, hotline, twilio, clock)
    run_jobs(redis, "default")
    first = rows(records)
    assert [row["call_sid"] for row in first] == [CALL]
    # Twilio repeats its callbacks, late ones arrive, and the settled job runs the same write.
    clock.now += timedelta(seconds=30)
    for status in ("completed", "ringing", "completed"):
        twilio.post("/voice/status", {"CallSid": CALL, "CallStatus": status})
    with app.app_context():
        assert jobs.record_call_job(CALL) is True
    run_jobs(redis, "default")
    assert rows(records) == first


def test_a_routed_calls_record_has_its_facts(app, hotline, twilio, clock, redis, records, sealer):
    start = hotline.now
    routed_call(app, hotline, twilio, clock)
    run_jobs(redis, "default")
    row = records.get_call(CALL)
    assert row is not None
    assert (row["area"], row["language"], row["agent"]) == ("family", "zh", "d1")
    assert (row["outcome"], row["end_status"], row["rating"]) == ("answered", "completed", 1)
    # The fixture's caller joined the queue 42 s before the agent was offered the call.
    assert row["queued_at"] == pytest.approx(start - 42, abs=0.01)
    assert row["menu_done_at"] == row["queued_at"]
    assert row["offered_at"] == pytest.approx(start, abs=0.01)
    assert row["answered_at"] == pytest.approx(start + 25, abs=0.01)
    assert row["wait_s"] == pytest.approx(42 + 25, abs=0.01)
    assert row["talk_s"] == pytest.approx(120, abs=0.01)
    policy = app.config["HOTLINE"].routing
    assert row["wrap_up_s"] == pytest.approx(policy.wrap_up_s("family", heavy=False), abs=0.01)
    assert row["ended_at"] is not None and row["arrived_at"] <= row["ended_at"]
    assert (row["crisis_trigger"], row["crisis_to_human_s"]) == ("", None)
    assert (row["callback"], row["voicemail_recording"]) == ("", "")


def test_the_caller_is_kept_as_a_keyed_digest_never_the_number(
    app, hotline, twilio, clock, redis, records, sealer
):
    routed_call(app, hotline, twilio, clock)
    run_jobs(redis, "default")
    (row,) = rows(records)
    assert row["caller_digest"] == sealer.digest(CALLER)
    stored = " ".join(str(value) for value in row.values())
    assert "13812345678" not in stored
    if records.engine.dialect.name == "sqlite":
        raw = make_url(records.engine.url).database
        with open(raw, "rb") as file:
            assert b"13812345678" not in file.read()


def test_backfill_records_ended_calls_and_presence_from_redis(
    app, hotline, twilio, clock, redis, records, sealer
):
    routed_call(app, hotline, twilio, clock)
    # A caller who hung up in the menu, and one still on the line.
    calls_store = CallStore(redis)
    calls_store.start(OTHER, "+8613900001111")
    calls_store.advance_status(OTHER, "completed")
    calls_store.start(LIVE_CALL, "+8613900002222")
    calls_store.advance_status(LIVE_CALL, "in-progress")
    hotline.board.set_presence("d2", "available", hotline.now)
    clock.now += timedelta(minutes=30)
    hotline.board.set_presence("d2", "on_break", hotline.now)
    # Nothing ran the jobs: the backfill writes what Redis holds.
    done = jobs.backfill(redis, records, sealer, hotline.now)
    assert (done.recorded, done.live) == (2, 1)
    assert done.presence >= 3
    by_sid = {row["call_sid"]: row for row in rows(records)}
    assert set(by_sid) == {CALL, OTHER}
    assert by_sid[OTHER]["outcome"] == "menu" and by_sid[CALL]["outcome"] == "answered"
    d2 = [(i["state"], i["ended_at"] is None) for i in records.intervals("d2")]
    assert d2 == [("available", False), ("on_break", True)]
    # Again: the same rows, no twin intervals, no presence change folded twice.
    before = (rows(records), records.intervals())
    again = jobs.backfill(redis, records, sealer, hotline.now)
    assert (again.recorded, again.presence) == (2, 0)
    assert (rows(records), records.intervals()) == before


def test_retention_deletes_what_is_older_than_the_configured_days(app, redis, records, clock):
    now = clock().timestamp()
    keep_days = app.config["HOTLINE"].records.keep_days
    assert keep_days == 1096
    day = 86_400
    for sid, age_days in (("CAold", keep_days + 1), ("CAnew", keep_days - 1)):
        records.put_call(_row(sid, now - age_days * day), now)
    records.put_presence(
        [
            ("1-0", "d1", "available", now - (keep_days + 3) * day),
            ("2-0", "d1", "offline", now - (keep_days + 2) * day),
            ("3-0", "d1", "available", now - day),
        ],
        "test",
    )
    with app.app_context():
        jobs.upkeep_job()
    assert [row["call_sid"] for row in rows(records)] == ["CAnew"]
    assert [i["state"] for i in records.intervals("d1")] == ["offline", "available"]
    # The upkeep has scheduled its next run.
    from rq import Queue

    assert jobs.UPKEEP_JOB_ID in Queue("default", connection=redis).scheduled_job_registry


def _row(call_sid: str, arrived: float) -> dict:
    """A minimal call row."""
    return {
        "call_sid": call_sid,
        "caller_digest": "",
        "arrived_at": arrived,
        "area": "family",
        "language": "zh",
        "outcome": "menu",
        "end_status": "completed",
        "agent": "",
        "crisis_trigger": "",
        "callback": "",
        "voicemail_recording": "",
    }


def test_a_caller_who_asked_for_a_callback_is_not_answered_and_waited_only_until_asking(
    app, hotline, twilio, clock, redis, records, sealer
):
    # docs/reports.md: a caller who left the queue for a callback did not abandon, was not
    # answered, and waited until they left; the callback reaching them later is its own contact.
    CallStore(hotline.redis).start(CALL, CALLER)
    hotline.redis.hset(f"hotline:call:{CALL}", mapping={"area": "family", "language": "zh"})
    assert hotline.room.enqueue(CALL, area="family", language="zh", now=hotline.now)
    queued = hotline.now
    clock.now += timedelta(seconds=40)
    area = "lang=zh&area=family"
    twilio.post(f"/voice/wait/key?{area}", {"CallSid": CALL, "Digits": "1"})
    twilio.post(f"/voice/wait/callback?{area}", {"CallSid": CALL, "Digits": "1", "QueueTime": "40"})
    twilio.post(f"/voice/queue-result?{area}", {"CallSid": CALL, "QueueResult": "leave"})
    twilio.post("/voice/status", {"CallSid": CALL, "CallStatus": "completed"})
    # Ten minutes on, d1 takes the callback and the caller picks up.
    clock.now += timedelta(minutes=10)
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.matcher.match_call(CALL, hotline.now)
    assert match is not None and match.agent_id == "d1"
    rid = match.reservation_id
    assert Reservations(redis, app.config["HOTLINE"].routing).accept(rid, hotline.now).changed
    joined = twilio.post(f"/voice/connect/callback?res={rid}", {"CallSid": "CB" + CALL[2:]})
    assert Doc.parse(joined).first("Conference").text == rid
    run_jobs(redis, "default")

    row = records.get_call(CALL)
    assert row is not None
    assert (row["outcome"], row["callback"]) == ("callback", "connected")
    assert row["answered_at"] is None
    assert row["wait_s"] == pytest.approx(40, abs=0.01)
    assert row["queued_at"] == pytest.approx(queued, abs=0.01)

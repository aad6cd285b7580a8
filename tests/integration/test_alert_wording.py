"""Each kind of supervisor alert says what it is in its SMS, with the caller's number masked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from queues import events, keys
from queues.alerts import alert_kind, alert_text, page_supervisors
from queues.calls import CallStore
from queues.incidents import IncidentLog
from tests.fixtures.crisis import import_roster, messages, run_jobs
from voicemail.messages import Message
from voicemail.runtime import pager

pytestmark = pytest.mark.redis

CALL = "CA" + "7" * 32
CALLER = "+8613812345678"
OPENED = datetime(2026, 12, 2, 6, 30, tzinfo=UTC).timestamp()


def text_for(redis, trigger: str, call_sid: str = CALL) -> str:
    """The SMS for an alert raised by a trigger on a call whose caller is known."""
    CallStore(redis).start(CALL, CALLER)
    return alert_text(call_sid, {"trigger": trigger, "opened_at": repr(OPENED)}, redis)


@pytest.mark.parametrize(
    ("trigger", "kind", "name"),
    [
        ("danger_key", "crisis_call", "危机来电 Crisis call"),
        ("crisis_words", "crisis_call", "危机来电 Crisis call"),
        ("agent_flag", "crisis_call", "危机来电 Crisis call"),
        ("voicemail", "crisis_voicemail", "危机留言 Crisis voicemail"),
        ("voicemail-urgent", "urgent_voicemail", "紧急留言 Urgent voicemail"),
        ("voicemail-disk_full", "storage_full", "留言存储已满 Voicemail storage full"),
        ("voicemail-new_kind", "voicemail_alert", "留言系统警报 Voicemail alert"),
    ],
)
def test_each_kind_of_alert_names_itself(redis, trigger, kind, name):
    text = text_for(redis, trigger)
    assert alert_kind(trigger) == kind
    assert text.startswith(f"{name} ")
    assert CALLER not in text and "12345678" not in text  # never the whole number
    assert "06:30 UTC" in text
    if kind != "crisis_call":
        assert "Crisis call" not in text and "危机来电" not in text
    if kind not in ("crisis_call", "crisis_voicemail"):
        assert "Crisis" not in text and "危机" not in text


def test_call_and_voicemail_alerts_carry_the_masked_caller_and_a_reference(redis):
    crisis = text_for(redis, "danger_key")
    assert crisis == (
        "危机来电 Crisis call +86*******5678 06:30 UTC (danger_key). "
        "请查看控制台 See the console: 77777777"
    )
    urgent = text_for(redis, "voicemail-urgent")
    assert urgent == (
        "紧急留言 Urgent voicemail +86*******5678 06:30 UTC. "
        "请查看留言箱 See the voicemail inbox: 77777777"
    )
    assert "+86*******5678" in text_for(redis, "voicemail")


def test_a_full_disk_says_what_to_do_and_names_no_caller(redis):
    text = text_for(redis, "voicemail-disk_full", "voicemail-disk_full-20261202")
    assert text == (
        "留言存储已满 Voicemail storage full 06:30 UTC. 新留言暂留在 Twilio，请清理服务器磁盘。"
        "New recordings stay at Twilio until the server's disk has room."
    )


def test_an_alert_for_a_call_nobody_recorded_says_unknown(redis):
    text = alert_text("CA" + "9" * 32, {"trigger": "voicemail-urgent"}, redis)
    assert text.startswith("紧急留言 Urgent voicemail unknown ")


def voicemail(call_sid: str) -> Message:
    """An urgent voicemail message as processing hands it to the pager."""
    return Message(
        recording_sid="RE" + "5" * 32,
        call_sid=call_sid,
        caller=CALLER,
        area="labor",
        language="zh",
        summary="",
        recording_url="",
        state="stored",
        created_at=OPENED,
        measures=None,
        urgency=0.9,
        urgent=True,
        crisis=False,
        reasons=(),
        audio_sha256="",
        remote_deleted_at=None,
        fields={},
    )


def test_the_pager_texts_an_urgent_voicemail_and_a_full_disk_as_what_they_are(
    redis,
    clock,
    hotline_config,
    jobs_runtime,  # noqa: F811
    rig,  # noqa: F811
):
    import_roster(redis, clock, hotline_config)
    CallStore(redis).start(CALL, CALLER)
    notify = pager(jobs_runtime)

    notify("urgent", voicemail(CALL))
    notify("disk_full", voicemail(CALL))
    run_jobs(redis)

    bodies = sorted(message["body"] for message in messages(rig))
    assert len(bodies) == 2
    assert bodies[0].startswith("留言存储已满 Voicemail storage full ")
    assert bodies[1].startswith("紧急留言 Urgent voicemail +86*******5678 ")
    assert not any("Crisis" in body or CALLER in body for body in bodies)
    assert redis.hget(keys.crisis_alert(CALL), "state") == b"paged"
    assert page_supervisors(CALL) == "paged"  # run again, nobody is texted twice
    assert len(messages(rig)) == 2
    # Neither is a crisis: no incident record, and the events say alert, not crisis.
    assert IncidentLog(redis).get(CALL) is None
    kinds = {e["kind"] for e in events.recent(redis, count=100)}
    assert {"alert", "alert-paged"} <= kinds
    assert not kinds & {"crisis-alert", "crisis-paged", "crisis-unpaged"}

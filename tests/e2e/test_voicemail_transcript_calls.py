"""Transcripts through the real hotline and the stand-in, on one served hotline:

- a bridged caller's crisis sentence in the live transcript alerts the supervisor on call within
  seconds, and with the caller's consent the transcript of both sides is kept, sealed;
- a calm-voiced Mandarin message with crisis words pages the supervisor on call within seconds
  and opens an incident before the recording is even stored, where the voice alone would have
  waited for the morning callback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from queues.incidents import IncidentLog
from queues.sealing import Sealer
from tests.e2e.harness import AUTH, CALL_DEADLINE_S, CALLER, Hotline, serving, write_yaml
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.e2e_rigs import DAILY, TO_CORPORATE, open_config, roster, specialist
from tests.fixtures.plaintext import all_of_redis
from tests.fixtures.waits import poll
from voicemail.transcripts import CallTranscripts

pytestmark = pytest.mark.e2e

SUPERVISOR_PHONE = "+8613900000301"
AGENT_PHONE = "+8613900000201"
CRISIS = "明天我就从楼上跳下去"
CALLER_SAYS = "公司拖欠我三个月工资"
AGENT_SAYS = "工资的事我们一步一步来"
# The page follows the transcript's line within seconds; the deadline leaves a busy machine room.
PAGED_WITHIN_S = 10.0
# The target from a crisis line in a live call to the supervisors' page (docs/live-assist.md).
LIVE_ALERT_S = 2.0
# The stand-in's real seconds per call second: 40 call seconds are 1.2 real seconds.
TIME_SCALE = "0.03"
# When the agent speaks, in call seconds after joining the conference (the caller joins a few
# call seconds after them, more on a busy machine).
AGENT_SPEAKS_S = 40


def config() -> dict[str, Any]:
    """The shipped config with corporate (recorded, with consent) open around the clock and
    labor closed around the clock (a message)."""
    data = open_config("corporate")
    data["areas"]["labor"]["hours"] = {"timezone": "Asia/Shanghai", "weekly": {}}
    data["assist"]["enabled"] = True
    return data


def phones(home: Path) -> Path:
    """The corporate agent answers, accepts with 1, answers the caller and stays a while.

    The agent's lines are timed from their joining the conference, which they do before the
    caller: their line waits AGENT_SPEAKS_S, past however late a loaded machine brings the
    caller in (the caller's transcription hears only what the caller hears), and they stay
    past it and the caller's crisis line."""
    agent = {
        "role": "agent",
        "answer_after": 1,
        "press": ["1"],
        "stay": AGENT_SPEAKS_S + 100,
        "talk": [{"after": AGENT_SPEAKS_S, "say": AGENT_SAYS}],
    }
    return write_yaml(home / "phones.yaml", {AGENT_PHONE: agent})


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """One served hotline for the module: a corporate agent and a supervisor on call."""
    home = tmp_path_factory.mktemp("transcripts")
    supervisor = {"id": "s01", "name": "李主管", "phone": SUPERVISOR_PHONE, "on_call": DAILY}
    desk = roster(specialist("corp_a", AGENT_PHONE, "corporate"), supervisors=[supervisor])
    with serving(home, config(), roster=desk, phones=phones(home), time_scale=TIME_SCALE) as served:
        yield served


def pages(hotline: Hotline, kind: str) -> list[dict[str, Any]]:
    """The supervisor's SMS of one kind (the self-check's pages are not counted)."""
    sent = requests.get(f"{hotline.carrier_url}/carrier/messages", auth=AUTH, timeout=5).json()
    return [m for m in sent if m["to"] == SUPERVISOR_PHONE and kind in m["body"]]


def test_a_crisis_line_in_a_live_call_alerts_the_supervisor_and_consent_keeps_it(
    hotline: Hotline,
) -> None:
    talk = [{"after": 2, "say": CALLER_SAYS}, {"after": 8, "say": CRISIS}]
    transcript = hotline.call(*TO_CORPORATE, talk=talk, hangup_after=400)
    assert transcript["outcome"]["bridged_to"], "\n".join(
        str((e["kind"], e.get("text") or e.get("path") or e.get("url") or e))
        for e in transcript["entries"]
    )
    call_sid = transcript["call_sid"]
    redis = hotline.redis()

    sms = poll(lambda: pages(hotline, "Crisis call"), PAGED_WITHIN_S, "the crisis page")
    assert len(sms) == 1 and CALLER not in sms[0]["body"] and CRISIS not in sms[0]["body"]
    log = IncidentLog(redis, sealer=Sealer(TEST_SECRET))
    incident = poll(lambda: (i := log.get(call_sid)) and i.first("paged") and i, 10, "paged")
    opened = incident.first("opened")
    assert opened["trigger"] == "live_transcript" and opened["said"] == CRISIS
    # From the line's arrival to the supervisor's SMS sent.
    assert float(incident.first("paged")["at"]) - float(opened["at"]) < LIVE_ALERT_S

    # The caller let the recording notice pass: the transcript of both sides is kept, sealed.
    sealer = Sealer(TEST_SECRET)
    kept = poll(lambda: CallTranscripts(redis, sealer=sealer).kept(call_sid), 10, "the transcript")
    said = [(line["track"], line["text"]) for line in kept]
    assert ("caller", CALLER_SAYS) in said and ("caller", CRISIS) in said
    assert ("agent", AGENT_SAYS) in said
    stored = all_of_redis(redis)
    assert CALLER_SAYS.encode() not in stored and AGENT_SAYS.encode() not in stored


def test_crisis_words_in_a_calm_mandarin_message_page_the_supervisor(hotline: Hotline) -> None:
    # Mandarin, labor, both intake answers; the area is closed: a message, said calmly.
    steps = [{"press": "1"}, {"press": "2"}, {"press": "1"}, {"press": "2"}]
    talk = [{"after": 1, "say": CRISIS, "audio": "crisis_calm_zh"}]
    transcript = hotline.call(*steps, talk=talk, hangup_after=600)
    ended = time.monotonic()
    said = [e for e in transcript["entries"] if e["kind"] == "said"]
    assert [e["text"] for e in said] == [CRISIS] and said[0]["where"] == "record"

    sms = poll(lambda: pages(hotline, "Crisis voicemail"), PAGED_WITHIN_S, "the crisis page")
    assert time.monotonic() - ended < PAGED_WITHIN_S
    assert len(sms) == 1 and CALLER not in sms[0]["body"] and CRISIS not in sms[0]["body"]

    call_sid = transcript["call_sid"]
    redis = hotline.redis()
    incident = IncidentLog(redis, sealer=Sealer(TEST_SECRET)).get(call_sid)
    assert incident is not None and incident.first("opened")["trigger"] == "voicemail"
    assert CRISIS in incident.first("opened")["said"]
    # Nothing of the words in plain text in Redis: lines, message and incident are sealed.
    assert CRISIS.encode() not in all_of_redis(redis)

    recording_sid = transcript["outcome"]["voicemail"]["recording_sid"]

    def processed() -> dict[str, str]:
        raw = redis.hgetall(f"hotline:voicemail:{recording_sid}")
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return fields if fields.get("state") == "ready" else {}

    message = poll(processed, CALL_DEADLINE_S, "the message to be processed")
    assert message["crisis"] == "1" and message["transcript_source"] == "realtime"
    # The words opened the crisis before the recording was even stored.
    assert float(incident.first("opened")["at"]) < float(message["stored_at"])
    # Paged once: processing found the supervisors already told.
    assert len(pages(hotline, "Crisis voicemail")) == 1

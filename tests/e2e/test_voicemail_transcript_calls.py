"""A calm-voiced Mandarin message with crisis words, through the real hotline and the stand-in:
the real-time transcription of the caller's words pages the supervisor on call and opens an
incident within seconds, while the voice alone would have waited for the morning callback."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from queues.incidents import IncidentLog
from queues.sealing import Sealer
from tests.e2e.harness import AUTH, CALL_DEADLINE_S, CALLER, serving, shipped_config
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.plaintext import all_of_redis
from tests.fixtures.waits import poll

pytestmark = pytest.mark.e2e

SUPERVISOR_PHONE = "+8613900000301"
CRISIS = "明天我就从楼上跳下去"
# The page follows the transcript's line within seconds; the deadline leaves a busy machine room.
PAGED_WITHIN_S = 10.0
ROSTER = {
    "timezone": "Asia/Shanghai",
    "agents": [
        {
            "id": "a02",
            "name": "陈强",
            "phone": "+8613900000002",
            "languages": ["zh"],
            "skills": {"labor": 3},
            "crisis_trained": False,
            "shifts": [{"days": "mon-sun", "hours": "00:00-24:00"}],
        }
    ],
    "supervisors": [
        {
            "id": "s01",
            "name": "李主管",
            "phone": SUPERVISOR_PHONE,
            "on_call": [{"days": "mon-sun", "hours": "00:00-24:00"}],
        }
    ],
}


def crisis_pages(carrier_url: str) -> list[dict[str, Any]]:
    """The supervisor's SMS about crisis voicemail (the self-check's pages are not counted)."""
    sent = requests.get(f"{carrier_url}/carrier/messages", auth=AUTH, timeout=5).json()
    return [m for m in sent if m["to"] == SUPERVISOR_PHONE and "Crisis voicemail" in m["body"]]


def test_crisis_words_in_a_calm_mandarin_message_page_the_supervisor(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("voicemail-words")
    config = shipped_config()
    config["areas"]["labor"]["hours"] = {"timezone": "Asia/Shanghai", "weekly": {}}
    with serving(home, config, roster=ROSTER) as hotline:
        # Mandarin, labor, both intake answers; the area is closed: a message, said calmly.
        steps = [{"press": "1"}, {"press": "2"}, {"press": "1"}, {"press": "2"}]
        talk = [{"after": 1, "say": CRISIS, "audio": "crisis_calm_zh"}]
        transcript = hotline.call(*steps, talk=talk, hangup_after=600)
        ended = time.monotonic()
        said = [e for e in transcript["entries"] if e["kind"] == "said"]
        assert [e["text"] for e in said] == [CRISIS] and said[0]["where"] == "record"

        sms = poll(lambda: crisis_pages(hotline.carrier_url), PAGED_WITHIN_S, "the crisis page")
        waited = time.monotonic() - ended
        assert len(sms) == 1 and CALLER not in sms[0]["body"] and CRISIS not in sms[0]["body"]
        assert waited < PAGED_WITHIN_S

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
        assert len(crisis_pages(hotline.carrier_url)) == 1

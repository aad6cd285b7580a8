"""A whole voicemail through the real hotline: an after-hours caller leaves a message, the worker
processes and encrypts it and deletes Twilio's copy, and at the area's next opening a labor
agent is rung, hears the message, presses 1 and is connected to the caller called back."""

from __future__ import annotations

import io
import math
import os
import struct
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.harness import (
    AUTH,
    CALL_DEADLINE_S,
    CALLER,
    poll,
    serving,
    shipped_config,
    write_yaml,
)
from tools import voicemail_samples as samples

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
AGENT_PHONE = "+8613900000002"
# From now to the opening: serve starts, the call and its processing take a few seconds, and
# the area must still be closed by then.
LEAD_S = 25
# Hours are configured to the minute, and every real zone's offset is whole minutes, so an
# opening in one is up to a minute away. The labor area's hours are instead kept in a zone whose
# offset from UTC is 8 hours and some seconds, chosen so that a whole minute there (the opening)
# falls LEAD_S from now; the hotline's processes find it through PYTHONTZPATH.
TEST_ZONE = "Test/Opening"


def tzif(offset_s: int) -> bytes:
    """A TZif file (RFC 8536, version 2) for a zone with one fixed offset from UTC, in seconds."""
    name = b"OPEN\0"
    # A header (no transitions, one local time type), that type, then the same again for v2.
    header = b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 1, len(name))
    block = header + struct.pack(">lBB", offset_s, 0, 0) + name
    # The footer: the POSIX TZ string for times past the (absent) transitions; its sign is
    # reversed (a zone east of UTC is written negative).
    hours, rest = divmod(offset_s, 3600)
    footer = f"\n<OPEN>-{hours}:{rest // 60:02d}:{rest % 60:02d}\n".encode()
    return block + block + footer


def opening_zone(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ZoneInfo, datetime]:
    """Install TEST_ZONE with its offset set so a whole minute there is LEAD_S from now.

    Returns the zone and that minute (the opening); serve's processes, started after this,
    look the zone up in home/zones before the system's zones.
    """
    opening = datetime.fromtimestamp(math.ceil(datetime.now(UTC).timestamp() + LEAD_S), UTC)
    offset_s = 8 * 3600 + (60 - opening.second) % 60
    data = tzif(offset_s)
    zones = home / "zones"
    (zones / TEST_ZONE).parent.mkdir(parents=True)
    (zones / TEST_ZONE).write_bytes(data)
    monkeypatch.setenv("PYTHONTZPATH", os.pathsep.join((str(zones), *zoneinfo.TZPATH)))
    zone = ZoneInfo.from_file(io.BytesIO(data), key=TEST_ZONE)
    local = opening.astimezone(zone)
    assert local.second == 0 and local.utcoffset() == timedelta(seconds=offset_s), local
    return zone, opening


def config_opening_at(opening: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """The shipped config with labor opening every day at a given minute, for two hours."""
    config = shipped_config()
    start = opening.astimezone(zone)
    end = start + timedelta(hours=2)
    span = f"{start:%H:%M}-{end:%H:%M}"
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    config["areas"]["labor"]["hours"] = {
        "timezone": TEST_ZONE,
        "weekly": {day: [span] for day in days},
    }
    return config


LABOR_AGENT = {
    "timezone": "Asia/Shanghai",
    "agents": [
        {
            "id": "a02",
            "name": "陈强",
            "phone": AGENT_PHONE,
            "languages": ["zh"],
            "skills": {"labor": 3},
            "crisis_trained": False,
            "shifts": [{"days": "mon-sun", "hours": "00:00-24:00"}],
        }
    ],
}


def phones(home: Path) -> Path:
    """The agent's phone answers quickly, accepts with 1 and stays on the line 300 call seconds:
    3 s at the test's clock, so that the called-back caller reaches the conference before the
    agent leaves it, even on a busy machine."""
    return write_yaml(
        home / "phones.yaml",
        {
            AGENT_PHONE: {
                "name": "陈强",
                "role": "agent",
                "answer_after": 1,
                "press": ["1"],
                "stay": 300,
            }
        },
    )


def test_after_hours_message_is_called_back_by_a_labor_agent(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("voicemail")
    zone, opening = opening_zone(home, monkeypatch)
    with serving(
        home, config_opening_at(opening, zone), roster=LABOR_AGENT, phones=phones(home)
    ) as hotline:
        # Mandarin, labor, both intake answers; then silence through the closed message.
        steps = [{"press": "1"}, {"press": "2"}, {"press": "1"}, {"press": "2"}]
        transcript = hotline.call(*steps, voicemail="speech", hangup_after=600)
        heard = [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]
        assert any("不在服务时间" in text and "按9" in text for text in heard), heard
        assert hotline.prompt("voicemail_thanks", "zh") in heard
        recording_sid = transcript["outcome"]["voicemail"]["recording_sid"]
        assert datetime.now(SHANGHAI) < opening, "the call ran past the opening"

        redis = hotline.redis()
        key = f"hotline:voicemail:{recording_sid}"

        def processed() -> dict[str, str]:
            fields = {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}
            return fields if fields.get("callback_state") == "scheduled" else {}

        message = poll(processed, CALL_DEADLINE_S, "the message to be processed")
        assert message["state"] == "ready" and message["area"] == "labor"
        assert message["remote_delete"] == "deleted"
        assert CALLER not in str(redis.xrange("hotline:events"))
        stored = home / "var" / "voicemail" / f"{recording_sid}.mp3.enc"
        assert stored.is_file() and b"ID3" not in stored.read_bytes()[:64]
        twilio_copy = requests.get(
            f"{hotline.carrier_url}/2010-04-01/Accounts/{AUTH[0]}/Recordings/{recording_sid}.json",
            auth=AUTH,
            timeout=5,
        )
        assert twilio_copy.status_code == 404

        def agent_leg() -> dict[str, Any] | None:
            legs = [c for c in hotline.calls() if c["to"] == AGENT_PHONE]
            return legs[0] if legs else None

        wait = (opening - datetime.now(SHANGHAI)).total_seconds() + CALL_DEADLINE_S
        leg = poll(agent_leg, wait, "the labor agent to be rung at the opening")
        assert datetime.now(SHANGHAI) >= opening
        agent = hotline.finish(leg["call_sid"])
        played = [
            e["url"]
            for e in agent["entries"]
            if e["kind"] == "played" and f"/voicemail/audio/{recording_sid}.mp3" in e["url"]
        ]
        assert played, agent
        assert any(e["kind"] == "pressed" and e["keys"] == "1" for e in agent["entries"])

        def callback_leg() -> dict[str, Any] | None:
            legs = [c for c in hotline.calls() if c["to"] == CALLER and c["direction"] != "inbound"]
            return legs[0] if legs else None

        leg = poll(callback_leg, CALL_DEADLINE_S, "the caller to be called back")
        called_back = hotline.finish(leg["call_sid"])
        paths = [(e["path"], e["status"]) for e in called_back["entries"] if e["kind"] == "webhook"]
        assert ("/voice/connect/callback", 200) in paths, called_back
        assert hotline.prompt("callback_greeting", "zh") in [
            e["text"] for e in called_back["entries"] if e["kind"] == "heard"
        ]
        # The carrier carries no audio: fetch the agent's link as Twilio's <Play> would.
        audio = requests.get(played[0], timeout=5)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/mpeg"
        assert audio.content[:3] == b"ID3" or audio.content[0] == 0xFF
        audit = [
            {k.decode(): v.decode() for k, v in fields.items()}
            for _, fields in redis.xrange("hotline:voicemail:audit")
        ]
        assert [(a["action"], a["actor"]) for a in audit] == [("played", "phone:a02")]


SUPERVISOR_PHONE = "+8613900000301"


def test_an_urgent_message_pages_the_supervisor_on_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("urgent")
    config = shipped_config()
    always_closed = {"timezone": "Asia/Shanghai", "weekly": {}}
    config["areas"]["labor"]["hours"] = always_closed
    roster = {
        **LABOR_AGENT,
        "supervisors": [
            {
                "id": "s01",
                "name": "李主管",
                "phone": SUPERVISOR_PHONE,
                "on_call": [{"days": "mon-sun", "hours": "00:00-24:00"}],
            }
        ],
    }
    # A loud, fast, uneven voice: what hotline staff hear as an emergency.
    message = home / "agitated.wav"
    message.write_bytes(samples.speech_wav(20, "agitated"))
    with serving(home, config, roster=roster, phones=phones(home)) as hotline:
        steps = [{"press": "1"}, {"press": "2"}, {"press": "1"}, {"press": "2"}]
        transcript = hotline.call(*steps, voicemail=str(message), hangup_after=600)
        recording_sid = transcript["outcome"]["voicemail"]["recording_sid"]

        def paged() -> list[dict[str, Any]]:
            sent = requests.get(f"{hotline.carrier_url}/carrier/messages", auth=AUTH, timeout=5)
            # The self-check pages the same supervisor about standing conditions: not counted.
            return [
                m
                for m in sent.json()
                if m["to"] == SUPERVISOR_PHONE and "Urgent voicemail" in m["body"]
            ]

        sms = poll(paged, CALL_DEADLINE_S, "the supervisor to be paged")
        assert len(sms) == 1 and CALLER not in sms[0]["body"]
        fields = hotline.redis().hgetall(f"hotline:voicemail:{recording_sid}")
        assert fields[b"urgent"] == b"1"

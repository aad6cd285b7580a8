"""Recorded consultations through the real hotline and the stand-in: in an area that records,
a caller who presses 2 at the notice is not recorded; one who lets it pass is, and the worker
stores the recording encrypted twice (both files, neither holding the plain audio, each opening
to the recording's bytes) before it deletes Twilio's copy."""

from __future__ import annotations

import hashlib
import io
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.harness import AUTH, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import TO_CORPORATE, corporate_desk, heard, open_config
from voicemail.vault import Vault

pytestmark = pytest.mark.e2e

REFUSER = "+8613811110001"
CONSENTER = "+8613811110002"
AGENTS = {"corp_a": "+8613900000201", "corp_b": "+8613900000202"}
CALLER_SAYS = "我们公司的股东想退股"
REFUSER_SAYS = "这件事请不要录音"
AGENT_SAYS = "股东退股要看公司章程的约定"


def config() -> dict[str, Any]:
    """The shipped config with the corporate area (recording on) open around the clock."""
    data = open_config("corporate")
    assert data["areas"]["corporate"]["recording"] in ("on", True)
    return data


ROSTER = corporate_desk(AGENTS)


def phones(home: Path) -> Path:
    """Both agents answer, accept with 1 and talk for 300 call seconds, then hang up."""
    # 3 s at the test's clock: the caller reaches the conference before the agent leaves it,
    # even on a busy machine.
    accepts = {
        "role": "agent",
        "answer_after": 1,
        "press": ["1"],
        "stay": 300,
        "talk": [{"after": 8, "say": AGENT_SAYS}],
    }
    return write_yaml(home / "phones.yaml", {phone: accepts for phone in AGENTS.values()})


def test_a_refusal_is_never_recorded_and_a_consent_is_stored_twice_then_deleted_at_twilio(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("recorded")
    with serving(home, config(), roster=ROSTER, phones=phones(home)) as hotline:
        with ThreadPoolExecutor(max_workers=2) as pool:
            talk = [{"after": 3, "say": REFUSER_SAYS}]
            refused_sid = hotline.start(*TO_CORPORATE, {"press": "2"}, caller=REFUSER, talk=talk)
            given_sid = hotline.start(
                *TO_CORPORATE, caller=CONSENTER, talk=[{"after": 3, "say": CALLER_SAYS}]
            )
            refused, given = pool.map(hotline.finish, (refused_sid, given_sid))

        notice = hotline.prompt("recording_notice", "zh")
        assert notice in heard(refused) and notice in heard(given)
        assert hotline.prompt("recording_refused", "zh") in heard(refused)
        assert hotline.prompt("recording_refused", "zh") not in heard(given)
        for transcript in (refused, given):
            assert transcript["outcome"]["errors"] == []
            assert transcript["outcome"]["bridged_to"], transcript["outcome"]

        redis = hotline.redis()
        assert redis.get(f"hotline:recording-consent:{refused_sid}") == b"refused"
        assert redis.get(f"hotline:recording-consent:{given_sid}") == b"given"

        def recordings() -> list[dict[str, Any]]:
            reply = requests.get(f"{hotline.carrier_url}/carrier/recordings", auth=AUTH, timeout=5)
            reply.raise_for_status()
            return reply.json()

        # Exactly one conference was recorded: the consenting caller's, with both of them on it.
        made = poll(recordings, 30, "the consenting caller's conference to be recorded")
        assert len(made) == 1, made
        recording_sid = made[0]["sid"]
        said = {(line["from"], line["text"]) for line in made[0]["lines"]}
        agent_legs = {c["call_sid"] for c in hotline.calls() if c["to"] in AGENTS.values()}
        assert (given_sid, CALLER_SAYS) in said
        assert any(text == AGENT_SAYS and leg in agent_legs for leg, text in said), said
        assert REFUSER_SAYS not in str(made)
        key = f"hotline:consultation:{recording_sid}"

        def stored() -> dict[str, str]:
            fields = {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}
            return fields if fields.get("state") == "ready" else {}

        consultation = poll(stored, 60, "the recording to be stored and deleted at Twilio")
        assert consultation["call_sid"] == given_sid
        assert consultation["consent"] == "given" and consultation["area"] == "corporate"
        assert consultation["remote_delete"] == "deleted"
        assert CONSENTER not in str(redis.hgetall(key)) and REFUSER not in str(redis.hgetall(key))

        # Twilio's copy is gone: the stand-in says so, and its REST API no longer has it.
        view = requests.get(
            f"{hotline.carrier_url}/carrier/recordings/{recording_sid}", auth=AUTH, timeout=5
        ).json()
        assert view["deleted"] is True
        twilio_copy = requests.get(
            f"{hotline.carrier_url}/2010-04-01/Accounts/{AUTH[0]}/Recordings/{recording_sid}.json",
            auth=AUTH,
            timeout=5,
        )
        assert twilio_copy.status_code == 404

        # Stored twice, encrypted: each file opens to the same WAV, whose hash was recorded.
        secret = (home / "var" / "secrets" / "voicemail_key").read_text()
        opened = []
        for folder in (home / "var" / "voicemail", home / "var" / "vault-copy"):
            vault = Vault(folder / "consultations", secret, suffix=".wav.enc")
            path = vault.path(recording_sid)
            assert path.is_file(), path
            audio = vault.read(recording_sid)
            raw = path.read_bytes()
            assert b"RIFF" not in raw and b"WAVE" not in raw and audio[200:264] not in raw
            opened.append(audio)
        assert opened[0] == opened[1]
        assert hashlib.sha256(opened[0]).hexdigest() == consultation["audio_sha256"]
        with wave.open(io.BytesIO(opened[0])) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        assert seconds == pytest.approx(float(view["duration"]), abs=2)

        kinds = [
            {k.decode(): v.decode() for k, v in fields.items()}
            for _, fields in redis.xrange("hotline:events")
        ]
        consents = {e["call"]: e["consent"] for e in kinds if e["kind"] == "recording-consent"}
        assert consents == {refused_sid: "refused", given_sid: "given"}
        assert CONSENTER not in str(kinds) and REFUSER not in str(kinds)

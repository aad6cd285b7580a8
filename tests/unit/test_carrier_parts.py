"""The carrier's small parts: clock, faults, parties, audio and transcripts."""

from __future__ import annotations

import io
import json
import threading
import wave
from array import array
from pathlib import Path

import pytest

from carrier import audio, demo_agents_path
from carrier.clock import Clock, rfc2822
from carrier.faults import FaultPlan, Faults
from carrier.parties import Directory, Script, Step
from carrier.transcript import Transcript, mask_number, mask_text, render


def test_clock_scales_virtual_time() -> None:
    clock = Clock(0.02)

    assert clock.real(30) == pytest.approx(0.6)
    condition = threading.Condition()
    with condition:
        before = clock.now()
        clock.wait(condition, 1.0)
    assert clock.now() - before >= 1.0
    with pytest.raises(ValueError):
        Clock(0)
    assert rfc2822(clock.utcnow()).endswith("+0000")


def test_fault_plans_are_checked_and_capped() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan.from_mapping({"rest_503": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan.from_mapping({"rest_500": 2})
    faults = Faults(FaultPlan.from_spec('{"rest_500": 1.0, "limits": {"rest_500": 2}}'))

    assert [faults.roll("rest_500", target="/x") for _ in range(4)] == [True, True, False, False]
    assert faults.snapshot()["injected"]["rest_500"] == 2


def test_fault_plans_with_a_seed_repeat(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("callback_duplicate: 0.5\nseed: 7\n", encoding="utf-8")
    first, second = Faults(FaultPlan.from_spec(str(path))), Faults(FaultPlan.from_spec(str(path)))

    rolls = [first.roll("callback_duplicate") for _ in range(20)]
    assert rolls == [second.roll("callback_duplicate") for _ in range(20)]
    assert 0 < sum(rolls) < 20


def test_rest_faults_only_hit_matching_paths() -> None:
    faults = Faults(FaultPlan(rest_429=1.0, rest_match="Calls"))

    assert not faults.roll("rest_429", target="/2010-04-01/Accounts/AC1/Queues.json")
    assert faults.roll("rest_429", target="/2010-04-01/Accounts/AC1/Calls.json")


def test_steps_and_scripts_parse_from_json() -> None:
    script = Script.from_mapping(
        {
            "steps": [{"press": "2"}, "say:工资", {"wait": True}],
            "hangup_after": 30,
            "hangup_on": ["请稍后再拨。"],
        }
    )

    assert script.steps == (Step("press", "2"), Step("say", "工资"), Step("wait"))
    assert script.hangup_on == ("请稍后再拨。",)
    assert Script.from_mapping(script.to_dict()) == script
    with pytest.raises(ValueError, match="hangup_on"):
        Script.from_mapping({"hangup_on": "请稍后再拨。"})
    for bad in ({"press": "x"}, {"say": " "}, {"dance": 1}):
        with pytest.raises(ValueError):
            Step.parse(bad)
    with pytest.raises(ValueError, match="unknown script field"):
        Script.from_mapping({"steps": [], "hangup": 3})


def test_phone_directory_from_yaml() -> None:
    directory = Directory.from_mapping(
        {
            "+8613900000001": {"name": "Agent Li", "press": "1", "stay": 90},
            "+8613900000002": {"answer_after": "never"},
        }  # fmt: skip
    )

    li = directory.lookup("+8613900000001")
    assert (li.name, li.press, li.stay) == ("Agent Li", ("1",), 90.0)
    assert directory.lookup("+8613900000002").answer_after is None
    assert directory.lookup("+8613999999999").answer_after == 3.0
    assert li.party().next_step() == Step("press", "1")
    with pytest.raises(ValueError, match="unknown field"):
        Directory.from_mapping({"+861": {"colour": "red"}})
    with pytest.raises(ValueError, match="E.164"):
        Directory.from_mapping({"8613900000001": {}})


def test_the_demo_phone_file_loads() -> None:
    directory = Directory.load(demo_agents_path())

    assert all(number.startswith(("+", "client:")) for number in directory.phones)


def test_speech_like_audio_is_loud_and_silence_trims_away() -> None:
    speech = audio.speech_like(2.0, seed=3)

    assert audio.duration(speech) == pytest.approx(2.0)
    samples = array("h")
    samples.frombytes(speech)
    assert max(abs(s) for s in samples) > 3000
    assert audio.trim_silence(audio.silence(2.0)) == b""
    padded = audio.silence(1.0) + speech + audio.silence(1.0)
    assert audio.duration(audio.trim_silence(padded)) <= 2.0


def test_wav_files_are_converted_to_8k_mono(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as target:
        target.setnchannels(2)
        target.setsampwidth(2)
        target.setframerate(16000)
        target.writeframes(array("h", [1000, 3000] * 16000).tobytes())

    pcm = audio.load_wav(path)

    assert audio.duration(pcm) == pytest.approx(1.0)
    assert set(array("h", pcm)) == {2000}
    with wave.open(io.BytesIO(audio.to_wav(pcm))) as back:
        assert (back.getframerate(), back.getnchannels(), back.getsampwidth()) == (8000, 1, 2)
    assert audio.to_mp3(pcm)[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xe3")


def test_numbers_are_masked_to_country_code_and_last_four() -> None:
    assert mask_number("+8613912345678") == "+86*******5678"
    assert mask_number("+14155550123") == "+1******0123"
    assert mask_text("GET /Calls.json?To=%2B8613912345678 from +8613900000001") == (
        "GET /Calls.json?To=+86*******5678 from +86*******0001"
    )


def test_transcripts_render_as_text_with_masked_numbers() -> None:
    transcript = Transcript("CA1", caller="+8613912345678", called="+861012348000",
                            direction="inbound", started=10.0)  # fmt: skip
    transcript.add(11.0, "heard", text="您好", language="cmn-CN", voice=None)
    transcript.add(12.5, "pressed", keys="2")
    transcript.add(13.0, "bridged", number="+8613900000001", name="Agent Li", call_sid="CA2")
    transcript.note_outcome(summary="bridged to Agent Li (+8613900000001)")
    transcript.note_outcome(queues="labor")
    transcript.note_outcome(queues="labor")

    data = json.loads(json.dumps(transcript.to_dict()))
    text = render(data)
    assert data["outcome"]["queues"] == ["labor"]
    assert "    1.0s  heard    您好" in text and "    2.5s  pressed  2" in text
    assert "+8613900000001" not in text and "+86*******0001" in text

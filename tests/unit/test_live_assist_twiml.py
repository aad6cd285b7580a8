"""The caller's way into the conference with live assist: audio stream and transcription start
first, named so they can be stopped, then the greeting and the `<Dial>`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ivr.callers import menu_twiml as twiml


def test_the_caller_streams_and_is_transcribed_before_joining(hotline_config):
    live = twiml.LiveAssist(
        "wss://h/voice/assist/stream",
        "https://h/voice/assist/transcript?res=R1",
        "zh-CN",
        (("res", "R1"),),
    )
    root = ET.fromstring(
        str(
            twiml.conference(
                hotline_config, "zh", "R1", prompt="connecting", agent=False, live=live
            )
        )
    )
    assert [child.tag for child in root][0] == "Start" and root[-1].tag == "Dial"
    stream, transcription = root.find("Start")
    assert (stream.tag, stream.get("url"), stream.get("track"), stream.get("name")) == (
        "Stream",
        "wss://h/voice/assist/stream",
        "inbound_track",
        "assist",
    )
    assert [(p.get("name"), p.get("value")) for p in stream] == [("res", "R1")]
    assert transcription.tag == "Transcription"
    assert transcription.get("statusCallbackUrl") == "https://h/voice/assist/transcript?res=R1"
    assert (transcription.get("track"), transcription.get("languageCode")) == (
        "both_tracks",
        "zh-CN",
    )
    assert transcription.get("partialResults") == "false"


def test_without_live_assist_no_start(hotline_config):
    root = ET.fromstring(str(twiml.conference(hotline_config, "zh", "R1", prompt=None, agent=True)))
    assert root.find("Start") is None

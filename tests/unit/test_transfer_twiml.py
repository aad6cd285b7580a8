"""The transfer's TwiML, parsed as XML: the agent's menus (escalation, area, mode, colleague),
the held caller's loop, the cold caller's waiting room, and the whisper's lead sentence."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from twilio.twiml.voice_response import VoiceResponse

from ivr.callers import menu_twiml as twiml


def parsed(document: VoiceResponse) -> ET.Element:
    """A TwiML document as an XML tree."""
    return ET.fromstring(str(document))


def rejoin() -> VoiceResponse:
    """A stand-in for the agent's way back into the conference."""
    response = VoiceResponse()
    response.dial().conference("RS1")
    return response


def test_the_area_menu_names_each_area_by_its_callers_key_then_goes_back(hotline_config):
    root = parsed(twiml.agent_transfer_area(hotline_config, "zh", "/area", rejoin()))
    assert [child.tag for child in root] == ["Gather", "Dial"]
    gather = root.find("Gather")
    assert (gather.get("numDigits"), gather.get("action")) == ("1", "/area")
    said = gather.find("Say").text
    for area in hotline_config.areas.values():
        assert f"{area.key} {area.name['zh']}" in said
    assert root.find("Dial/Conference").text == "RS1"


def test_the_mode_menu_names_the_area_then_goes_back(hotline_config):
    root = parsed(twiml.agent_transfer_mode(hotline_config, "en", "labor", "/mode", rejoin()))
    assert [child.tag for child in root] == ["Gather", "Dial"]
    labor = hotline_config.areas["labor"].name["en"]
    assert root.find("Gather/Say").text == hotline_config.prompt(
        "agent_transfer_mode", "en", area=labor
    )


def test_the_colleague_menu_takes_keys_up_to_hash_then_goes_back(hotline_config):
    root = parsed(twiml.agent_transfer_colleague(hotline_config, "zh", "/who", rejoin()))
    assert [child.tag for child in root] == ["Gather", "Dial"]
    gather = root.find("Gather")
    assert (gather.get("finishOnKey"), gather.get("numDigits")) == ("#", None)
    assert (gather.get("input"), gather.get("action"), gather.get("method")) == (
        "dtmf",
        "/who",
        "POST",
    )
    assert gather.get("timeout") == str(twiml.AGENT_MENU_TIMEOUT_S)
    assert gather.find("Say").text == hotline_config.prompt("agent_transfer_agent", "zh")
    assert root.find("Dial/Conference").text == "RS1"


def test_the_escalation_menu_takes_one_key_then_goes_back(hotline_config):
    root = parsed(twiml.agent_menu(hotline_config, "en", "/menu", rejoin()))
    assert [child.tag for child in root] == ["Gather", "Dial"]
    gather = root.find("Gather")
    assert (gather.get("numDigits"), gather.get("finishOnKey")) == ("1", None)
    assert gather.get("timeout") == str(twiml.AGENT_MENU_TIMEOUT_S)
    assert gather.find("Say").text == hotline_config.prompt("agent_menu", "en")


def test_the_held_caller_hears_words_and_music_and_again(hotline_config):
    with_music = replace(hotline_config, hold_music_url="https://example.org/hold.mp3")
    root = parsed(twiml.transfer_hold(with_music, "zh", "/hold"))
    assert [child.tag for child in root] == ["Say", "Play", "Redirect"]
    assert root.find("Say").text == hotline_config.prompt("transfer_hold", "zh")
    assert root.find("Play").text == "https://example.org/hold.mp3"
    assert root.find("Redirect").text == "/hold"
    # Without music, still words, again and again: never silence.
    quiet = parsed(twiml.transfer_hold(hotline_config, "zh", "/hold"))
    assert [child.tag for child in quiet] == ["Say", "Redirect"]


def test_a_cold_caller_is_told_then_queued_in_the_new_area(hotline_config):
    root = parsed(twiml.transfer_room(hotline_config, "zh", "labor", "/wait", "/queued"))
    assert [child.tag for child in root] == ["Say", "Say", "Enqueue"]
    labor = hotline_config.areas["labor"].name["zh"]
    assert root.find("Say").text == hotline_config.prompt("transfer_cold", "zh", area=labor)
    enqueue = root.find("Enqueue")
    assert (enqueue.text, enqueue.get("waitUrl"), enqueue.get("action")) == (
        "labor",
        "/wait",
        "/queued",
    )


def test_the_transfer_line_comes_first_inside_the_whisper(hotline_config):
    whisper = twiml.whisper(
        hotline_config,
        "zh",
        area="labor",
        waited_s=70,
        summary="拖欠工资",
        callback=False,
        action="/answer",
    )
    led = twiml.with_lead(
        hotline_config, "zh", whisper, "whisper_transfer", area="家事", agent="王丽", note="备注"
    )
    says = [say.text for say in parsed(led).findall("Gather/Say")]
    assert says[0] == hotline_config.prompt(
        "whisper_transfer", "zh", area="家事", agent="王丽", note="备注"
    )
    assert len(says) >= 3  # the usual whisper and the choice follow, inside the same Gather

"""The static TwiML for Twilio's Voice Fallback URL: valid, current, and app-independent."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import ivr
from ivr.callers.menu_twiml import static_fallback

SHIPPED = Path(ivr.__file__).with_name("static") / "crisis-fallback.xml"


def test_shipped_file_is_what_the_config_produces(hotline_config):
    expected = static_fallback(hotline_config).to_xml(xml_declaration=True) + "\n"
    assert SHIPPED.read_text(encoding="utf-8") == expected, (
        "run: hotline fallback-twiml > ivr/static/crisis-fallback.xml"
    )


def test_fallback_dials_every_crisis_line_without_calling_the_app(hotline_config):
    root = ET.fromstring(SHIPPED.read_bytes())
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Say", "Say", "Dial", "Dial", "Say", "Say", "Hangup"]
    numbers = [number.text for number in root.iter("Number")]
    assert numbers == list(hotline_config.crisis.lines_for(hotline_config.default_language))
    # Nothing may point back at the app, which is down when this file is used.
    for element in root.iter():
        assert not {"action", "url", "statusCallback"} & set(element.attrib), element.attrib

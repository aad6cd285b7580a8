"""A flood of big unsigned webhook posts against the real `hotline serve`: each is refused by its
Content-Length before its body is read, and a signed call is still answered meanwhile."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from telephony.demo import DEMO_AUTH_TOKEN
from telephony.signature import SIGNATURE_HEADER, sign
from tests.e2e.harness import serving, shipped_config

pytestmark = pytest.mark.e2e

FLOOD = 16
FLOOD_BYTES = 2 * 1024 * 1024
FORM = {
    "CallSid": "CA" + "3" * 32,
    "From": "+8613812345678",
    "To": "+861012348000",
    "AccountSid": "AC" + "0" * 31 + "1",
    "CallStatus": "ringing",
}


def flood_post(url: str, started: threading.Barrier, outcomes: list[object]) -> None:
    """POST 2 MB of unsigned form; record the status, or the error if the server cut it off."""
    body = b"From=%2B8613812345678&Junk=" + b"x" * FLOOD_BYTES
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    started.wait(timeout=30)
    try:
        outcomes.append(requests.post(url, data=body, headers=headers, timeout=60).status_code)
    except requests.ConnectionError as error:
        # The server answered 413 and closed while the body was still going out.
        outcomes.append(type(error).__name__)


def test_big_unsigned_posts_are_refused_unread_while_a_signed_call_is_answered(tmp_path: Path):
    with serving(tmp_path, shipped_config()) as hotline:
        url = f"{hotline.app_url}/voice"
        started = threading.Barrier(FLOOD + 1)
        outcomes: list[object] = []
        floods = [
            threading.Thread(target=flood_post, args=(url, started, outcomes), daemon=True)
            for _ in range(FLOOD)
        ]
        for flood in floods:
            flood.start()
        started.wait(timeout=30)
        signature = sign(DEMO_AUTH_TOKEN, url, FORM)
        answer = requests.post(url, data=FORM, headers={SIGNATURE_HEADER: signature}, timeout=30)
        for flood in floods:
            flood.join(timeout=90)

        assert answer.status_code == 200
        assert ET.fromstring(answer.content).tag == "Response"
        assert len(outcomes) == FLOOD
        # Never read far enough to check a signature (403), let alone answered.
        assert all(outcome == 413 or isinstance(outcome, str) for outcome in outcomes), outcomes
        assert 413 in outcomes, outcomes

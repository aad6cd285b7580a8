"""Whole calls against the real hotline: `hotline serve` in demo mode starts the app, its worker,
an embedded Redis and the carrier as real processes; simulated callers ring in, several at once,
and the tests read what each caller heard and where the call ended."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, DEMO_HOTLINE_NUMBER
from telephony.gateway import Gateway, GatewayError
from tests.e2e.harness import (
    AUTH,
    CALL_DEADLINE_S,
    CALLER,
    Hotline,
    poll,
    serving,
    shipped_config,
    webhooks,
)
from tests.fixtures.twilio_spec import problems_of

pytestmark = pytest.mark.e2e


def menu_config() -> dict[str, Any]:
    """The shipped config with labor and general always open and corporate never open."""
    config = shipped_config()
    always = config["hours"]["always"]
    config["areas"]["labor"]["hours"] = always
    config["areas"]["corporate"]["hours"] = {
        "timezone": always["timezone"],
        "weekly": {day: [] for day in always["weekly"]},
    }
    return config


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with nobody on shift, so callers wait in their queues."""
    with serving(tmp_path_factory.mktemp("serve"), menu_config()) as running:
        yield running


def heard(transcript: dict[str, Any]) -> list[str]:
    """Return what the caller heard, in order."""
    return [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]


PRESS = {"1": {"press": "1"}, "2": {"press": "2"}}


def press(keys: str) -> dict[str, str]:
    """A step that presses keys."""
    return {"press": keys}


def say(text: str) -> dict[str, str]:
    """A step that says something."""
    return {"say": text}


WAIT = {"wait": True}


def test_menu_branches_run_side_by_side(hotline: Hotline) -> None:
    scenarios = {
        # Silence throughout: Mandarin, the area menu twice, then the general queue.
        # (Call seconds pass faster than real ones: a loaded machine spends more of them per
        # webhook, so each caller stays well past what their branch needs.)
        "silent": ((WAIT, WAIT, WAIT), {"hangup_after": 300}),
        # English, labor by key, two intake answers, then waiting until the caller gives up.
        "labor": ((press("2"), press("2"), press("1"), press("2")), {"hangup_after": 300}),
        # An unknown key at the language menu, then English and the general area.
        "bad_language_key": ((press("5"), press("2"), press("0")), {"hangup_after": 250}),
        # A key that is no area, then labor.
        "bad_area_key": ((press("2"), press("7"), press("2"), press("1"), press("1")), {}),
        # Labor by speech.
        "speech": ((press("2"), say("my boss hasn't paid my wages for three months")), {}),
        # The danger key at the greeting goes straight to the crisis line.
        "danger_key": ((press("9"),), {}),
        # Crisis words at the area menu do the same.
        "crisis_words": ((press("2"), say("I don't want to live anymore, I want to end it")), {}),
        # Corporate is closed in this config: the caller hears the hours and a goodbye.
        "closed": ((press("2"), press("6"), press("1")), {}),
        # The danger key while waiting leaves the queue for the crisis line.
        "danger_while_waiting": ((press("2"), press("0"), press("9")), {}),
    }
    with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
        started = {
            name: hotline.start(*steps, **{"hangup_after": 600, **options})
            for name, (steps, options) in scenarios.items()
        }
        done = dict(zip(started, pool.map(hotline.finish, started.values()), strict=True))

    for name, transcript in done.items():
        failed = [w for w in webhooks(transcript) if w["status"] != 200]
        assert failed == [], f"{name}: {failed}"
        assert transcript["outcome"]["errors"] == [], name

    silent = done["silent"]
    # The greeting opens with each language's short line (English in English), then the
    # Mandarin disclaimer.
    assert heard(silent)[:3] == [
        hotline.prompt("greeting_open", "zh"),
        hotline.prompt("greeting_open", "en"),
        hotline.prompt("greeting", "zh"),
    ]
    assert hotline.prompt("area_intro", "zh") in heard(silent)
    # Silence twice at the area menu is never a dead end: a general consultant takes the call.
    assert heard(silent).count(hotline.prompt("area_intro", "zh")) == 2
    assert hotline.prompt("to_general", "zh") in heard(silent)
    assert silent["outcome"]["queues"] == ["general"]

    labor = done["labor"]
    # Having chosen English, the caller hears the disclaimer in English before the area menu.
    assert heard(labor).index(hotline.prompt("greeting", "en")) < heard(labor).index(
        hotline.prompt("area_intro", "en")
    )
    assert hotline.prompt("area_chosen", "en", name="work, wages and social insurance") in heard(
        labor
    )
    assert labor["outcome"]["queues"] == ["labor"]
    assert labor["outcome"]["hung_up_in"] == "queue labor"
    assert hotline.prompt("wait_next", "en") in heard(labor)
    (left,) = webhooks(labor, "/voice/queue-result")
    assert left["purpose"] == "enqueue-action" and left["status"] == 200

    bad_language = done["bad_language_key"]
    assert hotline.prompt("invalid_key", "zh") in heard(bad_language)
    assert heard(bad_language).count(hotline.prompt("language_menu", "en")) == 2
    assert bad_language["outcome"]["queues"] == ["general"]

    bad_area = done["bad_area_key"]
    assert hotline.prompt("area_intro", "en") in heard(bad_area)
    assert bad_area["outcome"]["queues"] == ["labor"]
    assert len(webhooks(bad_area, "/voice/area")) == 2

    assert done["speech"]["outcome"]["queues"] == ["labor"]

    crisis_line = hotline.config["crisis"]["numbers"]["zh"]
    for name in ("danger_key", "crisis_words", "danger_while_waiting"):
        outcome = done[name]["outcome"]
        assert [b["number"] for b in outcome["bridged_to"]] == [crisis_line], name
        assert outcome["crisis"] is True, name
    assert hotline.prompt("crisis_intro", "zh") in heard(done["danger_key"])
    assert hotline.prompt("crisis_intro", "en") in heard(done["crisis_words"])
    waiting = done["danger_while_waiting"]
    assert waiting["outcome"]["queues"] == ["general"]
    assert any(e["kind"] == "dequeued" and e["result"] == "leave" for e in waiting["entries"])

    closed = heard(done["closed"])
    assert any(
        text.startswith("Consultations on companies and compliance are closed") for text in closed
    )
    assert closed[-1] == hotline.prompt("goodbye", "en")
    assert done["closed"]["outcome"]["queues"] == []


def test_forged_and_unsigned_requests_are_rejected(hotline: Hotline) -> None:
    transcript = hotline.call(press("2"), forge_signature=True, hangup_after=200)

    statuses = [(w["path"], w["status"]) for w in webhooks(transcript)]
    assert statuses[0] == ("/voice", 403)
    # The number's fallback is the static crisis fallback the carrier hosts apart from the app.
    assert ("/carrier/bins/fallback", 200) in statuses
    assert not [path for path, status in statuses if path.startswith("/voice") and status != 403]
    assert heard(transcript)[0] == hotline.prompt("system_down", "zh")
    unsigned = requests.post(
        f"{hotline.app_url}/voice",
        data={"CallSid": "CA" + "1" * 32, "From": CALLER, "To": DEMO_HOTLINE_NUMBER},
        timeout=5,
    )
    assert unsigned.status_code == 403


def test_duplicated_status_callbacks_are_taken_once(hotline: Hotline) -> None:
    snapshot = hotline.faults({"callback_duplicate": 1.0})
    assert snapshot["plan"]["callback_duplicate"] == 1.0
    try:
        transcript = hotline.call(press("9"))
    finally:
        injected = hotline.faults({})
    status = webhooks(transcript, "/voice/status")
    assert [w["purpose"] for w in status] == ["status", "status (duplicate)"]
    assert all(w["status"] == 200 for w in status)
    assert transcript["outcome"]["bridged_to"]
    assert injected["injected"]["callback_duplicate"] == 0  # counts reset with the new plan


def test_rest_errors_and_a_slow_webhook(hotline: Hotline) -> None:
    gateway = Gateway(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, hotline.carrier_url, DEMO_HOTLINE_NUMBER)
    call_sid = hotline.start(press("2"), press("0"), hangup_after=5000)
    poll(
        lambda: requests.get(
            f"{hotline.carrier_url}/carrier/calls/{call_sid}", auth=AUTH, timeout=5
        ).json()["outcome"]["queues"],
        CALL_DEADLINE_S,
        "the caller to wait in the queue",
    )
    hotline.faults({"rest_500": 1.0, "limits": {"rest_500": 1}})
    with pytest.raises(GatewayError) as caught:
        gateway.update_call(call_sid, status="completed")
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (500, 20500, True)
    gateway.update_call(call_sid, status="completed")
    transcript = hotline.finish(call_sid)
    assert transcript["outcome"]["ended_by"] == "api"
    assert transcript["outcome"]["hung_up_in"] == "queue general"

    hotline.faults({"webhook_timeout": 1.0, "limits": {"webhook_timeout": 1}})
    try:
        slow = hotline.call(press("2"), press("0"), hangup_after=200)
    finally:
        hotline.faults({})
    first, fallback = webhooks(slow)[:2]
    assert (first["path"], first["failure"]) == ("/voice", "timeout")
    # The static crisis fallback, hosted by the carrier as production hosts it apart from the app.
    assert (fallback["path"], fallback["status"]) == ("/carrier/bins/fallback", 200)
    assert heard(slow)[:2] == [hotline.prompt("system_down", lang) for lang in ("zh", "en")]
    crisis_line = hotline.config["crisis"]["numbers"]["zh"]
    assert [b["number"] for b in slow["outcome"]["bridged_to"]] == [crisis_line]
    assert slow["outcome"]["queues"] == []

    exchanges = requests.get(f"{hotline.carrier_url}/carrier/requests", auth=AUTH, timeout=5)
    problems = [p for exchange in exchanges.json() for p in problems_of(exchange)]
    assert problems == []

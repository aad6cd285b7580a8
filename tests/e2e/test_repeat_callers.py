"""A repeat caller through the carrier: the first call is answered and given a note and an
outcome at wrap-up; the same number's second call is announced in the agent's whisper as the
second call, and the desk's API lists the first one for the agent over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from queues import events
from queues.repeat_callers import CallerHistory
from tests.e2e.harness import CALLER, Hotline, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import api_user, heard, open_config, roster, specialist

pytestmark = pytest.mark.e2e

AGENT_PHONE = "+8613900000701"
AGENT = "contract_repeat"
ROSTER = roster(specialist(AGENT, AGENT_PHONE, "contract"))
PHONES = {
    # Accepts with 1 and hangs up 100 call seconds after answering: 3 s at the test's clock, so
    # that the caller reaches the conference before the agent leaves it, even on a busy machine.
    AGENT_PHONE: {"name": AGENT, "role": "agent", "answer_after": 1, "press": ["1"], "stay": 100},
}


def repeat_config() -> dict[str, Any]:
    """Every area open, short wrap-ups, no survey (the agent's hang-up ends the call)."""
    return open_config(wrap_up_s=1, survey=False)


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with one contract agent available."""
    home = tmp_path_factory.mktemp("repeat")
    phones = write_yaml(home / "phones.yaml", PHONES)
    with serving(home, repeat_config(), roster=ROSTER, phones=phones, time_scale="0.03") as run:
        yield run


def agent_legs(hotline: Hotline) -> list[dict[str, Any]]:
    """The transcripts of the agent phone's legs the hotline placed, oldest first."""
    placed = [c for c in hotline.calls() if c["to"] == AGENT_PHONE and c["direction"] != "inbound"]
    return [hotline.transcript(c["call_sid"]) for c in placed]


def test_a_second_call_from_the_same_number_shows_the_first(hotline: Hotline) -> None:
    redis = hotline.redis()
    agent = api_user(redis, "repeat_agent", "agent", agent_id=AGENT)
    desk = f"{hotline.app_url}/api/v1/agents/{AGENT}/call"

    # First call: Mandarin, contract (key 3), one intake answer; the agent takes it.
    first_sid = hotline.start({"press": "1"}, {"press": "3"}, {"press": "1"}, hangup_after=400)
    first = hotline.finish(first_sid)
    assert [b["name"] for b in first["outcome"]["bridged_to"]] == [AGENT]
    whispers = [heard(leg) for leg in agent_legs(hotline)]
    assert len(whispers) == 1
    repeat_line = hotline.prompt("whisper_repeat", "zh", count="2").split("，")[0]
    assert not any(repeat_line in text for text in whispers[0])

    # Wrap-up at the desk: a note and an outcome, over HTTP with the agent's token (not the
    # follow-up outcome: its callback task would ring the agent before the second call).
    view = requests.get(desk, headers=agent, timeout=5).json()["call"]
    assert view["call_sid"] == first_sid and view["history"] == []
    wrap = {"reservation": view["reservation"], "note": "借条纠纷，建议起诉", "outcome": "nope"}
    refused = requests.post(f"{desk}/note", json=wrap, headers=agent, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "outcome"
    wrap["outcome"] = "lawyer"
    saved = requests.post(f"{desk}/note", json=wrap, headers=agent, timeout=5)
    assert saved.status_code == 200, saved.text
    told = [e for e in events.recent(redis, 2000) if e.get("kind") == "outcome"]
    assert [(e["call"], e["outcome"], e.get("follow_up")) for e in told] == [
        (first_sid, "lawyer", None)
    ]

    # The worker keeps the ended call in the caller's history, outcome and note included.
    history = CallerHistory(redis)
    digest = history.digest(CALLER)

    def kept() -> list[Any] | None:
        calls = history.earlier_calls(digest, time.time())
        return calls if calls and calls[0].outcome == "lawyer" and calls[0].note else None

    [earlier] = poll(kept, 20, "the first call in the caller's history")
    assert (earlier.call_sid, earlier.area, earlier.agent) == (first_sid, "contract", AGENT)

    # Second call from the same number: the whisper says it is the second call.
    second_sid = hotline.start({"press": "1"}, {"press": "3"}, {"press": "1"}, hangup_after=400)
    second = hotline.finish(second_sid)
    assert [b["name"] for b in second["outcome"]["bridged_to"]] == [AGENT]
    legs = agent_legs(hotline)
    assert len(legs) == 2
    said = heard(legs[-1])
    announced = hotline.prompt("whisper_repeat", "zh", count="2")
    assert announced in said, said
    # Said before the usual whisper, so the agent knows before the details.
    whisper = next(i for i, text in enumerate(said) if text.startswith("新来电"))
    assert said.index(announced) < whisper

    # The desk, for the agent, over HTTP: the second call, with the first listed before it.
    view = requests.get(desk, headers=agent, timeout=5).json()["call"]
    assert view["call_sid"] == second_sid
    [shown] = view["history"]
    assert (shown["call_sid"], shown["area"], shown["agent"], shown["outcome"]) == (
        first_sid,
        "contract",
        AGENT,
        "lawyer",
    )
    # The agent wrote that note: it is theirs to read again.
    assert shown["note"] == "借条纠纷，建议起诉" and shown["summary"]
    assert "rating" not in shown

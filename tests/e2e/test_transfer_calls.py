"""Transfers of a live call by the agent's phone, through the stand-in: * then 7, the area's key,
then 1 warm or 2 cold. A family caller transferred warm to a labor agent is never alone (hold
words and music from the transfer until the labor agent joins); a cold transfer leaves the caller
in the new area's waiting room; a warm transfer nobody takes goes back to the first agent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from queues import events, sealing
from queues.calls import CallStore
from queues.notes import CallNotes
from queues.records.gather import call_row
from tests.e2e.harness import Hotline, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import (
    agent_kinds,
    heard,
    leg_to,
    open_config,
    press,
    roster,
    specialist,
)

pytestmark = pytest.mark.e2e

FAMILY_WARM, LABOR_TAKES = "+8613900000601", "+8613900000602"
CONTRACT_COLD, CRIMINAL_TAKES = "+8613900000603", "+8613900000604"
TRAFFIC_BACK = "+8613900000605"
HOLD_MUSIC = "https://music.example.org/hold.mp3"
NOTE = "房租押金纠纷，其实是劳动合同问题"


# Nobody takes corporate calls: the transfer there times out.
ROSTER = roster(
    specialist("family_warm", FAMILY_WARM, "family"),
    specialist("labor_takes", LABOR_TAKES, "labor"),
    specialist("contract_cold", CONTRACT_COLD, "contract"),
    specialist("criminal_takes", CRIMINAL_TAKES, "criminal"),
    specialist("traffic_back", TRAFFIC_BACK, "traffic"),
)
PHONES = {
    # Accepts, 4 s into the call presses *, then 7 (transfer), 2 (labor), 1 (warm).
    FAMILY_WARM: {"name": "family_warm", "role": "agent", "answer_after": 1,
                  "press": ["1", "7", "2", "1"], "star_after": 4, "stay": 900},
    LABOR_TAKES: {"name": "labor_takes", "role": "agent", "answer_after": 1, "press": ["1"],
                  "stay": 900},
    # Accepts, then * 7, 5 (criminal), 2 (cold).
    CONTRACT_COLD: {"name": "contract_cold", "role": "agent", "answer_after": 1,
                    "press": ["1", "7", "5", "2"], "star_after": 4, "stay": 900},
    CRIMINAL_TAKES: {"name": "criminal_takes", "role": "agent", "answer_after": 1,
                     "press": ["1"], "stay": 900},
    # Accepts, then * 7, 6 (corporate, where nobody is), 1 (warm).
    TRAFFIC_BACK: {"name": "traffic_back", "role": "agent", "answer_after": 1,
                   "press": ["1", "7", "6", "1"], "star_after": 4, "stay": 900},
}  # fmt: skip


def transfer_config() -> dict[str, Any]:
    """Every area open and unrecorded, short wrap-ups, hold music, a 15 s transfer time-out."""
    config = open_config(wrap_up_s=2)
    for area in config["areas"].values():
        area.pop("recording", None)
    config["queue"]["hold_music_url"] = HOLD_MUSIC
    config["transfer"] = {"timeout_s": 15, "key": "7"}
    return config


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with its five agents available."""
    home = tmp_path_factory.mktemp("transfers")
    phones = write_yaml(home / "phones.yaml", PHONES)
    with serving(home, transfer_config(), roster=ROSTER, phones=phones, time_scale="0.05") as run:
        yield run


def pressed(transcript: dict[str, Any]) -> list[str]:
    """The keys a party pressed, in order."""
    return [e["keys"] for e in transcript["entries"] if e["kind"] == "pressed"]


def hold_spans(transcript: dict[str, Any]) -> list[tuple[int, int]]:
    """Index pairs of each hold's start and end in a transcript's entries."""
    entries = transcript["entries"]
    starts = [i for i, e in enumerate(entries) if e["kind"] == "hold" and e["action"] == "started"]
    ends = [i for i, e in enumerate(entries) if e["kind"] == "hold" and e["action"] == "ended"]
    return list(zip(starts, ends, strict=True))


def call_events(hotline: Hotline, call_sid: str) -> list[dict[str, str]]:
    """The events of one call, oldest first."""
    found = events.recent(hotline.redis(), count=5000)
    return [e for e in reversed(found) if e.get("call") == call_sid]


def test_a_family_caller_transferred_warm_to_labor_is_never_alone(hotline: Hotline) -> None:
    # Mandarin, family (area key 1), two intake answers; the caller stays 240 s, long enough
    # for the transfer and the labor agent (the stand-in runs 20 times faster than the app).
    caller = hotline.start(press("1"), press("1"), press("2"), press("2"), hangup_after=240)
    # The family agent's note so far, as their desk would have kept it.
    CallNotes(hotline.redis()).write(caller, "family_warm", NOTE, time.time())

    family = leg_to(hotline, FAMILY_WARM)
    assert pressed(family) == ["1", "*", "7", "2", "1"]
    assert hotline.prompt("agent_transfer_warm", "zh") in heard(family)
    # Stayed in the conference until the labor agent accepted, then told and gone.
    assert hotline.prompt("agent_transfer_done", "zh") in heard(family)
    assert hotline.prompt("agent_transfer_back", "zh") not in heard(family)

    labor = leg_to(hotline, LABOR_TAKES)
    family_name = hotline.config["areas"]["family"]["name"]["zh"]
    whisper = hotline.prompt(
        "whisper_transfer", "zh", area=family_name, agent="family_warm", note=NOTE
    )
    assert whisper in heard(labor)
    assert pressed(labor) == ["1"]

    done = hotline.finish(caller)
    entries = done["entries"]
    spans = hold_spans(done)
    assert len(spans) == 1
    start, end = spans[0]
    on_hold = entries[start:end]
    hold_words = hotline.prompt("transfer_hold", "zh")
    assert [e for e in on_hold if e["kind"] == "heard" and e["text"] == hold_words]
    assert [e for e in on_hold if e["kind"] == "played" and HOLD_MUSIC in str(e)]
    # Never silence: words or music follow one another with no gap longer than one tune.
    sounds = [entries[start]] + [e for e in on_hold if e["kind"] in ("heard", "played")]
    sounds.append(entries[end])
    gaps = [b["t"] - a["t"] for a, b in zip(sounds, sounds[1:], strict=False)]
    assert max(gaps) <= 15, gaps
    # The hold ended as the caller went to the labor agent, who was there.
    names = [b["name"] for b in done["outcome"]["bridged_to"]]
    assert names[-1] == "labor_takes" and "family_warm" in names

    kinds = [e["kind"] for e in call_events(hotline, caller)]
    assert kinds.count("transfer-start") == 1 and kinds.count("transfer-done") == 1
    assert "transfer-back" not in kinds
    # Both agents' records: the family agent wrapped up after the accept, the labor agent
    # after the call; the call is answered once, never abandoned.
    family_kinds = agent_kinds(hotline, "family_warm")
    assert "wrap-up" in family_kinds
    poll(lambda: "wrap-up" in agent_kinds(hotline, "labor_takes"), 20, "the labor wrap-up")
    assert "abandoned" not in kinds
    record = CallStore(hotline.redis()).get(caller)
    assert record is not None and record.agent == "labor_takes"
    raw = hotline.redis().hgetall(f"hotline:call:{caller}")
    assert raw[b"transferred_from"] == b"family_warm"
    assert raw[b"transferred_to"] == b"labor_takes"
    # The reports' row: one call, answered (not abandoned, not a second call), by the last agent.
    row = poll(lambda: call_row(hotline.redis(), caller, sealing.current()), 20, "the row")
    assert (row["outcome"], row["agent"], row["area"]) == ("answered", "labor_takes", "family")


def test_a_cold_transfer_leaves_the_caller_in_the_new_areas_waiting_room(
    hotline: Hotline,
) -> None:
    # Mandarin, contract (area key 3), one intake answer.
    caller = hotline.start(press("1"), press("3"), press("1"), hangup_after=240)

    contract = leg_to(hotline, CONTRACT_COLD)
    assert pressed(contract) == ["1", "*", "7", "5", "2"]
    assert hotline.prompt("agent_transfer_cold", "zh") in heard(contract)
    criminal = leg_to(hotline, CRIMINAL_TAKES)
    contract_name = hotline.config["areas"]["contract"]["name"]["zh"]
    assert any(
        text.startswith(
            hotline.prompt(
                "whisper_transfer", "zh", area=contract_name, agent="contract_cold", note="-"
            )
        )
        for text in heard(criminal)
    )

    done = hotline.finish(caller)
    criminal_name = hotline.config["areas"]["criminal"]["name"]["zh"]
    assert hotline.prompt("transfer_cold", "zh", area=criminal_name) in heard(done)
    names = [b["name"] for b in done["outcome"]["bridged_to"]]
    assert names == ["contract_cold", "criminal_takes"]
    kinds = [e["kind"] for e in call_events(hotline, caller)]
    assert kinds.count("transfer-start") == 1 and kinds.count("transfer-done") == 1
    # The first agent's wrap-up started when they let the caller go, before the next accepted.
    contract_kinds = agent_kinds(hotline, "contract_cold")
    assert "wrap-up" in contract_kinds


def test_a_warm_transfer_nobody_takes_goes_back_to_the_first_agent(hotline: Hotline) -> None:
    # Mandarin, traffic (area key 4), two intake answers.
    caller = hotline.start(press("1"), press("4"), press("1"), press("1"), hangup_after=600)

    traffic = leg_to(hotline, TRAFFIC_BACK)
    assert pressed(traffic) == ["1", "*", "7", "6", "1"]
    said = heard(traffic)
    assert hotline.prompt("agent_transfer_warm", "zh") in said
    # Told when the time ran out, and back with the caller until they hung up.
    assert hotline.prompt("agent_transfer_back", "zh") in said
    assert hotline.prompt("agent_call_ended", "zh") in said

    done = hotline.finish(caller)
    spans = hold_spans(done)
    assert len(spans) == 1
    start, end = spans[0]
    on_hold = done["entries"][start:end]
    assert [e for e in on_hold if e["kind"] == "heard"]
    # Off hold with the first agent again: bridged to nobody else.
    assert {b["name"] for b in done["outcome"]["bridged_to"]} == {"traffic_back"}
    kinds = [e["kind"] for e in call_events(hotline, caller)]
    assert kinds.count("transfer-start") == 1 and kinds.count("transfer-back") == 1
    assert "transfer-done" not in kinds
    assert "abandoned" not in kinds

"""The stand-in's hearing rules (Twilio's media mixing in a conference), the talk lines of a
script or phone, and how the transcript renders lines said and heard in a conference."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carrier.hearing import hears, listeners
from carrier.network import Conference, Participant
from carrier.parties import Line, Script, phone_from_mapping
from carrier.transcript import render

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
CALLER, AGENT, SUPERVISOR = ("CA" + digit * 32 for digit in "123")


def person(sid: str, **state: object) -> Participant:
    """A participant in some state (muted, hold, coaching, call_sid_to_coach)."""
    return Participant(call_sid=sid, created=NOW, updated=NOW, **state)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("supervisor", "caller_hears", "agent_hears"),
    [
        ({}, True, True),  # barge
        ({"coaching": True, "call_sid_to_coach": AGENT}, False, True),  # coach
        ({"muted": True}, False, False),  # listen
        ({"hold": True}, False, False),
        ({"muted": True, "coaching": True, "call_sid_to_coach": AGENT}, False, False),
    ],
)
def test_who_hears_the_supervisor(
    supervisor: dict[str, object], caller_hears: bool, agent_hears: bool
) -> None:
    speaker = person(SUPERVISOR, **supervisor)

    assert hears(speaker, person(CALLER)) is caller_hears
    assert hears(speaker, person(AGENT)) is agent_hears
    assert hears(speaker, speaker) is False


def test_a_coach_hears_everyone_and_a_held_party_nobody() -> None:
    coach = person(SUPERVISOR, coaching=True, call_sid_to_coach=AGENT)
    held = person(CALLER, hold=True)

    assert hears(person(CALLER), coach) and hears(person(AGENT), coach)
    assert not hears(person(AGENT), held)
    assert hears(person(AGENT), person(CALLER))


def test_nobody_hears_anything_before_the_conference_starts() -> None:
    conference = Conference("CF" + "0" * 32, "room", NOW, NOW)
    for sid in (CALLER, AGENT):
        conference.participants[sid] = person(sid)

    assert listeners(conference, conference.participants[CALLER]) == []
    conference.status = "in-progress"
    assert listeners(conference, conference.participants[CALLER]) == [
        conference.participants[AGENT]
    ]


def test_talk_lines_are_read_in_order_of_time_and_checked() -> None:
    script = Script.from_mapping(
        {"talk": [{"after": 30, "say": "later"}, {"after": 5, "say": "first"}]}
    )
    assert script.talk == (Line(5.0, "first"), Line(30.0, "later"))
    assert script.to_dict()["talk"] == [
        {"after": 5.0, "say": "first"},
        {"after": 30.0, "say": "later"},
    ]
    phone = phone_from_mapping("+8613700000001", {"talk": [{"after": 2, "say": "hello"}]})
    assert phone.party().script.talk == (Line(2.0, "hello"),)
    for bad in ({"after": -1, "say": "x"}, {"after": 1, "say": " "}, {"say": "x"}, "words"):
        with pytest.raises(ValueError):
            Script.from_mapping({"talk": [bad]})
    with pytest.raises(ValueError):
        Script.from_mapping({"talk": "not a list"})


def test_the_transcript_says_who_heard_a_line_and_from_whom() -> None:
    data = {
        "call_sid": AGENT,
        "from": "+861012348000",
        "to": "+8613900000001",
        "entries": [
            {"t": 5.0, "kind": "heard", "text": "Ask about the contract.", "from": SUPERVISOR,
             "label": "supervisor", "where": "conference"},
            {"t": 6.0, "kind": "said", "text": "Do you have a contract?", "where": "conference",
             "heard_by": [CALLER, SUPERVISOR]},
            {"t": 6.5, "kind": "said", "text": "Thank you.", "where": "conference",
             "heard_by": [CALLER, SUPERVISOR], "heard_by_labels": ["caller", "supervisor"]},
            {"t": 7.0, "kind": "said", "text": "Hello?", "where": "conference", "heard_by": [],
             "note": "on hold"},
            {"t": 8.0, "kind": "hold", "action": "started", "name": "room"},
        ],
        "outcome": {"summary": "bridged"},
    }  # fmt: skip
    lines = render(data).splitlines()

    assert lines[1].endswith(
        f"heard    Ask about the contract.  (from supervisor ({SUPERVISOR}) in the conference)"
    )
    assert lines[2].endswith(
        f"said     “Do you have a contract?”  (in the conference; heard by {CALLER}, {SUPERVISOR})"
    )
    assert lines[3].endswith("“Thank you.”  (in the conference; heard by caller, supervisor)")
    assert lines[4].endswith("said     “Hello?”  (in the conference; heard by nobody: on hold)")
    assert lines[5].endswith("hold     started in room")

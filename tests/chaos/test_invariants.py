"""The chaos suite's judges on made-up evidence: each catches the failure it is there for, and
passes a scenario that kept every promise."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.chaos.invariants import (
    MAX_WAIT_S,
    AgentStart,
    Evidence,
    Window,
    check_alerts,
    check_bookings,
    check_outcomes,
    check_waits,
    lived_outcomes,
)

T0 = 1_800_000_000.0
AGENT_URL = "http://127.0.0.1:5000/voice/agent/whisper?res="
_ids = itertools.count(1)


def event(kind: str, at: float, **fields: str) -> dict[str, str]:
    """One event of the stream, `at` seconds into the scenario."""
    return {"id": f"{int(T0 * 1000)}-{next(_ids)}", "kind": kind, "at": f"{T0 + at:.3f}", **fields}


def ring(reservation: str, leg: str, at: float, status: int = 201) -> dict[str, Any]:
    """The carrier's record of a ring for a reservation, `at` seconds into the scenario."""
    return {
        "method": "POST",
        "path": "/2010-04-01/Accounts/AC1/Calls.json",
        "status": status,
        "form": [["To", "+8613900000301"], ["Url", AGENT_URL + reservation]],
        "json": {"sid": leg} if status == 201 else {"code": 20500},
        "received_at": T0 + at,
    }


def transcript(*entries: dict[str, Any], **outcome: Any) -> dict[str, Any]:
    """A finished call's transcript."""
    base = {"bridged_to": [], "voicemail": None, "ended_by": "caller", "summary": "?"}
    return {"finished": True, "entries": list(entries), "outcome": {**base, **outcome}}


def evidence(**fields: Any) -> Evidence:
    """Evidence of a scenario with labor1 free at its start, 60 s long."""
    made = {
        "callers": {},
        "transcripts": {},
        "events": [],
        "exchanges": [],
        "alert_feed": [],
        "eligible": {"labor1": ({"labor"}, {"zh"}), "labor2": ({"labor"}, {"zh"})},
        "agents_at_start": {"labor1": AgentStart(present=True), "labor2": AgentStart(False)},
        "start": T0,
        "end": T0 + 60,
        "cool_down_s": 5,
        "time_scale": 0.02,
        "wrap_up_s": 3,
    }
    made.update(fields)
    return Evidence(**made)


def answered_by(name: str) -> dict[str, Any]:
    """A caller's transcript who talked to an agent."""
    return transcript(bridged_to=[{"name": name, "role": "agent"}])


# (a)


def test_a_caller_answered_and_counted_abandoned_has_two_outcomes() -> None:
    seen = evidence(
        callers={"CA1": "talking"},
        transcripts={"CA1": answered_by("labor1")},
        events=[event("bridged", 1, call="CA1", agent="labor1"), event("abandoned", 9, call="CA1")],
    )
    cell = check_outcomes(seen)
    assert not cell.ok and "counted abandoned" in cell.reasons[0]


def test_a_caller_the_hotline_hung_up_on_has_no_outcome() -> None:
    seen = evidence(
        callers={"CA1": "menu"},
        transcripts={"CA1": transcript(ended_by="app", summary="ended by app: Hangup")},
    )
    assert check_outcomes(seen).reasons == ["menu caller: no outcome (ended by app: Hangup)"]


def test_a_caller_left_waiting_in_routing_after_hanging_up_fails() -> None:
    seen = evidence(
        callers={"CA1": "waiting"},
        transcripts={"CA1": transcript()},
        stranded={"CA1": "waiting"},
    )
    assert not check_outcomes(seen).ok


def test_one_outcome_each_passes() -> None:
    crisis = transcript(
        {"kind": "webhook", "path": "/voice/crisis/whisper"},
        bridged_to=[{"name": "crisis1", "role": "agent"}],
    )
    seen = evidence(
        callers={"CA1": "talking", "CA2": "crisis", "CA3": "voicemail", "CA4": "menu"},
        transcripts={
            "CA1": answered_by("labor1"),
            "CA2": crisis,
            "CA3": transcript(voicemail={"seconds": 8}, ended_by="app"),
            "CA4": transcript(),
        },
        events=[event("bridged", 1, call="CA1", agent="labor1"), event("abandoned", 2, call="CA4")],
    )
    assert check_outcomes(seen).ok
    assert lived_outcomes(crisis) == ["crisis taker crisis1"]


# (b)


def test_a_caller_left_waiting_while_the_agent_is_free_fails() -> None:
    seen = evidence(
        callers={"CA1": "waiting"},
        events=[
            event("queued", 1, call="CA1", area="labor", language="zh"),
            event("offered", 20, call="CA1", agent="labor1", reservation="RS1"),
        ],
        exchanges=[ring("RS1", "CAleg", 20.1)],
    )
    cell, longest = check_waits(seen)
    assert not cell.ok and abs(longest - 19.1) < 0.01


def test_an_offer_whose_ring_never_goes_out_leaves_the_caller_waiting() -> None:
    seen = evidence(
        callers={"CA1": "menu"},
        events=[
            event("queued", 1, call="CA1", area="labor", language="zh"),
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("abandoned", 40, call="CA1", agent="labor1", reservation="RS1"),
        ],
    )
    cell, longest = check_waits(seen)
    assert not cell.ok and longest > MAX_WAIT_S


def test_a_caller_whose_agent_hung_up_waits_again_whatever_redis_says() -> None:
    # The ring went out and the agent's leg ended 2 s later (100 call seconds at 0.02), but the
    # miss only reached Redis 30 s on: the agent was free meanwhile.
    leg = transcript({"kind": "answered", "t": 50}, {"kind": "hangup", "t": 100, "by": "app"})
    seen = evidence(
        callers={"CA1": "ringing"},
        transcripts={"CAleg": leg},
        events=[
            event("queued", 1, call="CA1", area="labor", language="zh"),
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("timeout", 33, call="CA1", agent="labor1", reservation="RS1"),
        ],
        exchanges=[ring("RS1", "CAleg", 1)],
    )
    cell, longest = check_waits(seen)
    assert not cell.ok and abs(longest - 30) < 0.1


def test_waits_inside_the_faults_window_and_busy_agents_do_not_count() -> None:
    seen = evidence(
        callers={"CA1": "waiting", "CA2": "talking"},
        events=[
            # labor1 talks from 1 s to 30 s, then wraps up for 3 s; CA1 is rung at 35 s.
            event("queued", 1, call="CA2", area="labor", language="zh"),
            event("offered", 1, call="CA2", agent="labor1", reservation="RS2"),
            event("accepted", 1.5, call="CA2", agent="labor1", reservation="RS2"),
            event("queued", 2, call="CA1", area="labor", language="zh"),
            event("wrap-up", 30, call="CA2", agent="labor1", reservation="RS2", until=f"{T0 + 33}"),
            event("offered", 35, call="CA1", agent="labor1", reservation="RS1"),
        ],
        exchanges=[ring("RS2", "CAa", 1.1), ring("RS1", "CAb", 45)],
        # Ringing was impossible from 34 s to 44 s (the carrier's REST API failing).
        windows=[Window(T0 + 34, T0 + 44, "REST failing")],
    )
    cell, longest = check_waits(seen)
    assert cell.ok, cell.reasons
    assert abs(longest - 1) < 0.01


# (c)


def test_an_agent_offered_a_second_call_while_reserved_is_double_booked() -> None:
    seen = evidence(
        events=[
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("offered", 2, call="CA2", agent="labor1", reservation="RS2"),
        ]
    )
    cell = check_bookings(seen)
    assert not cell.ok and cell.reasons[0].startswith("labor1 offered RS2")


def unjoined(
    leg_entries: tuple[dict[str, Any], ...], *extra: dict[str, str], next_ring: float = 4.2
) -> Evidence:
    """labor1 accepts CA1 (RS1), their leg ends before the conference, then RS2 is offered."""
    return evidence(
        callers={"CA1": "ringing"},
        transcripts={"CAleg": transcript(*leg_entries), "CAleg2": transcript()},
        events=[
            event("queued", 1, call="CA1", area="labor", language="zh"),
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("accepted", 3, call="CA1", agent="labor1", reservation="RS1"),
            *extra,
            event("not-joined", 4, call="CA1", agent="labor1", reservation="RS1"),
            event("offered", 4, call="CA1", agent="labor1", reservation="RS2"),
        ],
        exchanges=[ring("RS1", "CAleg", 1), ring("RS2", "CAleg2", next_ring)],
    )


HUNG_UP = ({"kind": "answered", "t": 50}, {"kind": "hangup", "t": 140, "by": "carrier"})


def callback_then_next(step: str, next_at: float = 10.5, **fields: str) -> Evidence:
    """labor1 takes a callback (RS1) that reaches `step` at 10 s; CA2's RS2 is offered next."""
    return evidence(
        callers={"CA1": "talking", "CA2": "waiting"},
        events=[
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("accepted", 2, call="CA1", agent="labor1", reservation="RS1"),
            event("queued", 3, call="CA2", area="labor", language="zh"),
            event(step, 10, call="CA1", agent="labor1", reservation="RS1", **fields),
            event("offered", next_at, call="CA2", agent="labor1", reservation="RS2"),
        ],
        exchanges=[ring("RS1", "CAa", 1.1), ring("RS2", "CAb", next_at + 0.1)],
    )


def test_an_agent_who_left_a_callback_before_the_caller_answered_is_free_at_once() -> None:
    seen = callback_then_next("callback-agent-left")
    assert check_bookings(seen).ok, check_bookings(seen).reasons
    cell, longest = check_waits(seen)
    assert cell.ok, cell.reasons
    # Free from the callback's end, with no wrap-up, until the next ring went out.
    assert abs(longest - 0.6) < 0.01


@pytest.mark.parametrize("ending", ["callback-retry", "callback-closed"])
def test_an_agent_whose_callback_went_unanswered_wraps_up_then_is_free(ending: str) -> None:
    # Still on the line hearing that the caller was not reached: busy until the wrap-up ends.
    seen = callback_then_next(ending, next_at=13.5, until=f"{T0 + 13:.3f}")
    assert check_bookings(seen).ok, check_bookings(seen).reasons
    cell, longest = check_waits(seen)
    assert cell.ok, cell.reasons
    assert abs(longest - 0.6) < 0.01  # from the wrap-up's end, not from the callback's


def test_an_agent_offered_the_next_call_while_a_callback_connects_is_double_booked() -> None:
    cell = check_bookings(callback_then_next("callback-connected"))
    assert not cell.ok and cell.reasons[0].startswith("labor1 offered RS2")


def test_an_agent_whose_leg_ended_before_the_conference_may_be_offered_again() -> None:
    seen = unjoined(HUNG_UP)
    assert check_bookings(seen).ok
    assert check_waits(seen)[0].ok


def test_a_caller_whose_agent_never_joined_waits_again_while_the_agent_is_free() -> None:
    # labor1's leg ended at 3.8 s (140 call seconds at 0.02), wrap-up counted to 6.8 s, and the
    # next ring only at 20 s: the caller waited again 13.2 s with labor1 free.
    cell, longest = check_waits(unjoined(HUNG_UP, next_ring=20))
    assert not cell.ok and abs(longest - 13.2) < 0.1


def test_an_offer_ended_unjoined_while_the_agents_leg_is_up_is_double_booking() -> None:
    seen = unjoined(({"kind": "answered", "t": 50},))
    assert check_bookings(seen).reasons == ["labor1 freed from RS1 with their leg still up"]


def test_an_offer_ended_unjoined_after_the_call_was_bridged_fails() -> None:
    bridged = event("bridged", 3.5, call="CA1", agent="labor1", reservation="RS1")
    seen = unjoined(HUNG_UP, bridged)
    assert check_bookings(seen).reasons == ["labor1 freed from RS1, a call they were bridged on"]


def test_a_pause_after_rings_that_never_reached_the_carrier_fails() -> None:
    seen = evidence(
        events=[
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("timeout", 21, call="CA1", agent="labor1", reservation="RS1", misses="1"),
            event("offered", 22, call="CA1", agent="labor1", reservation="RS2"),
            event("timeout", 42, call="CA1", agent="labor1", reservation="RS2", misses="2"),
            event("paused", 42, agent="labor1", misses="2", reason="timeout"),
        ],
        exchanges=[ring("RS1", "", 1.1, status=500), ring("RS2", "", 22.1, status=500)],
    )
    cell = check_bookings(seen)
    assert not cell.ok
    assert "labor1 paused after a timeout: the ring never reached the carrier" in cell.reasons


def test_a_miss_charged_to_an_agent_who_pressed_1_fails() -> None:
    leg = transcript({"kind": "answered", "t": 2}, {"kind": "pressed", "keys": "1", "t": 5})
    seen = evidence(
        transcripts={"CAleg": leg},
        events=[
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("no-answer", 3, call="CA1", agent="labor1", reservation="RS1", misses="1"),
        ],
        exchanges=[ring("RS1", "CAleg", 1.1)],
    )
    assert check_bookings(seen).reasons == ["labor1 charged a no-answer: the agent pressed 1"]


def test_real_misses_and_a_pause_after_them_pass() -> None:
    unanswered = transcript({"kind": "hangup", "t": 18, "by": "callee", "status": "no-answer"})
    declined = transcript({"kind": "answered", "t": 2}, {"kind": "pressed", "keys": "2", "t": 5})
    seen = evidence(
        transcripts={"CAa": unanswered, "CAb": declined},
        events=[
            event("offered", 1, call="CA1", agent="labor1", reservation="RS1"),
            event("no-answer", 3, call="CA1", agent="labor1", reservation="RS1", misses="1"),
            event("offered", 9, call="CA1", agent="labor1", reservation="RS2"),
            event("declined", 10, call="CA1", agent="labor1", reservation="RS2", misses="2"),
            event("paused", 10, agent="labor1", misses="2", reason="declined"),
        ],
        exchanges=[ring("RS1", "CAa", 1.1), ring("RS2", "CAb", 9.1)],
    )
    assert check_bookings(seen).ok


# (d)


def test_a_condition_missing_from_the_feed_or_never_raised_fails() -> None:
    raised = event("alert", 5, alert="condition", condition="carrier_unreachable")
    seen = evidence(
        events=[raised],
        alert_feed=[],
        windows=[Window(T0 + 4, T0 + 10, "REST failing")],
        expected_conditions={"carrier_unreachable", "self_check:workers"},
    )
    reasons = check_alerts(seen).reasons
    assert "alert carrier_unreachable not in the alert feed" in reasons
    assert "self_check:workers never raised" in reasons


def test_a_crisis_caller_without_a_crisis_alert_fails() -> None:
    line = transcript(bridged_to=[{"name": "crisis line", "role": "crisis-line"}])
    seen = evidence(callers={"CA1": "crisis trigger"}, transcripts={"CA1": line})
    assert check_alerts(seen).reasons == [
        "crisis trigger caller's crisis call not in the alert feed"
    ]


def test_alerts_in_the_feed_pass() -> None:
    crisis = event("crisis", 3, call="CA1", trigger="danger_key")
    raised = event("alert", 5, alert="condition", condition="carrier_unreachable")
    line = transcript(bridged_to=[{"name": "crisis line", "role": "crisis-line"}])
    seen = evidence(
        callers={"CA1": "crisis trigger"},
        transcripts={"CA1": line},
        events=[crisis, raised],
        alert_feed=[crisis, raised],
        windows=[Window(T0 + 4, T0 + 10, "REST failing")],
        expected_conditions={"carrier_unreachable"},
    )
    assert check_alerts(seen).ok

"""The crisis rollover's transitions: agents, each line in turn, supervisors, the numbers."""

from __future__ import annotations

import pytest

from routing.crisis_rollover import (
    UNRECORDED_MAX_AGE_S,
    Do,
    Found,
    LineEnded,
    NoTransition,
    Position,
    Record,
    RedisDown,
    RingEnded,
    Stage,
    next_step,
    trigger_time,
)

LINES = ("+8612356", "+86110", "+86120")
NOW = 1_700_000_000.5
TRIGGER = Position(Stage.TRIGGER)
AGENTS = Position(Stage.AGENTS)
SUPERVISORS = Position(Stage.SUPERVISORS)


def rung(line: str) -> Record:
    """The record of a crisis line being dialled."""
    return Record("rung", {"target": line, "role": "line"})


def test_free_agents_are_rung_at_once():
    step = next_step(TRIGGER, Found(3), LINES, NOW)
    assert step.do is Do.RING_AGENTS
    assert step.records == () and step.close == ""


def test_nobody_free_dials_the_first_line_after_the_calm_words():
    step = next_step(TRIGGER, Found(0), LINES, NOW)
    assert (step.do, step.line, step.words, step.report_at) == (
        Do.DIAL_LINE,
        0,
        "crisis_intro",
        None,
    )
    assert step.records == (rung(LINES[0]),)


def test_redis_down_dials_the_first_line_at_once_and_has_it_report_back():
    step = next_step(TRIGGER, RedisDown(), LINES, NOW)
    # No calm words, and the trigger's time travels with the line's report.
    assert (step.do, step.line, step.words) == (Do.DIAL_LINE, 0, "")
    assert step.report_at == int(NOW)
    assert step.close == ""


@pytest.mark.parametrize(
    "event",
    [
        RingEnded("completed", taker="c3"),
        RingEnded("completed", bridged=True),
        RingEnded("completed", bridged=True, caller_hung_up=True),
    ],
)
def test_an_agent_who_talked_ends_the_path(event):
    step = next_step(AGENTS, event, LINES, NOW)
    assert (step.do, step.close) == (Do.GOODBYE, "agent")
    assert step.records == ()


def test_a_caller_who_hung_up_while_agents_rang_closes_the_incident():
    step = next_step(AGENTS, RingEnded("no-answer", caller_hung_up=True), LINES, NOW)
    assert (step.do, step.close) == (Do.NOTHING, "caller_hung_up")


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled", ""])
def test_no_agent_took_it_rolls_over_to_the_first_line_at_once(status):
    step = next_step(AGENTS, RingEnded(status), LINES, NOW)
    assert (step.do, step.line, step.words, step.close) == (Do.DIAL_LINE, 0, "", "")
    assert step.records == (
        Record("no_answer", {"role": "agent", "status": status}),
        Record("rollover", {"target": LINES[0], "reason": "no agent took it"}),
        rung(LINES[0]),
    )


def test_a_claim_without_a_completed_ring_is_not_a_talk():
    # Someone pressed 1 as the ring timed out: the caller was never bridged to them.
    step = next_step(AGENTS, RingEnded("no-answer", taker="c3"), LINES, NOW)
    assert step.do is Do.DIAL_LINE


@pytest.mark.parametrize("status", ["completed", "answered"])
def test_an_answered_line_ends_the_path(status):
    step = next_step(Position(Stage.LINE, 1), LineEnded(status), LINES, NOW)
    assert (step.do, step.close) == (Do.GOODBYE, "crisis_line")
    assert step.records == (Record("answered", {"target": LINES[1]}),)


def test_an_unanswered_line_rolls_over_to_the_next_with_words():
    step = next_step(Position(Stage.LINE, 0), LineEnded("busy"), LINES, NOW)
    assert (step.do, step.line, step.words, step.close) == (Do.DIAL_LINE, 1, "crisis_retry", "")
    assert step.records == (
        Record("no_answer", {"target": LINES[0], "status": "busy"}),
        Record("rollover", {"target": LINES[1]}),
        rung(LINES[1]),
    )


def test_the_last_line_failing_looks_up_the_supervisors():
    step = next_step(Position(Stage.LINE, 2), LineEnded("no-answer"), LINES, NOW)
    assert (step.do, step.close) == (Do.FIND_SUPERVISORS, "")
    assert step.records == (Record("no_answer", {"target": LINES[2], "status": "no-answer"}),)


def test_a_line_index_past_the_list_is_the_last_line():
    step = next_step(Position(Stage.LINE, 9), LineEnded("busy"), LINES, NOW)
    assert step.do is Do.FIND_SUPERVISORS


def test_supervisors_on_call_are_rung_else_the_numbers_are_given():
    assert next_step(SUPERVISORS, Found(2), LINES, NOW).do is Do.RING_SUPERVISORS
    nobody = next_step(SUPERVISORS, Found(0), LINES, NOW)
    assert (nobody.do, nobody.close) == (Do.GIVE_NUMBERS, "numbers_given")


@pytest.mark.parametrize(
    ("event", "do", "close"),
    [
        (RingEnded("completed", taker="s1"), Do.GOODBYE, "supervisor"),
        (RingEnded("completed", bridged=True), Do.GOODBYE, "supervisor"),
        (RingEnded("no-answer", caller_hung_up=True), Do.NOTHING, "caller_hung_up"),
        (RingEnded("no-answer"), Do.GIVE_NUMBERS, "numbers_given"),
        (RingEnded("completed"), Do.GIVE_NUMBERS, "numbers_given"),
    ],
)
def test_the_supervisors_ring_ending(event, do, close):
    step = next_step(SUPERVISORS, event, LINES, NOW)
    assert (step.do, step.close) == (do, close)


def test_one_line_only_goes_from_it_to_the_supervisors():
    step = next_step(Position(Stage.LINE, 0), LineEnded("failed"), LINES[:1], NOW)
    assert step.do is Do.FIND_SUPERVISORS


def test_the_whole_path_with_redis_down_still_reaches_a_line_and_then_the_numbers():
    # Redis down: nobody to ring, each line tried, nobody on call found, the numbers said.
    step = next_step(TRIGGER, RedisDown(), LINES, NOW)
    seen = [step.line]
    while step.do is Do.DIAL_LINE:
        step = next_step(Position(Stage.LINE, step.line), LineEnded("no-answer"), LINES, NOW)
        if step.do is Do.DIAL_LINE:
            seen.append(step.line)
    assert seen == [0, 1, 2]
    assert step.do is Do.FIND_SUPERVISORS
    assert next_step(SUPERVISORS, Found(0), LINES, NOW).do is Do.GIVE_NUMBERS


@pytest.mark.parametrize(
    ("at", "event"),
    [
        (TRIGGER, LineEnded("busy")),
        (TRIGGER, RingEnded("completed")),
        (AGENTS, Found(1)),
        (AGENTS, LineEnded("busy")),
        (Position(Stage.LINE, 0), RingEnded("completed")),
        (SUPERVISORS, RedisDown()),
    ],
)
def test_an_event_out_of_place_is_refused(at, event):
    with pytest.raises(NoTransition):
        next_step(at, event, LINES, NOW)


def test_no_lines_is_refused():
    with pytest.raises(ValueError):
        next_step(TRIGGER, Found(0), (), NOW)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (str(int(NOW) - 60), float(int(NOW) - 60)),
        (str(int(NOW - UNRECORDED_MAX_AGE_S) + 1), float(int(NOW - UNRECORDED_MAX_AGE_S) + 1)),
        (str(int(NOW) + 60), NOW),
        (str(int(NOW - UNRECORDED_MAX_AGE_S) - 1), NOW),
        ("", NOW),
        ("-5", NOW),
        ("12ab", NOW),
    ],
)
def test_a_late_record_believes_only_a_recent_trigger_time(raw, expected):
    assert trigger_time(raw, NOW) == expected

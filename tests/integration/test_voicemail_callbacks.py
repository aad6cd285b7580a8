"""A message's callback task joins the waiting room as a callback in one routing step, so no
match, whichever process makes it, ever finds it as a live call."""

from __future__ import annotations

import pytest
from rq import Queue

from queues import dispatch, events
from queues.agents import AgentBoard
from queues.matcher import Match, Matcher
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.waiting import WaitingRoom
from routing.roster import Agent, Roster, Shift
from tests.fixtures.app import Clock
from voicemail import callbacks
from voicemail.messages import READY, MessageStore

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32
CALLER = "+8613812345678"
SID = "RE" + "b" * 32
TASK = callbacks.task_id(SID)
ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))


def ready_message(redis, clock: Clock) -> None:
    """A processed labor message from a caller with a number, ready to be called back."""
    store = MessageStore(redis)
    assert store.register(
        SID, now=clock.now, call_sid=CALL, caller=CALLER, area="labor", language="zh",
        summary="拖欠工资三个月",
    )  # fmt: skip
    store.set_fields(SID, {"state": READY})


def free_labor_agent(app, redis, clock: Clock) -> None:
    """One labor agent on shift and available: free at the moment the task is queued."""
    agent = Agent(
        id="a02",
        name="Chen",
        phone="+8613900000002",
        languages=("zh",),
        skills={"labor": 3},
        shifts=ALWAYS,
    )
    board = AgentBoard(redis, app.config["HOTLINE"].routing)
    board.import_roster(Roster((agent,)), clock.now.timestamp() - 60, presence="available")


def offers_of(redis, call_sid: str) -> list[dict[str, str]]:
    """The offer events of a call, oldest first."""
    recent = reversed(events.recent(redis, 500))
    return [e for e in recent if e["kind"] == "offered" and e.get("call") == call_sid]


def test_a_free_agent_is_offered_the_message_as_a_callback(app, redis, clock):
    ready_message(redis, clock)
    free_labor_agent(app, redis, clock)

    with app.app_context():
        assert callbacks.callback_job(SID) == "queued"

    policy = app.config["HOTLINE"].routing
    queued = WaitingRoom(redis, policy).get(TASK)
    assert (queued.kind, queued.state) == ("callback", "reserved")
    offer = Reservations(redis, policy).get(queued.reservation)
    assert (offer.kind, offer.agent_id) == ("callback", "a02")
    assert WaitingRoom(redis, policy).callback_number(TASK) == CALLER
    assert Queue(dispatch.DISPATCH_QUEUE, connection=redis).job_ids == [f"ring-{offer.id}"]
    assert [e["callback"] for e in offers_of(redis, TASK)] == ["1"]
    (joined,) = [e for e in events.recent(redis) if e["kind"] == "queued"]
    assert joined["call"] == TASK and joined["callback"] == "1"


def test_a_match_right_after_the_task_joins_finds_a_callback_never_a_live_call(
    app, redis, clock, monkeypatch: pytest.MonkeyPatch
):
    # Another process (a sweep, an agent coming back) matches the free agent at the earliest
    # moment it can: straight after the task's first routing step, before the job goes on.
    ready_message(redis, clock)
    free_labor_agent(app, redis, clock)
    policy = app.config["HOTLINE"].routing
    other_process = Matcher(redis, policy)
    run = RoutingScript.run
    interleaved: list[Match | None] = []

    def run_then_match(self: RoutingScript, op: str, now: float, *args: object) -> list[str]:
        answer = run(self, op, now, *args)
        if op == "enqueue":
            interleaved.append(other_process.match_agent("a02", clock.now.timestamp()))
        return answer

    monkeypatch.setattr(RoutingScript, "run", run_then_match)
    with app.app_context():
        assert callbacks.callback_job(SID) == "queued"

    (match,) = interleaved
    assert match is not None and (match.call_sid, match.kind) == (TASK, "callback")
    offer = Reservations(redis, policy).get(match.reservation_id)
    assert offer.kind == "callback"
    # Accepting dials the number back; there is no caller leg to bridge.
    assert WaitingRoom(redis, policy).callback_number(TASK) == CALLER
    assert Reservations(redis, policy).accept(match.reservation_id, clock.now.timestamp()).changed
    assert WaitingRoom(redis, policy).get(TASK).state == "dialling"
    # The job's own match found the task taken: one offer, nothing more to ring.
    assert [e["reservation"] for e in offers_of(redis, TASK)] == [match.reservation_id]
    assert Queue(dispatch.DISPATCH_QUEUE, connection=redis).job_ids == []


def test_a_callback_joins_in_one_step_and_a_repeat_changes_nothing(app, redis, clock):
    policy = app.config["HOTLINE"].routing
    room = WaitingRoom(redis, policy)
    now = clock.now.timestamp()
    assert room.enqueue(TASK, area="labor", language="zh", now=now, callback_number=CALLER)
    assert room.get(TASK).kind == "callback" and room.callback_number(TASK) == CALLER
    assert not room.enqueue(TASK, area="labor", language="zh", now=now, callback_number=CALLER)
    # A live call already waiting is not turned into a callback by a stray enqueue.
    assert room.enqueue(CALL, area="labor", language="zh", now=now + 1)
    assert not room.enqueue(CALL, area="labor", language="zh", now=now + 2, callback_number=CALLER)
    assert room.get(CALL).kind == "call" and room.callback_number(CALL) is None
    # The waiting room's own callback (the caller presses 1) still converts a live call.
    assert room.to_callback(CALL, CALLER, now + 5)
    assert room.get(CALL).kind == "callback" and room.callback_number(CALL) == CALLER
    assert room.position(CALL) == 1  # its place kept, behind the earlier task

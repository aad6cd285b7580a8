"""A waiting caller's poll reads its place, free agents and talk times in one round trip."""

from __future__ import annotations

import pytest

from queues import keys
from queues.agents import AgentBoard
from queues.script import RoutingScript
from queues.waiting import Standing, WaitingRoom
from routing.matching import default_policy
from routing.roster import Agent, Roster, Shift

pytestmark = pytest.mark.redis

AREAS = ["family", "labor", "general"]
NOW = 1_796_176_800.0
ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))


@pytest.fixture
def room_and_board(redis):
    policy = default_policy(AREAS)
    script = RoutingScript(redis, policy)
    board = AgentBoard(redis, policy, script=script)
    # One free agent, for family only: the labor callers below stay waiting.
    agent = Agent(
        id="a1", name="a1", phone="+8613900000001", languages=("zh",), skills={"family": 2},
        shifts=ALWAYS,
    )  # fmt: skip
    board.import_roster(Roster((agent,)), NOW, presence="available")
    room = WaitingRoom(redis, policy, script=script)
    for offset, sid in enumerate(("CA1", "CA2", "CA3")):
        room.enqueue(sid, area="labor", language="zh", now=NOW + offset)
    redis.lpush(keys.handle_times("labor"), "240", "300")
    return room, board


def test_standing_says_what_position_free_count_and_talk_times_say(room_and_board):
    room, board = room_and_board
    for sid in ("CA1", "CA2", "CA3"):
        for area in ("labor", "family"):
            standing = room.standing(sid, area, "zh", counting=board.free_pools(area, "zh"))
            assert standing == Standing(
                ahead=room.position(sid),
                handle_times=room.recent_handle_times(area),
                counted=board.free_count(area, "zh"),
            )
    assert room.standing("CA3", "labor", "zh").ahead == 2
    # The URL names another area than the queue the call is kept in: the kept queue counts.
    assert room.standing("CA2", "family", "zh", counting=board.free_pools("family", "zh")) == (
        Standing(ahead=1, handle_times=[], counted=1)
    )


def test_standing_of_a_call_not_waiting_has_no_place(room_and_board):
    room, _board = room_and_board
    assert room.standing("CA-unknown", "labor", "zh").ahead is None
    room.leave("CA1", NOW + 10, outcome="abandoned")
    assert room.standing("CA1", "labor", "zh").ahead is None
    assert room.standing("CA2", "labor", "zh").ahead == 0

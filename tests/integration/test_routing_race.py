"""Many processes racing arrivals, hang-ups, accepts and presence flips on one real Redis.

Whatever the interleaving: no agent ever holds two live reservations, no call two, and every
call ends in exactly one outcome.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis

from queues import events, keys
from queues.agents import AgentBoard
from queues.matcher import Matcher
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.sweep import sweep
from queues.waiting import WaitingRoom
from routing.matching import default_policy
from routing.roster import Agent, Roster, Shift

pytestmark = pytest.mark.redis

AREAS = ["family", "labor", "general"]
START = 1_796_176_800.0
WORKERS = 3
ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))
LIVE = ("offered", "accepted")

# A consistent picture of every reservation, agent and call, read in one atomic step.
_SNAPSHOT = """
local out = {}
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do
  local r = redis.call('HMGET', key, 'state', 'agent', 'call')
  out[#out + 1] = {'r', key, r[1] or '', r[2] or '', r[3] or ''}
end
for _, key in ipairs(redis.call('KEYS', ARGV[2] .. '*')) do
  local a = redis.call('HMGET', key, 'activity', 'reservation')
  out[#out + 1] = {'a', key, a[1] or '', a[2] or ''}
end
for _, key in ipairs(redis.call('KEYS', ARGV[3] .. '*')) do
  local c = redis.call('HMGET', key, 'state', 'reservation')
  out[#out + 1] = {'c', key, c[1] or '', c[2] or ''}
end
return out
"""


def check_snapshot(redis: Redis) -> None:
    """Read everything at one instant and assert the one-to-one rules."""
    rows = redis.eval(_SNAPSHOT, 0, keys.reservation(""), keys.agent(""), keys.queued_call(""))
    rows = [[part.decode() for part in row] for row in rows]
    live = [row for row in rows if row[0] == "r" and row[2] in LIVE]
    by_agent = Counter(row[3] for row in live)
    by_call = Counter(row[4] for row in live)
    assert max(by_agent.values(), default=0) <= 1, by_agent
    assert max(by_call.values(), default=0) <= 1, by_call
    offered = {row[1].removeprefix(keys.reservation("")) for row in live if row[2] == "offered"}
    for row in rows:
        if row[0] == "a" and row[2] == "reserved":
            assert row[3] in offered, row
        if row[0] == "c" and row[2] == "reserved":
            assert row[3] in offered, row


def worker(job: tuple[str, int, int, int, int]) -> int:
    """One process: a random stream of hotline events; returns how many calls it queued."""
    redis_url, index, seed, steps, agents = job
    rng = random.Random(seed)
    redis = Redis.from_url(redis_url)
    policy = default_policy(AREAS)
    script = RoutingScript(redis, policy)
    board = AgentBoard(redis, policy, script=script)
    room = WaitingRoom(redis, policy, script=script)
    matcher = Matcher(redis, policy, script=script)
    reservations = Reservations(redis, policy, script=script)
    agent_ids = [f"a{n}" for n in range(agents)]
    queued = 0
    try:
        for step in range(steps):
            now = START + step * 2.0 + index * 0.01
            action = rng.random()
            if action < 0.25:
                call_sid = f"C{index}-{queued}"
                queued += 1
                room.enqueue(
                    call_sid,
                    area=rng.choice(AREAS),
                    language=rng.choice(["zh", "en"]),
                    now=now,
                    heavy=rng.random() < 0.2,
                )
                matcher.match_call(call_sid, now)
            elif action < 0.35:
                room.hang_up(f"C{rng.randrange(WORKERS)}-{rng.randrange(queued + 1)}", now)
            elif action < 0.45:
                matcher.match_call(f"C{rng.randrange(WORKERS)}-{rng.randrange(queued + 1)}", now)
            elif action < 0.75:
                agent_id = rng.choice(agent_ids)
                fields = redis.hmget(keys.agent(agent_id), "reservation", "activity")
                rid = (fields[0] or b"").decode()
                if rid and fields[1] == b"reserved":
                    outcome = rng.choice(["accept", "accept", "decline", "no_answer", "busy"])
                    getattr(reservations, outcome)(rid, now)
                elif rid and fields[1] == b"talking":
                    reservations.finish(rid, now, heavy=rng.random() < 0.3)
                else:
                    matcher.match_agent(agent_id, now)
            elif action < 0.9:
                agent_id = rng.choice(agent_ids)
                presence = rng.choice(["available", "available", "on_break", "offline"])
                board.set_presence(agent_id, presence, now)
                if presence == "available":
                    matcher.match_agent(agent_id, now)
            else:
                sweep(redis, policy, now)
            if step % 5 == 0:
                check_snapshot(redis)
    finally:
        redis.close()
    return queued


@pytest.fixture(scope="module")
def pool() -> Iterator[multiprocessing.pool.Pool]:
    """Worker processes started once, by spawning (as separate web and worker processes)."""
    with multiprocessing.get_context("spawn").Pool(WORKERS) as processes:
        yield processes


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    agents=st.integers(min_value=2, max_value=6),
    steps=st.integers(min_value=40, max_value=120),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_racing_processes_keep_reservations_one_to_one(redis, redis_url, pool, agents, steps, seed):
    redis.flushdb()
    policy = default_policy(AREAS)
    board = AgentBoard(redis, policy)
    rng = random.Random(seed)
    roster = Roster(
        tuple(
            Agent(
                id=f"a{n}",
                name=f"a{n}",
                phone=f"+861390000{n:04d}",
                languages=rng.choice([("zh",), ("en",), ("zh", "en")]),
                skills={area: rng.randint(1, 3) for area in rng.sample(AREAS, rng.randint(1, 3))},
                shifts=ALWAYS,
            )
            for n in range(agents)
        )
    )
    board.import_roster(roster, START, presence="available")
    jobs = [(redis_url, index, seed + index, steps, agents) for index in range(WORKERS)]
    queued = pool.map(worker, jobs)
    check_snapshot(redis)

    # Let every call finish: calls in progress end, ringing offers time out, the rest leave.
    end = START + steps * 2.0 + 1000
    reservations = Reservations(redis, policy)
    for agent_id in board.ids():
        status = board.get(agent_id)
        if status.activity == "talking":
            reservations.finish(status.reservation, end)
    sweep(redis, policy, end)
    room = WaitingRoom(redis, policy)
    for index, count in enumerate(queued):
        for number in range(count):
            room.leave(f"C{index}-{number}", end + 1, outcome="left")
    check_snapshot(redis)

    outcomes = {}
    for index, count in enumerate(queued):
        for number in range(count):
            call = room.get(f"C{index}-{number}")
            assert call is not None and call.state == "ended", call
            outcomes[call.call_sid] = call.outcome
    assert set(outcomes.values()) <= {"connected", "abandoned", "left"}
    final = Counter()
    for event in events.recent(redis, 100_000):
        if event["kind"] in ("accepted", "abandoned", "left") and "call" in event:
            final[event["call"]] += 1
    for call_sid, outcome in outcomes.items():
        assert final[call_sid] == 1, (call_sid, outcome, final[call_sid])
    for agent_id in board.ids():
        status = board.get(agent_id)
        assert status.activity in ("idle", "wrap_up") and status.reservation == ""

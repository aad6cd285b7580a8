"""Who took a crisis call: the first to claim it wins, the winner is engaged, then released."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import redis as redis_lib

from queues import keys
from queues.agents import AgentBoard
from queues.calls import CallStore
from queues.crisis_claims import CLAIM_TTL_S, CrisisClaims
from queues.script import RoutingScript
from routing.roster import parse_roster

pytestmark = pytest.mark.redis

CALL = "CA" + "7" * 32
AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
ROSTER = """
timezone: Asia/Shanghai
agents:
  - {id: c1, name: C1, phone: "+8613900000201", languages: [zh], skills: {general: 1},
     crisis_trained: true, shifts: [{days: daily, hours: "00:00-24:00"}]}
  - {id: c2, name: C2, phone: "+8613900000202", languages: [zh], skills: {family: 2},
     crisis_trained: true, shifts: [{days: daily, hours: "00:00-24:00"}]}
supervisors:
  - {id: s1, name: S1, phone: "+8613900000301", on_call: [{days: daily, hours: "00:00-24:00"}]}
"""
# The packages whose code may name a Redis key; only the claims module names the claim's.
PACKAGES = ("hotline", "ivr", "ops", "voicemail", "queues", "routing", "telephony", "carrier")


@pytest.fixture
def claims(redis, clock, hotline_config) -> CrisisClaims:
    """Claims on a Redis with two crisis-trained agents on shift and available."""
    script = RoutingScript(redis, hotline_config.routing)
    board = AgentBoard(redis, hotline_config.routing, script=script)
    now = clock().timestamp()
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    board.import_roster(roster, now - 100)
    for agent_id in ("c1", "c2"):
        board.set_presence(agent_id, "available", now - 50)
    return CrisisClaims(redis, hotline_config.routing, script=script)


def test_the_first_claim_wins_and_is_remembered_for_a_while(claims, redis):
    assert claims.taker(CALL) is None
    assert claims.claim(CALL, "c1")
    assert not claims.claim(CALL, "c2")
    assert not claims.claim(CALL, "c1")
    assert claims.taker(CALL) == "c1"
    assert 0 < redis.ttl(keys.crisis_taker(CALL)) <= CLAIM_TTL_S
    # Another call's claim is its own.
    assert claims.claim("CA-other", "c2")


def test_of_many_pressing_1_at_once_exactly_one_wins(claims, redis_url, hotline_config):
    takers = [f"t{n}" for n in range(8)]
    won: dict[str, bool] = {}
    start = threading.Barrier(len(takers))

    def press(taker_id: str) -> None:
        client = redis_lib.Redis.from_url(redis_url)
        try:
            own = CrisisClaims(client, hotline_config.routing)
            start.wait(timeout=5)
            won[taker_id] = own.claim(CALL, taker_id)
        finally:
            client.close()

    threads = [threading.Thread(target=press, args=(taker_id,)) for taker_id in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    winners = [taker_id for taker_id, took in won.items() if took]
    assert len(won) == len(takers) and len(winners) == 1
    assert claims.taker(CALL) == winners[0]


def test_an_agent_who_took_the_call_is_out_of_routing_until_released(
    claims, redis, clock, hotline_config
):
    now = clock().timestamp()
    assert claims.claim(CALL, "c1")
    claims.engage(CALL, "c1", "agent", "CA-leg", now)

    record = CallStore(redis).get(CALL)
    assert (record.crisis_taker, record.crisis_taker_leg) == ("c1", "CA-leg")
    assert redis.hget(keys.call(CALL), "heavy") == b"1"
    board = claims.board
    assert board.crisis_call("c1") == CALL
    assert board.get("c1").activity == "talking"
    assert board.free_crisis_agents("zh") == ["c2"]

    # Another call's end does not free them; this call's end does, into the long wrap-up.
    assert claims.release("CA-other", "c1", now + 60) is None
    wrap_up_until = claims.release(CALL, "c1", now + 60)
    assert wrap_up_until == pytest.approx(now + 60 + hotline_config.routing.crisis_wrap_up_s)
    assert board.crisis_call("c1") == ""
    # A second report of the same end (the ring's action, then a leg check) changes nothing.
    assert claims.release(CALL, "c1", now + 61) is None


def test_a_supervisor_who_took_the_call_is_recorded_and_routing_is_left_alone(claims, redis, clock):
    assert claims.claim(CALL, "s1")
    claims.engage(CALL, "s1", "supervisor", "", clock().timestamp())

    record = CallStore(redis).get(CALL)
    assert (record.crisis_taker, record.crisis_taker_leg) == ("s1", "")
    assert sorted(claims.board.free_crisis_agents("zh")) == ["c1", "c2"]


def test_no_module_but_the_claims_names_the_claim_key():
    root = Path(__file__).resolve().parents[2]
    named = re.compile(r"\bkeys\.crisis_taker\(")
    users = {
        path.relative_to(root)
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if named.search(path.read_text(encoding="utf-8"))
    }
    assert users == {Path("queues/crisis_claims.py")}

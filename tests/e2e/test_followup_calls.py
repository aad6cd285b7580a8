"""A follow-up that happens, through the carrier: a caller rates their call 2, another agent is
rung with the follow-up whisper, accepts, the caller's phone rings and they meet; the follow-up
then shows done, by that agent, and the number is no longer kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from queues import events
from queues.followups import FollowUps
from tests.e2e.harness import CALL_DEADLINE_S, CALLER, Hotline, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import DAILY, api_user, heard
from tests.fixtures.survey import survey_config

pytestmark = pytest.mark.e2e

RATED_PHONE = "+8613900000611"
FOLLOW_PHONE = "+8613900000612"
# Two contract agents of the same level, imported together: the first call goes to a_rated
# (equal idle times fall to the first id), so the follow-up must skip them for b_follow.
ROSTER = {
    "timezone": "Asia/Shanghai",
    "agents": [
        {"id": "a_rated", "name": "a_rated", "phone": RATED_PHONE, "languages": ["zh"],
         "skills": {"contract": 3}, "shifts": DAILY},
        {"id": "b_follow", "name": "b_follow", "phone": FOLLOW_PHONE, "languages": ["zh"],
         "skills": {"contract": 3}, "shifts": DAILY},
    ],
}  # fmt: skip
PHONES = {
    # Each agent's 100 s on the line are 3 s at the test's clock, so that the caller reaches the
    # conference before the agent leaves it, even on a busy machine.
    # Accepts with 1 and hangs up 100 s after answering, ending the first call.
    RATED_PHONE: {"name": "a_rated", "role": "agent", "answer_after": 1, "press": ["1", "1"],
                  "stay": 100},
    # Accepts the follow-up with 1 after its whisper and talks with the caller until 100 s in.
    FOLLOW_PHONE: {"name": "b_follow", "role": "agent", "answer_after": 1, "press": ["1"],
                   "stay": 100},
    # The caller picks up the callback at once and stays until the agent leaves.
    CALLER: {"name": "caller", "answer_after": 1, "stay": 120},
}  # fmt: skip


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with two contract agents available, every area open."""
    home = tmp_path_factory.mktemp("followups")
    phones = write_yaml(home / "phones.yaml", PHONES)
    with serving(home, survey_config(), roster=ROSTER, phones=phones, time_scale="0.03") as run:
        yield run


def legs_to(hotline: Hotline, number: str) -> list[dict[str, Any]]:
    """The outbound legs the hotline placed to a number, oldest first."""
    return [c for c in hotline.calls() if c["to"] == number and c["direction"] != "inbound"]


def test_an_unsatisfied_caller_is_called_back_by_another_agent(hotline: Hotline) -> None:
    caller = hotline.start(
        {"press": "1"}, {"press": "3"}, {"press": "1"}, {"press": "2"}, hangup_after=400
    )
    done = hotline.finish(caller)
    assert [b["name"] for b in done["outcome"]["bridged_to"]] == ["a_rated"]
    said = heard(done)
    assert said[-1] == hotline.prompt("survey_follow_up", "zh")

    # The follow-up's task rings b_follow (never a_rated) with the follow-up's reason first.
    leg = poll(lambda: (legs_to(hotline, FOLLOW_PHONE) or [None])[0], CALL_DEADLINE_S, "b_follow")
    agent = hotline.finish(leg["call_sid"])
    agent_heard = heard(agent)
    reason = hotline.prompt("whisper_follow_up_rating", "zh", agent="a_rated")
    assert reason in agent_heard, agent_heard
    assert any("回电任务" in text for text in agent_heard)
    assert any(e["kind"] == "pressed" and e["keys"] == "1" for e in agent["entries"])
    assert len(legs_to(hotline, RATED_PHONE)) == 1

    # The caller's phone rang and they met b_follow in the conference.
    back = poll(lambda: (legs_to(hotline, CALLER) or [None])[0], CALL_DEADLINE_S, "the callback")
    called_back = hotline.finish(back["call_sid"])
    paths = [(e["path"], e["status"]) for e in called_back["entries"] if e["kind"] == "webhook"]
    assert ("/voice/connect/callback", 200) in paths, called_back
    # They never booked this callback: they hear it is the hotline following up their call.
    assert hotline.prompt("followup_greeting", "zh") in heard(called_back)
    assert hotline.prompt("callback_greeting", "zh") not in heard(called_back)
    assert [b["name"] for b in agent["outcome"]["bridged_to"]] or agent["outcome"]
    # No rating is asked of a follow-up's own callback.
    assert hotline.prompt("survey_question", "zh") not in heard(called_back)

    redis = hotline.redis()
    follow_up = poll(
        lambda: (lambda f: f if f and f.closed else None)(FollowUps(redis).get(caller)),
        CALL_DEADLINE_S,
        "the follow-up to close",
    )
    assert (follow_up.closed_by, follow_up.task, follow_up.caller) == ("b_follow", "done", "")
    found = [e for e in events.recent(redis, 5000) if caller in e.get("call", "")]
    kinds = [e["kind"] for e in found]
    assert "follow-up-routed" in kinds and "callback-connected" in kinds
    assert not any(CALLER[-8:] in value for event in found for value in event.values())

    # Supervisors see it done, by b_follow.
    listed = requests.get(
        f"{hotline.app_url}/api/v1/followups?closed=1",
        headers=api_user(redis, "sam"),
        timeout=5,
    ).json()["followups"]
    assert [(f["call"], f["state"], f["closed_by"]) for f in listed] == [
        (caller, "done", "b_follow")
    ]


BOSS_PHONE = "+8613900000613"
# The same two agents and a supervisor on call who also takes routed calls (an agent row with
# the supervisor's phone); b_follow comes before them in the idle order.
SUPERVISED = {
    **ROSTER,
    "agents": [
        *ROSTER["agents"],
        {"id": "s_boss", "name": "s_boss", "phone": BOSS_PHONE, "languages": ["zh"],
         "skills": {"contract": 3}, "shifts": DAILY},
    ],
    "supervisors": [{"id": "s1", "name": "李主管", "phone": BOSS_PHONE, "on_call": DAILY}],
}  # fmt: skip


def test_with_follow_ups_to_supervisors_the_supervisor_calls_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("followups-supervisor")
    config = survey_config()
    config["survey"]["follow_up_to"] = "supervisor"
    phones = {**PHONES, BOSS_PHONE: {**PHONES[FOLLOW_PHONE], "name": "s_boss"}}
    # A Redis of its own: the module's hotline is still serving, and on the machine's Redis the
    # two would share (and this one would empty) one database.
    with serving(
        home,
        config,
        roster=SUPERVISED,
        phones=write_yaml(home / "phones.yaml", phones),
        time_scale="0.03",
        embedded=True,
    ) as run:
        caller = run.start(
            {"press": "1"}, {"press": "3"}, {"press": "1"}, {"press": "2"}, hangup_after=400
        )
        done = run.finish(caller)
        assert [b["name"] for b in done["outcome"]["bridged_to"]] == ["a_rated"]
        leg = poll(lambda: (legs_to(run, BOSS_PHONE) or [None])[0], CALL_DEADLINE_S, "s_boss")
        boss = run.finish(leg["call_sid"])
        assert run.prompt("whisper_follow_up_rating", "zh", agent="a_rated") in heard(boss)
        back = poll(lambda: (legs_to(run, CALLER) or [None])[0], CALL_DEADLINE_S, "the callback")
        assert run.prompt("followup_greeting", "zh") in heard(run.finish(back["call_sid"]))
        follow_up = poll(
            lambda: (lambda f: f if f and f.closed else None)(FollowUps(run.redis()).get(caller)),
            CALL_DEADLINE_S,
            "the follow-up to close",
        )
        assert follow_up.closed_by == "s_boss"
        # Nobody else was rung for it.
        assert legs_to(run, FOLLOW_PHONE) == [] and len(legs_to(run, RATED_PHONE)) == 1

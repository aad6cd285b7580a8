"""The satisfaction rating through the carrier: the agent hangs up, the caller hears the one
question, presses 2, and a follow-up for supervisors appears, without the number in events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from queues import events
from queues.calls import CallStore
from queues.followups import FollowUps
from tests.e2e.harness import CALLER, Hotline, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import DAILY, api_user, heard
from tests.fixtures.survey import survey_config

pytestmark = pytest.mark.e2e

AGENT_PHONE = "+8613900000601"
ROSTER = {
    "timezone": "Asia/Shanghai",
    "agents": [
        {
            "id": "contract_rated",
            "name": "contract_rated",
            "phone": AGENT_PHONE,
            "languages": ["zh"],
            "skills": {"contract": 3},
            "shifts": DAILY,
        }
    ],
}
PHONES = {
    # Accepts with 1 and hangs up 100 s after answering, about 85 s into the call: 3 s at the
    # test's clock, so that the caller reaches the conference before the agent leaves it, even
    # on a busy machine.
    AGENT_PHONE: {"name": "contract_rated", "role": "agent", "answer_after": 1, "press": ["1"],
                  "stay": 100},
}  # fmt: skip


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with one contract agent available."""
    home = tmp_path_factory.mktemp("survey")
    phones = write_yaml(home / "phones.yaml", PHONES)
    with serving(home, survey_config(), roster=ROSTER, phones=phones, time_scale="0.03") as run:
        yield run


def test_an_unsatisfied_caller_after_the_agent_hung_up_gets_a_follow_up(hotline: Hotline) -> None:
    # Mandarin, contract (area key 3), one intake answer; then 2 at the survey. The caller would
    # stay 400 s: the agent's hanging up ends the conversation.
    caller = hotline.start(
        {"press": "1"}, {"press": "3"}, {"press": "1"}, {"press": "2"}, hangup_after=400
    )
    done = hotline.finish(caller)
    assert [b["name"] for b in done["outcome"]["bridged_to"]] == ["contract_rated"]
    assert done["outcome"]["errors"] == []
    said = heard(done)
    question = said.index(hotline.prompt("survey_question", "zh"))
    assert said.index(hotline.prompt("connecting", "zh")) < question
    assert said[question + 1 :] == [hotline.prompt("survey_follow_up", "zh")]
    pressed = [e["keys"] for e in done["entries"] if e["kind"] == "pressed"]
    assert pressed == ["1", "3", "1", "2"]
    # Ended by the app's hang-up after the thanks, long before the caller would have left.
    assert done["entries"][-1]["t"] < 300

    redis = hotline.redis()
    follow_up = poll(lambda: FollowUps(redis).get(caller), 10, "the follow-up")
    assert (follow_up.area, follow_up.language, follow_up.agent) == (
        "contract",
        "zh",
        "contract_rated",
    )
    assert follow_up.caller == CALLER and not follow_up.closed
    assert CallStore(redis).get(caller).rating == 2
    found = [e for e in events.recent(redis, 2000) if e.get("call") == caller]
    rated = [e for e in found if e["kind"] == "rated"]
    assert [(e["agent"], e["area"], e["rating"]) for e in rated] == [
        ("contract_rated", "contract", "2")
    ]
    assert "wrap-up" in [e["kind"] for e in found]
    assert not any(CALLER[-8:] in value for event in found for value in event.values())

    # Supervisors see it through the API, the number masked.
    listed = requests.get(
        f"{hotline.app_url}/api/v1/followups",
        headers=api_user(redis, "sam"),
        timeout=5,
    ).json()["followups"]
    assert [(f["call"], f["caller"]) for f in listed] == [(caller, "+86*******5678")]

"""The listen_in section of the hotline config: optional, and checked like the others."""

from __future__ import annotations

from routing.config import ListenIn, check_config, load_config
from tests.fixtures.config import edited_config


def test_the_shipped_config_tells_agents_and_the_section_is_optional():
    assert load_config(edited_config(lambda data: None)).listen_in == ListenIn(
        tell_agent=True, ring_timeout_s=20
    )
    assert load_config(edited_config(lambda data: data.pop("listen_in"))).listen_in == ListenIn()
    quiet = load_config(edited_config(lambda data: data.update(listen_in={"tell_agent": False})))
    assert quiet.listen_in == ListenIn(tell_agent=False, ring_timeout_s=20)


def test_wrong_values_are_refused_where_they_are():
    text = edited_config(
        lambda data: data.update(listen_in={"tell_agent": "yes", "ring_timeout_s": 600})
    )

    problems = {problem.path: problem.message for problem in check_config(text)}

    assert problems[("listen_in", "tell_agent")] == "expected true or false"
    assert "from 5 to 60" in problems[("listen_in", "ring_timeout_s")]


def test_there_is_no_setting_to_tell_callers():
    # Callers are never told by the app: a setting that would is an unknown name.
    text = edited_config(lambda data: data.update(listen_in={"tell_caller": True}))

    problems = {problem.path: problem.message for problem in check_config(text)}

    assert problems == {
        ("listen_in", "tell_caller"): "unknown listen_in setting; did you mean tell_agent?"
    }

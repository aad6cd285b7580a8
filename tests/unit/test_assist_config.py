"""The assist section of the hotline config: five levels in every language, checked as usual."""

from __future__ import annotations

from routing.config import Assist, check_config, load_config
from tests.fixtures.config import edited_config


def _problems(edit) -> dict[tuple, str]:
    """The problems of the shipped config after one edit, by path."""
    return {problem.path: problem.message for problem in check_config(edited_config(edit))}


def test_the_shipped_config_has_a_line_per_level_in_each_language():
    assist = load_config(edited_config(lambda data: None)).assist

    assert (assist.enabled, assist.window_s, assist.baseline_s, assist.sustained_top_s) == (
        True,
        2,
        30,
        20,
    )
    assert assist.suggestion(5, "zh") == "语速快、音量高：先让来电者说完，再复述要点"
    assert assist.suggestion(1, "en").startswith("Calm")
    # Out of range levels are the nearest level's line; an unknown language gets the first.
    assert assist.suggestion(9, "en") == assist.suggestion(5, "en")
    assert assist.suggestion(0, "fr") == assist.suggestion(1, "zh")


def test_without_the_section_assist_is_off():
    assist = load_config(edited_config(lambda data: data.pop("assist"))).assist

    assert assist == Assist()
    assert assist.enabled is False
    assert assist.suggestion(3, "zh") == ""


def test_missing_lines_unknown_names_and_wrong_values_are_refused_where_they_are():
    def spoil(data):
        del data["assist"]["suggestions"][3]
        del data["assist"]["suggestions"][4]["en"]
        data["assist"]["suggestions"][6] = {"zh": "太多", "en": "too many"}
        data["assist"].update(enabled="yes", window_s=0, sustained_top_s=10_000, window=2)

    problems = _problems(spoil)

    assert problems[("assist", "suggestions", "3")] == "missing"
    assert problems[("assist", "suggestions", "4", "en")] == "missing or not a non-empty string"
    assert problems[("assist", "suggestions", "6")].startswith("unknown level")
    assert problems[("assist", "enabled")] == "expected true or false"
    assert "from 1 to 10" in problems[("assist", "window_s")]
    assert "from 5 to 600" in problems[("assist", "sustained_top_s")]
    assert problems[("assist", "window")] == "unknown assist setting; did you mean window_s?"
    assert len(problems) == 7

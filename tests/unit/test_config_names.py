"""`hotline config check` names unknown keys with the name probably meant, one problem per cause."""

from __future__ import annotations

import re

import pytest

from hotline.settings import DEFAULT_CONFIG
from routing.config import check_config, load_config
from tests.fixtures.config import edited_config

SHIPPED = DEFAULT_CONFIG.read_text(encoding="utf-8")
# How the command prints a problem: "line N: dotted.path: what is wrong".
PROBLEM = re.compile(r"line (?P<line>\d+): (?P<path>\S+): (?P<says>.+)")


def _reported(text: str) -> list[tuple[int, str, str]]:
    """Each problem as the command prints it, read back into its line, path and message."""
    found = []
    for problem in check_config(text, "hotline.yaml"):
        match = PROBLEM.fullmatch(str(problem))
        assert match, f"not in the line/path/message format: {problem}"
        found.append((int(match["line"]), match["path"], match["says"]))
    return found


def _misspelled(old: str, new: str) -> str:
    """The shipped config with the first line holding `old` written with `new` instead."""
    assert SHIPPED.count(old) >= 1, old
    return SHIPPED.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of a piece of text."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_config_checks_clean():
    assert check_config(SHIPPED, "hotline.yaml") == []


@pytest.mark.parametrize(
    ("old", "new", "path", "meant"),
    [
        ("\nrouting:\n", "\nroutng:\n", "routng", "unknown section; did you mean routing?"),
        ("\nsurvey:\n", "\nsurvy:\n", "survy", "unknown section; did you mean survey?"),
    ],
)
def test_a_misspelled_section_is_one_problem_naming_the_section(old, new, path, meant):
    text = _misspelled(old, new)

    assert _reported(text) == [(_line_of(text, new.strip()), path, meant)]


def test_a_misspelled_optional_nested_key_is_named_once():
    # The routing reader refuses the name too; the report says it once, with the name meant.
    text = _misspelled("    cool_down_s:", "    cool_dwon_s:")

    assert _reported(text) == [
        (
            _line_of(text, "cool_dwon_s"),
            "routing.misses.cool_dwon_s",
            "unknown key; did you mean cool_down_s?",
        )
    ]


@pytest.mark.parametrize(
    ("old", "new", "path", "meant"),
    [
        # Required prompt: not also "missing prompt".
        ("  greeting:", "  greting:", "prompts.greting", "unknown prompt; did you mean greeting?"),
        # Required number: not also "expected a whole number" for the absent one.
        (
            "  gather_timeout_s:",
            "  gather_timout_s:",
            "menu.gather_timout_s",
            "unknown key; did you mean gather_timeout_s?",
        ),
        # Required text: not also "missing or not a non-empty string".
        (
            "    voice: Polly.Joanna",
            "    voise: Polly.Joanna",
            "languages.en.voise",
            "unknown key; did you mean voice?",
        ),
    ],
)
def test_a_misspelled_required_key_is_one_problem_naming_the_key_meant(old, new, path, meant):
    text = _misspelled(old, new)

    assert _reported(text) == [(_line_of(text, new.strip()), path, meant)]


def test_a_text_in_a_misspelled_language_is_one_problem_naming_the_language():
    def edit(data):
        name = data["areas"]["labor"]["name"]
        name["eng"] = name.pop("en")

    (problem,) = _reported(edited_config(edit))

    assert problem[1:] == ("areas.labor.name.eng", "unknown language; did you mean en?")


def test_an_unknown_name_with_nothing_close_lists_the_names_valid_there():
    (problem,) = _reported(_misspelled("  timeout_s: 5\n", "  timeout_s: 5\n  wibble: 1\n"))

    assert problem[1:] == (
        "survey.wibble",
        "unknown survey setting; expected enabled, follow_up, follow_up_to, "
        "outcome_follow_up_to, timeout_s",
    )


@pytest.mark.parametrize(
    ("edit", "path", "says"),
    [
        # A text map written as one string: not also each language missing inside it.
        (
            lambda data: data["areas"]["labor"].update(name="labour law"),
            "areas.labor.name",
            "expected a mapping",
        ),
        # A wrong number: not also the ring-time check made with a stand-in for it.
        (
            lambda data: data["crisis"].update(rollover_s="soon"),
            "crisis.rollover_s",
            "expected a whole number from 5 to 120",
        ),
        # A wrong step start: not also "each step starts later" against its stand-in.
        (
            lambda data: data["routing"]["defaults"]["steps"][1].update(after_s="later"),
            "routing.defaults.steps.1.after_s",
            "expected a whole number from 0 to 86400",
        ),
        # A template with two fields its prompt does not offer: one problem for the text.
        (
            lambda data: data["prompts"]["goodbye"].update(en="Bye {name}, it is {time}."),
            "prompts.goodbye.en",
            "unknown fields {name}, {time} (this prompt offers: none)",
        ),
        # A missing section: not also every field it should hold.
        (lambda data: data.pop("service"), "service", "missing"),
    ],
)
def test_one_bad_value_is_one_problem(edit, path, says):
    problems = _reported(edited_config(edit))

    assert [(where, message) for _, where, message in problems] == [(path, says)]


def test_a_broken_areas_section_is_not_repeated_by_every_area_reference():
    # The lexicon and routing sections name areas; with no areas to judge them by, they are
    # not each reported as unknown.
    problems = _reported(edited_config(lambda data: data.update(areas=["family", "labor"])))

    assert [(where, message) for _, where, message in problems] == [("areas", "expected a mapping")]


def test_an_unknown_area_reference_names_the_nearest_area():
    def edit(data):
        data["general_area"] = "generl"
        data["routing"]["areas"]["labour"] = data["routing"]["areas"].pop("labor")

    problems = {where: message for _, where, message in _reported(edited_config(edit))}

    assert problems == {
        "general_area": "'generl' is not one of the areas; did you mean general?",
        "routing.areas.labour": "unknown area; did you mean labor?",
    }


def test_names_the_author_chooses_are_not_unknown_keys():
    # Area ids, shared hours' names, intake question ids and answer keys are the author's own.
    def edit(data):
        data["hours"]["evenings"] = {
            "timezone": "Asia/Shanghai",
            "weekly": {"mon": ["18:00-22:00"]},
        }
        labor = data["areas"]["labor"]
        data["areas"]["housing"] = {
            "key": "7",
            "name": {"zh": "住房", "en": "housing"},
            "hours": data["hours"]["evenings"],
            "intake": [
                {
                    "id": "tenant",
                    "question": {"zh": "租房请按1。", "en": "If you rent, press 1."},
                    "answers": {"1": {"zh": "租房", "en": "tenant"}},
                }
            ],
        }
        data["routing"]["areas"]["housing"] = {"heavy_answers": {"tenant": ["1"]}}
        data["lexicon"]["areas"]["housing"] = {"zh": ["房东"], "en": ["landlord"]}
        assert labor["key"] != "7"

    config = load_config(edited_config(edit), "hotline.yaml")

    assert config.areas["housing"].intake[0].id == "tenant"


def test_problems_are_listed_top_to_bottom():
    # Unknown names are found in a walk of their own, after the values: still in line order.
    text = _misspelled("\nrouting:\n", "\nroutng:\n").replace("  greeting:", "  greting:", 1)
    text = text.replace("gather_timeout_s: 6", "gather_timeout_s: many", 1)

    lines = [line for line, _, _ in _reported(text)]

    assert len(lines) == 3 and lines == sorted(lines)

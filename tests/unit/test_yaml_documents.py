"""YAML read in one linear pass before it is built: the hotline config's aliases within a budget,
lines from the text as written, and values Python refuses reported at their line."""

from __future__ import annotations

import pytest

from hotline.settings import DEFAULT_CONFIG
from routing.config import CONFIG_LIMITS, load_config
from routing.problems import ProblemsError
from routing.yamldoc import Limits, read_yaml

SHIPPED = DEFAULT_CONFIG.read_text(encoding="utf-8")


def nested_aliases(levels: int) -> str:
    """A document of `levels` lists, each nine aliases of the one before: 9**levels values."""
    lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"x{level}: &x{level} [{', '.join([f'*x{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def config_problems(text: str) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_config(text, "hotline.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_config_whose_aliases_expand_past_the_budget_is_refused_at_the_alias():
    text = SHIPPED + nested_aliases(6)

    found = config_problems(text)

    # The fifth level holds 9**5 values and more; the sixth level's first alias of it passes
    # the budget, on the document's last line, and the walk stops there.
    last = len(text.splitlines())
    assert found == [
        f"line {last}: x5.0: aliases expand the hotline config past "
        f"{CONFIG_LIMITS.max_values} values"
    ]


def test_an_alias_inside_its_own_anchor_in_the_config_is_refused_not_a_crash():
    found = config_problems(SHIPPED + "loop: &loop {again: *loop}\n")

    last = len(SHIPPED.splitlines()) + 1
    assert found == [f"line {last}: loop.again: the alias *loop is inside its own anchor"]


def test_a_problem_in_hours_shared_by_alias_is_on_the_line_the_hours_are_written():
    text = SHIPPED.replace('      mon: ["09:00-21:00"]', '      mon: ["09:00-25:00"]', 1)

    problems = {".".join(map(str, p.path)): p.line for p in _problems(text)}

    # Every area taking the day's hours by alias is told of the one line with the typo.
    assert problems["areas.family.hours.weekly.mon.0"] == _line_of(text, '["09:00-25:00"]')
    assert problems["areas.labor.hours.weekly.mon.0"] == _line_of(text, '["09:00-25:00"]')
    # A problem with the aliased value as a whole is on the alias's line.
    wrong = "five: &five 5\n" + SHIPPED.replace("hours: *day_hours", "hours: *five", 1)
    five = {".".join(map(str, p.path)): p.line for p in _problems(wrong)}
    assert five["areas.family.hours"] == _line_of(wrong, "hours: *five")


def test_lines_are_read_from_the_text_not_from_the_expanded_values():
    # 9**5 values once expanded, within the budget: one line per key or item written.
    document = read_yaml(nested_aliases(5), "doc.yaml", CONFIG_LIMITS)

    assert len(document.data["x4"]) == 9 and len(document.data["x4"][0][0][0][0]) == 9
    assert len(document.lines) == 1 + 5 + 5 * 9
    # Inside an alias, a path is found where it is written: x4's fourth item is x3, whose
    # third is x2, whose second item is the alias written on x2's line.
    assert document.line_of(("x4", 3, 2, 1)) == 3


def test_values_python_refuses_and_deep_nesting_are_problems_with_their_line():
    limits = Limits(what="a test document", aliases=True, max_depth=4)

    for text, line, message in (
        ("a: 1\nday: 2026-02-30\n", 2, "day is out of range for month"),
        ("a:\n  b: [[[[1]]]]\n", 2, "nested deeper than 4 levels; a test document never is"),
    ):
        with pytest.raises(ProblemsError) as caught:
            read_yaml(text, "doc.yaml", limits)
        (problem,) = caught.value.problems
        assert problem.line == line and message in problem.message


def _problems(text: str):
    with pytest.raises(ProblemsError) as caught:
        load_config(text, "hotline.yaml")
    return caught.value.problems


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_roster_written_with_shared_values_reads_back_without_aliases():
    from routing.roster import parse_roster
    from routing.yamldoc import dump_yaml

    shifts = [{"days": "daily", "hours": "00:00-24:00"}]
    agent = {"phone": "+8613900000201", "languages": ["zh"], "skills": {"general": 1}}
    document = {
        "agents": [
            {"id": "a1", "name": "A1", **agent, "shifts": shifts},
            {"id": "a2", "name": "A2", **agent, "phone": "+8613900000202", "shifts": shifts},
        ]
    }
    text = dump_yaml(document)
    assert "&" not in text and "*" not in text
    roster = parse_roster(text, source="r.yaml", area_ids=["general"], languages=["zh"])
    assert [a.id for a in roster.agents] == ["a1", "a2"]

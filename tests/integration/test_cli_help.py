"""The `hotline` help: every command and option says what it is, and the top-level help lists
the commands by who they are for."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from hotline.cli import build_parser
from hotline.commands import AUDIENCES


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """Every parser under the root, with its words and the help its parent lists it with."""
    for group in parser._actions:
        if not isinstance(group, argparse._SubParsersAction):
            continue
        listed = {choice.dest: choice.help for choice in group._choices_actions}
        for name, child in group.choices.items():
            yield (*path, name), child, listed.get(name)
            yield from parsers(child, (*path, name))


PARSERS = list(parsers(build_parser()))


@pytest.mark.parametrize("path, parser, listed", PARSERS, ids=[" ".join(p[0]) for p in PARSERS])
def test_every_command_and_option_has_a_description(path, parser, listed):
    assert (listed or parser.description or "").strip(), f"hotline {' '.join(path)}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"hotline {' '.join(path)} {name}"


def test_the_top_level_help_lists_each_command_once_under_its_audience():
    parser = build_parser()
    text = parser.format_help()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]

    headings = [line[:-1] for line in text.splitlines() if line[:-1] in AUDIENCES]
    assert headings == list(AUDIENCES)
    listed = re.findall(r"^  ([a-z][a-z-]*)  +\S", parser.epilog, flags=re.MULTILINE)
    assert sorted(listed) == sorted(commands.choices)
    assert "bench" in text.split("benchmarks:")[1].split("set-up:")[0]
    assert "call" in text.split("caller simulation:")[1].split("operations:")[0]

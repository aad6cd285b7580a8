"""Key names a YAML document may hold at each place, and the nearest valid name for one it may not.

A document's shape is written once as nested `Keys` (fixed names), `Each` (names the author
chooses, or that must name a declared language or area) and `Items` (lists). `unknown_keys` walks
the data against it and reports every unknown name with its path and, when one is close, the name
that was probably meant (`difflib.get_close_matches`). The walk also says which other problems a
misspelling explains: a required key written as a near miss is not also "missing".
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from routing.problems import Problem

Path = tuple[str | int, ...]
# Listing more valid names than this in a problem is noise; the nearest one is named instead.
MAX_LISTED = 10


@dataclass(frozen=True)
class Keys:
    """A mapping of fixed names, each with the shape of its value; `what` names one in problems."""

    fields: Mapping[str, Shape]
    what: str = "key"


@dataclass(frozen=True)
class Each:
    """A mapping whose names the author chooses, or (`among`) names of declared things."""

    shape: Shape = None
    # The kind of declared name each key must be ("language", "area"); None: any name.
    among: str | None = None
    # Names valid besides the declared ones (a crisis number's "fallback").
    also: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Items:
    """A list whose every item has one shape."""

    shape: Shape


# None: a value with nothing inside to name-check (a scalar, or a list of phrases).
Shape = Keys | Each | Items | None


@dataclass
class KeyReport:
    """Unknown names found, and the paths whose other problems they explain."""

    problems: list[Problem] = field(default_factory=list)
    # Paths of unknown names, and of the absent names they were probably meant to be.
    explained: set[Path] = field(default_factory=set)
    # Keys of a map of declared names when those names are unknown (their section is broken).
    unjudged: set[Path] = field(default_factory=set)

    def explains(self, problem: Problem) -> bool:
        """Whether a problem found elsewhere follows from a name this walk already reported."""
        if problem.path in self.unjudged:
            return True
        return any(problem.path[: len(path)] == path for path in self.explained)


def unknown_keys(
    data: object, shape: Shape, declared: Mapping[str, Collection[str] | None]
) -> KeyReport:
    """Report every key the shape does not allow; `declared` gives the names each `among` takes."""
    report = KeyReport()
    _walk(data, shape, (), declared, report)
    return report


def _walk(
    data: object,
    shape: Shape,
    path: Path,
    declared: Mapping[str, Collection[str] | None],
    report: KeyReport,
) -> None:
    """Check the names in one value, then in everything inside it."""
    if isinstance(shape, Items):
        if isinstance(data, list):
            for index, item in enumerate(data):
                _walk(item, shape.shape, (*path, index), declared, report)
        return
    if shape is None or not isinstance(data, Mapping):
        return  # a value of the wrong kind is its reader's problem, reported there
    if isinstance(shape, Keys):
        for key, value in data.items():
            name = str(key)
            if name in shape.fields:
                _walk(value, shape.fields[name], (*path, name), declared, report)
            else:
                _unknown(data, name, shape.fields, shape.what, path, report)
        return
    names = declared.get(shape.among) if shape.among is not None else None
    for key, value in data.items():
        name = str(key)
        if shape.among is not None and name not in shape.also:
            if names is None:
                # Whether the key is declared cannot be judged: the declaring section is broken
                # and says so itself; "unknown area" for every key would only repeat it.
                report.unjudged.add((*path, name))
            elif name not in names:
                _unknown(data, name, {*names, *shape.also}, shape.among, path, report)
                continue
        _walk(value, shape.shape, (*path, name), declared, report)


def _unknown(
    data: Mapping[Any, Any],
    name: str,
    valid: Collection[str],
    what: str,
    path: Path,
    report: KeyReport,
) -> None:
    """Record one unknown name with the nearest valid one; what it explains is not reported."""
    report.explained.add((*path, name))
    close = difflib.get_close_matches(name, sorted(valid), n=1)
    if close:
        message = f"unknown {what}; did you mean {close[0]}?"
        if close[0] not in map(str, data):
            # The meant name is absent because it was misspelled: its "missing" is this problem.
            report.explained.add((*path, close[0]))
    elif 0 < len(valid) <= MAX_LISTED:
        message = f"unknown {what}; expected {', '.join(sorted(valid))}"
    else:
        message = f"unknown {what}"
    report.problems.append(Problem((*path, name), message))

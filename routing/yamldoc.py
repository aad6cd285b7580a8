"""YAML documents people write: read in time and memory linear in their size, keys with lines.

`read_yaml(text, source, limits)` walks the parser's events once before anything is built. The
walk records the line of every key path as written (problems name their line) and refuses what
would make building or checking the document cost more than its size: anchors and aliases where
`limits` forbids them (a "billion laughs" of nested aliases is a few hundred bytes that expand to
billions of values), an alias inside its own anchor, aliases that expand past a budget, nesting
deeper than a bound and values longer than a bound. Only then is the document built, by
libyaml's C parser when it is installed. Every refusal is a `ProblemsError` with lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from routing.problems import Problem, ProblemsError

Path = tuple[str | int, ...]
# A document refused before it is built lists this many problems at most, then says it stopped.
MAX_SCAN_PROBLEMS = 50
# The path part of a mapping key that is itself a list or mapping (no roster field is one).
COMPLEX_KEY = "?"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's when present) with Python's refusals turned into YAML errors."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build one value; a value Python refuses (a 13th month) is a YAML error at its line."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as error:
            raise yaml.constructor.ConstructorError(
                None, None, str(error), node.start_mark
            ) from None


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What a YAML document may hold before it is built; `what` names it in problems."""

    what: str
    aliases: bool = False
    max_depth: int = 32
    max_value: int | None = None
    # Values once aliases are expanded: what a reader walking the data would visit.
    max_values: int = 1_000_000


@dataclass(frozen=True)
class Document:
    """A built YAML document, the line of every key path as written, and where aliases point."""

    data: Any
    lines: Mapping[Path, int]
    # The path of each alias, and the path of the anchor it stands for.
    aliases: Mapping[Path, Path] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of a path, or of its nearest parent written in the document."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if end < len(path) and prefix in self.aliases:
                # Inside an alias: the value is written under its anchor, earlier in the text.
                return self.line_of((*self.aliases[prefix], *path[end:]))
            if prefix in self.lines:
                return self.lines[prefix]
        return None

    def locate(self, problems: Iterable[Problem]) -> list[Problem]:
        """The problems, each without a line given the line of its path."""
        return [p if p.line is not None else p.located(self.line_of(p.path)) for p in problems]


def read_yaml(text: str, source: str, limits: Limits) -> Document:
    """Check a YAML document's shape within limits, then build it; raise with lines if refused."""
    try:
        scan = _Scan(limits)
        scan.walk(_events(text))
        if scan.problems:
            raise ProblemsError(source, scan.problems)
        loader = _Loader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ProblemsError(source, [Problem((), f"not valid YAML: {error}", line)]) from None
    return Document(data, scan.lines, scan.aliases)


def _events(text: str) -> Iterable[yaml.Event]:
    """The parser's events, one at a time (nothing is built from them)."""
    loader = _Loader(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


class _Frame:
    """An open mapping or sequence during the walk: its path and what comes next in it."""

    __slots__ = ("path", "mapping", "at_key", "key", "index", "anchor", "values")

    def __init__(self, path: Path, *, mapping: bool, anchor: str | None):
        self.path = path
        self.mapping = mapping
        self.at_key = True
        self.key: str | int = COMPLEX_KEY
        self.index = 0
        self.anchor = anchor
        self.values = 1

    def child(self) -> Path:
        """The path of the node that comes next inside this one."""
        if not self.mapping:
            self.index += 1
            return (*self.path, self.index - 1)
        return (*self.path, COMPLEX_KEY if self.at_key else self.key)

    def done(self) -> None:
        """A key or value ended: a mapping expects the other next."""
        if self.mapping:
            self.at_key = not self.at_key


class _Scan:
    """One pass over a document's events: lines of key paths, and what the limits refuse."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.stack: list[_Frame] = []
        # Each anchor's path, and its size once expanded (known when its node ends).
        self.anchors: dict[str, Path] = {}
        self.sizes: dict[str, int] = {}
        self.aliases: dict[Path, Path] = {}
        self.values = 0
        self.stopped = False

    def fail(self, path: Path, message: str, line: int) -> None:
        """Record a problem; past the cap, stop the walk and say so."""
        if len(self.problems) >= MAX_SCAN_PROBLEMS:
            self.problems.append(
                Problem((), f"stopped reading after {MAX_SCAN_PROBLEMS} problems", line)
            )
            self.stopped = True
            return
        self.problems.append(Problem(path, message, line))

    def walk(self, events: Iterable[yaml.Event]) -> None:
        """Read every event until the document ends or a limit stops the walk."""
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                self.stack, self.anchors, self.sizes = [], {}, {}
            elif isinstance(event, yaml.NodeEvent):
                self.node(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                self.end()
            if self.stopped:
                return

    def node(self, event: yaml.NodeEvent) -> None:
        """A scalar, alias, mapping or sequence starts: place it, check it, count it."""
        line = event.start_mark.line + 1
        parent = self.stack[-1] if self.stack else None
        path = parent.child() if parent is not None else ()
        if parent is not None and parent.mapping and parent.at_key:
            # A key: its path is its parent's and its own text, on the key's line.
            parent.key = event.value if isinstance(event, yaml.ScalarEvent) else COMPLEX_KEY
            self.lines[(*parent.path, parent.key)] = line
        else:
            self.lines.setdefault(path, line)
        # An alias event's anchor is the name it refers to.
        if event.anchor is not None and not self.limits.aliases:
            self.fail(path, f"aliases (&name / *name) are not allowed in {self.limits.what}", line)
        if isinstance(event, yaml.AliasEvent):
            self.alias(event, path, line)
            return
        if event.anchor is not None:
            self.anchors[event.anchor] = path
        if isinstance(event, yaml.ScalarEvent):
            self.scalar(event, path, line)
        else:
            self.open(event, path, line)

    def alias(self, event: yaml.AliasEvent, path: Path, line: int) -> None:
        """An alias counts as every value of its anchor; inside that anchor it never ends."""
        if self.limits.aliases and any(frame.anchor == event.anchor for frame in self.stack):
            self.fail(path, f"the alias *{event.anchor} is inside its own anchor", line)
        elif event.anchor in self.anchors:
            self.aliases[path] = self.anchors[event.anchor]
        self.count(self.sizes.get(event.anchor, 1), path, line)
        self.ended()

    def scalar(self, event: yaml.ScalarEvent, path: Path, line: int) -> None:
        """A scalar counts once and may be too long."""
        longest, size = self.limits.max_value, len(event.value)
        if longest is not None and size > longest:
            message = f"a value of {size} characters; at most {longest} in {self.limits.what}"
            self.fail(path, message, line)
        if event.anchor is not None:
            self.sizes[event.anchor] = 1
        self.count(1, path, line)
        self.ended()

    def open(self, event: yaml.NodeEvent, path: Path, line: int) -> None:
        """A mapping or sequence opens, unless it is nested too deep."""
        if len(self.stack) >= self.limits.max_depth:
            self.fail(
                path,
                f"nested deeper than {self.limits.max_depth} levels; {self.limits.what} never is",
                line,
            )
            self.stopped = True
            return
        self.count(1, path, line)
        mapping = isinstance(event, yaml.MappingStartEvent)
        self.stack.append(_Frame(path, mapping=mapping, anchor=event.anchor))

    def end(self) -> None:
        """A mapping or sequence ends: its anchor's size is known."""
        frame = self.stack.pop()
        if frame.anchor is not None:
            self.sizes[frame.anchor] = frame.values
        self.ended()

    def ended(self) -> None:
        """A node ended inside the innermost open one."""
        if self.stack:
            self.stack[-1].done()

    def count(self, values: int, path: Path, line: int) -> None:
        """Add values to every open node and the document; stop past the budget."""
        if not self.limits.aliases:
            return  # without aliases nothing expands: the document is as large as its text
        for frame in self.stack:
            frame.values += values
        self.values += values
        if self.values > self.limits.max_values:
            self.fail(
                path,
                f"aliases expand {self.limits.what} past {self.limits.max_values} values",
                line,
            )
            self.stopped = True


class _PlainDumper(yaml.SafeDumper):
    """A dumper that writes shared values out in full: rosters refuse anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never write an anchor or alias, however often a value is shared."""
        return True


def dump_yaml(data: Any, *, width: int = 100) -> str:
    """YAML without anchors or aliases (a roster file refuses them), keys in their order."""
    return yaml.dump(data, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=width)

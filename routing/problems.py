"""Problems found while checking a configuration or roster, each tied to where it was found."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, at a path of keys and indexes inside it."""

    path: tuple[str | int, ...]
    message: str
    line: int | None = None

    def located(self, line: int | None) -> Problem:
        """Return this problem with the line it was found on."""
        return Problem(self.path, self.message, line)

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.path) or "(top)"
        prefix = f"line {self.line}: " if self.line is not None else ""
        return f"{prefix}{where}: {self.message}"


class ProblemsError(ValueError):
    """Raised with every problem found, so none has to be discovered one fix at a time."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        """Render every problem on its own line, prefixed by the source name."""
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)

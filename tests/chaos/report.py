"""The chaos table: one row per scenario, a column for the fault itself and one per invariant."""

from __future__ import annotations

from tests.chaos.invariants import INVARIANTS, TITLES
from tests.chaos.scenarios import Result

COLUMNS = ("fault", *INVARIANTS)
HEADINGS = {"fault": "fault applied, parts back", **TITLES}
CELL_WIDTH = 34
NAME_WIDTH = 44


def failed(results: list[Result]) -> bool:
    """Whether any cell of any row failed."""
    return any(not cell.ok for result in results for cell in result.cells.values())


def table(results: list[Result]) -> str:
    """The table of scenarios x invariants, each cell ok or FAIL with a short reason."""
    widths = [NAME_WIDTH, 7, *([CELL_WIDTH] * len(COLUMNS))]
    rows = [["scenario", "secs", *(HEADINGS[c] for c in COLUMNS)]]
    for result in results:
        cells = [_clip(result.cells[c].text()) if c in result.cells else "-" for c in COLUMNS]
        rows.append([_clip(result.scenario.name, NAME_WIDTH), f"{result.seconds:.0f}", *cells])
    lines = []
    for index, row in enumerate(rows):
        lines.append(" | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def details(results: list[Result]) -> str:
    """Every failure in full, and the notes (measured waits, restart times) under the table."""
    lines = []
    for result in results:
        said = []
        for column in COLUMNS:
            cell = result.cells.get(column)
            if cell is None:
                continue
            said += [f"  FAIL {HEADINGS[column]}: {reason}" for reason in cell.reasons]
            said += [f"  {HEADINGS[column]}: {note}" for note in cell.notes]
        said += [f"  note: {note}" for note in result.notes]
        if said:
            lines += [result.scenario.name, *said]
    return "\n".join(lines)


def _clip(text: str, width: int = CELL_WIDTH) -> str:
    """Cut a cell's text to its column."""
    return text if len(text) <= width else text[: width - 1] + "…"

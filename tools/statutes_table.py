"""Write docs/statutes.md's table of every statute from hotline/statutes.yaml (or check it).

    python -m tools.statutes_table          # rewrite the table between the markers
    python -m tools.statutes_table --check  # exit 1 when the docs' table is not the file's

tests/unit/test_statutes.py runs the check, so the reviewed table and the shipped file never
drift apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from routing.config import load_config
from routing.statutes import Library, area_intake, parse_statutes

ROOT = Path(__file__).resolve().parents[1]
STATUTES = ROOT / "hotline" / "statutes.yaml"
CONFIG = ROOT / "hotline" / "hotline.yaml"
DOCS = ROOT / "docs" / "statutes.md"
BEGIN = "<!-- statutes table: begin (python -m tools.statutes_table) -->"
END = "<!-- statutes table: end -->"


def shipped() -> Library:
    """The shipped statutes, checked against the shipped config's areas and intake."""
    config = load_config(CONFIG.read_text(encoding="utf-8"), str(CONFIG))
    text = STATUTES.read_text(encoding="utf-8")
    return parse_statutes(text, source=str(STATUTES), areas=area_intake(config.areas))


def _cell(text: str) -> str:
    """A table cell's text: pipes escaped, lines joined."""
    return text.replace("|", "\\|").replace("\n", " ")


def render(library: Library, areas: list[str]) -> str:
    """The table: one section per area (an entry listed under its first area), in file order."""
    lines = [BEGIN, ""]
    for area in areas:
        entries = [s for s in library.statutes if s.areas[0] == area]
        lines.append(f"### {area}: {len(library.in_area(area))} statutes in the area")
        lines.append("")
        lines.append("| id | areas | law | article | plain line (zh) | plain line (en) |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for s in entries:
            row = (
                s.id,
                ", ".join(s.areas),
                s.law["zh"],
                f"{s.article['zh']} / {s.article['en']}",
                s.plain["zh"],
                s.plain["en"],
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def table() -> str:
    """The table of the shipped statutes, areas in the config's order."""
    config = load_config(CONFIG.read_text(encoding="utf-8"), str(CONFIG))
    return render(shipped(), list(config.areas))


def written(docs: str) -> str:
    """The table as docs/statutes.md holds it now ('' when the markers are missing)."""
    if BEGIN not in docs or END not in docs:
        return ""
    return docs[docs.index(BEGIN) : docs.index(END) + len(END)]


def main(argv: list[str] | None = None) -> int:
    """Rewrite or check the docs' table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on a difference")
    args = parser.parse_args(argv)
    docs = DOCS.read_text(encoding="utf-8")
    current, wanted = written(docs), table()
    if args.check:
        if current != wanted:
            print(f"{DOCS} does not list {STATUTES}: run python -m tools.statutes_table")
            return 1
        return 0
    if not current:
        print(f"{DOCS} has no table markers ({BEGIN} ... {END})", file=sys.stderr)
        return 1
    DOCS.write_text(docs.replace(current, wanted), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

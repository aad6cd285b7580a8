"""Time parsing a 300-agent roster as the consoles do (YAML and CSV exports), and print it.

Run from the repository: `.venv/bin/python tools/roster_parse_bench.py [agents] [rounds]` (the
installed `routing` is timed; PYTHONPATH=<another checkout> times that one instead).
The roster is built, not read: agents with two languages, three skills, weekly shifts, dated
exceptions and PIN hashes, and a few supervisors, written by the same exports a stored roster
comes from. Nothing is asserted; the figures go in the README with the date and machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from datetime import date, timedelta

from routing.roster import (
    Agent,
    DatedException,
    Roster,
    Shift,
    Supervisor,
    export_roster,
    export_roster_csv,
    parse_roster,
)

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
LANGUAGES = ["zh", "en"]
PIN_HASH = "scrypt:32768:8:1$abcdefghijklmnop$" + "0123456789abcdef" * 8


def roster(size: int) -> Roster:
    """A roster of `size` agents on day, evening or night shifts, and three supervisors."""
    spans = [(540, 1020), (1020, 1380), (1320, 1860)]
    agents = tuple(
        Agent(
            id=f"a{n:04d}",
            name=f"Agent {n} 王丽",
            phone=f"+86139{n:08d}",
            languages=tuple(LANGUAGES[: 1 + n % 2]),
            skills={AREAS[(n + k) % len(AREAS)]: 1 + (n + k) % 3 for k in range(3)},
            crisis_trained=n % 4 == 0,
            shifts=tuple(Shift(day, *spans[n % 3]) for day in range(5)),
            exceptions=(DatedException(date(2026, 10, 1) + timedelta(days=n % 7)),),
            pin_hash=PIN_HASH,
        )
        for n in range(size)
    )
    supervisors = tuple(
        Supervisor(f"s{n}", f"Supervisor {n}", f"+86138{n:08d}", (Shift(n, 0, 1440),))
        for n in range(3)
    )
    return Roster(agents, "Asia/Shanghai", supervisors)


def timed(text: str, source: str, rounds: int) -> tuple[float, float]:
    """Median and fastest seconds to parse the text."""
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        parse_roster(text, source=source, area_ids=AREAS, languages=LANGUAGES)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), min(seconds)


def main() -> None:
    """Print the parse times of one roster in both formats."""
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    built = roster(size)
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cpus")
    print(f"python {platform.python_version()}, {size} agents, {rounds} rounds")
    for source, text in (
        ("roster.yaml", export_roster(built)),
        ("roster.csv", export_roster_csv(built)),
    ):
        median, best = timed(text, source, rounds)
        print(f"{source}: {len(text):>7} chars", end="  ")
        print(f"median {median * 1000:7.1f} ms  best {best * 1000:7.1f} ms")


if __name__ == "__main__":
    main()

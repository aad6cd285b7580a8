"""`python -m tests.chaos` (`make chaos`): run the chaos matrix and print its table.

    python -m tests.chaos              every scenario, then the REDIS_URL one, then the table
    python -m tests.chaos --short      the scenarios `make test` runs
    python -m tests.chaos --only KEY   the scenarios whose name contains KEY (repeatable)

Exits 1 when any cell fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from queues.embedded import EmbeddedRedis
from tests.chaos.invariants import Cell
from tests.chaos.report import details, failed, table
from tests.chaos.scenarios import Result, Scenario, redis_url_scenarios, run, scenarios
from tests.chaos.world import World, running


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios and print the table; 1 when a cell failed."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="only the short form's scenarios")
    parser.add_argument("--only", action="append", default=[], help="name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    args = parser.parse_args(argv)

    def chosen(rows: list[Scenario]) -> list[Scenario]:
        rows = [row for row in rows if row.short] if args.short else rows
        if args.only:
            rows = [row for row in rows if any(key in row.name for key in args.only)]
        return rows

    home = Path(tempfile.mkdtemp(prefix="hotline-chaos-"))
    began = time.monotonic()
    results: list[Result] = []
    try:
        main_rows, url_rows = (
            chosen(scenarios()),
            [] if args.short else chosen(redis_url_scenarios()),
        )
        if main_rows:
            with running(home / "hotline") as world:
                results += run_all(world, main_rows, home)
        if url_rows:
            server = EmbeddedRedis(home / "own-redis")
            url = server.start()
            try:
                with running(home / "on-redis-url", redis_url=url, external_redis=server) as world:
                    results += run_all(world, url_rows, home)
            finally:
                server.stop()
    finally:
        print()
        print(table(results))
        print()
        print(details(results))
        print(f"\n{len(results)} scenarios in {time.monotonic() - began:.0f} s; logs in {home}")
        if not args.keep and not failed(results):
            shutil.rmtree(home, ignore_errors=True)
    return 1 if failed(results) or not results else 0


def run_all(world: World, rows: list[Scenario], home: Path) -> list[Result]:
    """Run scenarios one after another on one hotline; a scenario that breaks fails its row."""
    results = []
    for scenario in rows:
        print(f"-- {scenario.name}", flush=True)
        began = time.monotonic()
        try:
            result = run(world, scenario, home)
        except Exception as error:  # noqa: BLE001 - a broken scenario is a failed row
            traceback.print_exc()
            cell = Cell()
            cell.fail(f"{type(error).__name__}: {error}".splitlines()[0][:200])
            result = Result(scenario, {"fault": cell}, time.monotonic() - began)
        results.append(result)
        verdicts = ", ".join(f"{name} {cell.text()}" for name, cell in result.cells.items())
        print(f"   {result.seconds:.0f} s: {verdicts}", flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())

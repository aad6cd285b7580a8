"""The chaos suite's short form, part of `make test`: one scenario per kind of fault (Redis,
the worker, the carrier's REST API, status callbacks, hang-ups, a second serve) on one running
hotline, each with callers at every step, and every invariant holding after it.
`make chaos` runs the full matrix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.report import COLUMNS, HEADINGS
from tests.chaos.scenarios import Scenario, run, scenarios
from tests.chaos.world import World, running

pytestmark = pytest.mark.e2e

SHORT = [scenario for scenario in scenarios() if scenario.short]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the hotline's files and the scenarios' evidence."""
    return tmp_path_factory.mktemp("chaos")


@pytest.fixture(scope="module")
def world(home: Path) -> Iterator[World]:
    """One running hotline for every short scenario; stopped with nothing left behind."""
    with running(home / "hotline") as running_world:
        yield running_world


def test_the_short_form_has_one_scenario_per_kind_of_fault() -> None:
    kinds = [scenario.kind for scenario in SHORT]
    assert sorted(kinds) == sorted(set(kinds))
    assert set(kinds) == {"redis", "worker", "rest", "callbacks", "hang-up", "second-run"}


# Starting the hotline (every part loads the app) and a scenario with callers at every step
# take longer than the default timeout on the shared 2-core machine.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", SHORT, ids=[scenario.kind for scenario in SHORT])
def test_every_invariant_holds(world: World, home: Path, scenario: Scenario) -> None:
    result = run(world, scenario, home)
    failed = [
        f"{HEADINGS[column]}: {reason}"
        for column in COLUMNS
        for reason in result.cells[column].reasons
    ]
    assert failed == [], "\n".join([scenario.name, *failed, *result.notes])

"""The order parallel workers take the test files in: browser first, whole-call files spread
among the integration files, unit tests last, every file once."""

from __future__ import annotations

from itertools import pairwise

from tests.fixtures.file_order import SPREAD, work_order

BROWSER = [f"tests/browser/test_b{i}.py" for i in range(3)]
WAITING = ["tests/chaos/test_c0.py"] + [f"tests/e2e/test_e{i}.py" for i in range(5)]
WORKING = [f"tests/integration/test_i{i}.py" for i in range(30)]
UNIT = [f"tests/unit/test_u{i}.py" for i in range(10)]
# Collected in folder order, as pytest finds them.
COLLECTED = BROWSER + WAITING + WORKING + UNIT


def test_every_file_is_taken_once() -> None:
    assert sorted(work_order(COLLECTED)) == sorted(COLLECTED)


def test_browser_files_come_first_and_unit_files_last_each_in_their_own_order() -> None:
    order = work_order(COLLECTED)
    assert order[: len(BROWSER)] == BROWSER
    assert order[-len(UNIT) :] == UNIT


def test_whole_call_files_are_spread_over_the_first_part_of_the_integration_files() -> None:
    order = work_order(COLLECTED)
    middle = order[len(BROWSER) : -len(UNIT)]
    waiting_at = [middle.index(f) for f in WAITING]
    assert [middle[i] for i in waiting_at] == WAITING
    # Never two whole-call files side by side, and none after the spread's end.
    assert all(b - a > 1 for a, b in pairwise(waiting_at))
    working_before_last = sum(1 for f in middle[: waiting_at[-1]] if f in WORKING)
    assert working_before_last <= len(WORKING) * SPREAD
    assert [f for f in middle if f in WORKING] == WORKING


def test_without_integration_files_the_whole_call_files_keep_their_order() -> None:
    assert work_order(BROWSER + WAITING + UNIT) == BROWSER + WAITING + UNIT

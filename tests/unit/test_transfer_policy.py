"""The transfer policy: settings, the phone menu's keys, refusals, and what a time-out comes to."""

from __future__ import annotations

import pytest

from routing.matching import priority_score
from routing.transfers import (
    TransferPolicy,
    area_for_key,
    expire_after_s,
    mode_for_key,
    parse_transfer,
    refusal,
    timeout_outcome,
    transfer_score,
)

AREAS = {"family", "labor", "general"}


def test_the_section_is_optional_and_read_when_given() -> None:
    assert parse_transfer(None) == (TransferPolicy(), [])
    assert parse_transfer({"timeout_s": 60, "key": "6"}) == (TransferPolicy(60, "6"), [])


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"timeout_s": 5}, "timeout_s"),
        ({"timeout_s": True}, "timeout_s"),
        ({"key": "9"}, "key"),  # the supervisor's key in the same menu
        ({"key": "77"}, "key"),
        ({"wait_s": 3}, "wait_s"),
    ],
)
def test_bad_settings_are_named(data: dict, where: str) -> None:
    policy, problems = parse_transfer(data)
    assert policy == TransferPolicy()
    assert [problem.path for problem in problems] == [("transfer", where)]


def test_keys_choose_modes_and_areas_as_in_the_callers_menu() -> None:
    assert (mode_for_key("1"), mode_for_key("2"), mode_for_key("3")) == ("warm", "cold", None)
    keys = {"family": "1", "labor": "2", "general": "0"}
    assert (area_for_key(keys, "2"), area_for_key(keys, "0"), area_for_key(keys, "5")) == (
        "labor",
        "general",
        None,
    )


def test_a_transfer_to_its_own_area_or_nowhere_is_refused() -> None:
    ask = {"current_area": "family", "target_agent": "", "areas": AREAS}
    assert refusal(target_area="labor", **ask) == ""
    assert refusal(target_area="family", **ask) == "same-area"
    assert refusal(target_area="tax", **ask) == "unknown-area"
    # A named agent may be in the same area (a colleague), in the call's own area's name.
    named = {"current_area": "family", "target_agent": "f2", "areas": AREAS}
    assert refusal(target_area="family", **named) == ""
    assert refusal(target_area="tax", **named) == "unknown-area"


def test_the_transferred_caller_keeps_their_place_by_original_arrival() -> None:
    assert transfer_score("normal", 100.0) == priority_score("normal", 100.0)
    # Ahead of a caller of the same class who came later, behind a vulnerable one.
    assert transfer_score("normal", 100.0) < priority_score("normal", 101.0)
    assert priority_score("vulnerable", 200.0) < transfer_score("normal", 100.0)


def test_a_time_out_goes_back_warm_only_while_the_first_agent_is_on() -> None:
    assert timeout_outcome("warm", first_agent_on=True) == "back"
    assert timeout_outcome("warm", first_agent_on=False) == "expired"
    assert timeout_outcome("cold", first_agent_on=True) == "expired"


def test_a_named_agent_has_one_ring_to_answer() -> None:
    policy = TransferPolicy(timeout_s=90)
    assert expire_after_s(policy, 20, named=False) == 90
    assert expire_after_s(policy, 20, named=True) == 25
    assert expire_after_s(TransferPolicy(timeout_s=15), 20, named=True) == 15

"""Transfers of a live call, decided without I/O: the settings, the in-call menu's keys, where a
transferred caller stands in their new area's waiting room, and what a transfer nobody took
comes to.

A transferred caller is a caller already served once: they re-enter routing with their
original arrival (and priority class), so in the new area's waiting room they come before
everyone who called after them. Warm, the first agent stays on until the next accepts;
cold, the first agent leaves at once and the caller waits like anyone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routing.matching import priority_score
from routing.problems import Problem

# Warm: the first agent stays in the conference until the next accepts. Cold: they leave now.
MODES = ("warm", "cold")
# The second key of the phone's transfer menu: 1 warm, 2 cold.
MODE_KEYS = {"1": "warm", "2": "cold"}
# A transfer's states: being set up (the carrier asked to hold or move the caller), open to
# agents, taken by the next agent, back with the first agent, left in the waiting room, undone.
STATES = ("opening", "pending", "done", "back", "expired", "cancelled")
# Why a transfer could not start, each told to the first agent.
REFUSALS = ("not-talking", "callback", "agent-busy", "pending", "same-area", "unknown-area")


@dataclass(frozen=True)
class TransferPolicy:
    """The `transfer:` section of the hotline config."""

    # Seconds a transfer waits for the next agent before the caller goes back (warm) or stays
    # in the new area's waiting room like any caller (cold).
    timeout_s: int = 90
    # The in-call menu's key (after *) that opens the transfer menu.
    key: str = "7"


# Each whole-number setting's bounds (inclusive).
_NUMBERS = {"timeout_s": (15, 900)}
_FIELDS = (*_NUMBERS, "key")
# Keys the in-call menu already gives a meaning to (escalation 9 and 8, the danger key's 9).
_TAKEN_KEYS = frozenset({"8", "9", "*", "#"})


def parse_transfer(data: object) -> tuple[TransferPolicy, list[Problem]]:
    """Read the optional `transfer:` section; every problem is returned, with the defaults."""
    path = ("transfer",)
    if data is None:
        return TransferPolicy(), []
    if not isinstance(data, dict):
        return TransferPolicy(), [Problem(path, "expected a mapping")]
    expected = ", ".join(_FIELDS)
    problems = [
        Problem((*path, str(extra)), f"unknown transfer setting; expected {expected}")
        for extra in sorted(set(map(str, data)) - set(_FIELDS))
    ]
    values: dict[str, object] = {}
    for name, (low, high) in _NUMBERS.items():
        value = data.get(name, getattr(TransferPolicy, name))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(Problem((*path, name), f"expected a whole number from {low} to {high}"))
        else:
            values[name] = value
    key = str(data.get("key", TransferPolicy.key))
    if len(key) != 1 or not key.isdigit() or key in _TAKEN_KEYS:
        problems.append(Problem((*path, "key"), "expected one digit the in-call menu leaves free"))
    else:
        values["key"] = key
    if problems:
        return TransferPolicy(), problems
    return TransferPolicy(**values), []  # type: ignore[arg-type]


def transfer_score(priority: str, arrival: float) -> float:
    """The transferred caller's place in the new area: their class and original arrival."""
    return priority_score(priority, arrival)


def mode_for_key(key: str) -> str | None:
    """The transfer mode a key of the phone's menu chooses, if any."""
    return MODE_KEYS.get(key[:1])


def area_for_key(area_keys: Mapping[str, str], key: str) -> str | None:
    """The area a key chooses, with the caller's menu keys (area id to key)."""
    found = (area for area, area_key in area_keys.items() if area_key and area_key == key)
    return next(found, None)


def refusal(*, current_area: str, target_area: str, target_agent: str, areas: set[str]) -> str:
    """Why a transfer cannot be asked for as it stands ("" when it can)."""
    if target_agent:
        return "" if not target_area or target_area in areas else "unknown-area"
    if target_area not in areas:
        return "unknown-area"
    return "same-area" if target_area == current_area else ""


def timeout_outcome(mode: str, *, first_agent_on: bool) -> str:
    """What a transfer nobody took comes to: back with the first agent, or left waiting.

    Warm, the caller goes back to the first agent while that agent is still on the call;
    cold (or once the first agent has gone), they stay in the new area's waiting room.
    """
    return "back" if mode == "warm" and first_agent_on else "expired"


def expire_after_s(policy: TransferPolicy, reservation_timeout_s: int, *, named: bool) -> int:
    """When a transfer is looked at for its time-out: a named agent has one ring to answer."""
    if named:
        # One agent only: their offer's own time-out, and a few seconds for its report.
        return min(policy.timeout_s, reservation_timeout_s + 5)
    return policy.timeout_s

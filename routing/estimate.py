"""The waiting room's expected wait: an honest figure from recent talk times and staffing."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Before any call of an area has been timed, assume a typical first-line consultation.
DEFAULT_HANDLE_S = 300.0


def expected_wait_s(
    ahead: int, free_agents: int, staffed_agents: int, handle_times: Sequence[float]
) -> float | None:
    """Seconds until this caller is likely answered, or None when nobody is staffed.

    Callers ahead are served in rounds: each round, every staffed agent takes one call and
    takes the area's mean recent talk time to finish it. Agents free right now take the
    first callers at once.
    """
    if ahead < free_agents:
        return 0.0
    if staffed_agents <= 0:
        return None
    handle = sum(handle_times) / len(handle_times) if handle_times else DEFAULT_HANDLE_S
    rounds = math.ceil((ahead + 1 - free_agents) / staffed_agents)
    return rounds * handle


def spoken_minutes(seconds: float) -> int:
    """Round a wait up to whole minutes for callers; never announce zero minutes."""
    return max(1, math.ceil(seconds / 60))

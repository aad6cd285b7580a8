"""Agents without a computer: finding an agent by keypad code and PIN, with failures limited.

An agent id is entered on the keypad, letters as the keys show them ("a01" is 2 0 1), so ids
need not be numeric. Wrong PINs are counted per agent code and per calling number in Redis, so
guessing from many calls or many codes is stopped, not only within one call; each try is counted
before its PIN is checked (`queues.ratelimit.FailureLimit`), so calls arriving together get no
more checks than the limit. PINs are checked against their salted hashes
(`queues.agents.check_pin`), never compared in plain.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from queues import events, keys, sealing
from queues.agents import AgentBoard, PresenceChange, check_pin
from queues.ratelimit import FailureLimit
from queues.sealing import Sealer
from routing.pins import pin_matches

KEYPAD = {
    **{letter: digit for digit, letters in {
        "2": "abc", "3": "def", "4": "ghi", "5": "jkl",
        "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz",
    }.items() for letter in letters},
    **{digit: digit for digit in "0123456789"},
}  # fmt: skip
# Wrong PINs allowed per agent code, and per calling number, within the window.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60


@dataclass(frozen=True)
class Login:
    """The outcome of an ID and PIN: the agent, or why not (wrong or locked)."""

    agent_id: str | None
    locked: bool = False


def keypad_code(agent_id: str) -> str:
    """The digits an agent keys for their id: letters as on the keypad, other marks dropped."""
    return "".join(KEYPAD.get(char, "") for char in agent_id.lower())


class AgentLine:
    """Checks agent-line logins and sets presence, auditing each step in the event stream."""

    def __init__(self, redis: Redis, board: AgentBoard, *, sealer: Sealer | None = None):
        self.redis = redis
        self.board = board
        self._sealer = sealer
        self.limit = FailureLimit(
            redis,
            "agent-line",
            _failures_key,
            {"code": MAX_FAILURES, "caller": MAX_FAILURES},
            window_s=FAILURE_WINDOW_S,
        )

    def login(self, code: str, pin: str, *, caller: str, call_sid: str, now: float) -> Login:
        """Find the agent whose keypad code and PIN match; count a failure otherwise."""
        # Callers are counted by keyed digest: the number itself is never kept.
        digest = self._digest(caller)
        attempt = self.limit.take({"code": code or "-", "caller": digest})
        if not attempt.allowed:
            return Login(None, locked=True)
        candidates = [agent_id for agent_id in self.board.ids() if keypad_code(agent_id) == code]
        matches = [agent_id for agent_id in candidates if self._pin_matches(agent_id, pin)]
        if not candidates:
            pin_matches(None, pin)  # the same slow work, so timing does not tell a code exists
        # Two agents with the same code and PIN cannot be told apart: neither logs in.
        if len(matches) == 1:
            self.limit.succeeded(attempt, clear=("code",))
            events.append(
                self.redis, "agent-line-login", at=f"{now:.3f}", agent=matches[0], call=call_sid
            )
            return Login(matches[0])
        events.append(
            self.redis,
            "agent-line-failed",
            at=f"{now:.3f}",
            code=code,
            caller=digest or None,
            call=call_sid,
        )
        self.limit.failed(attempt, now)
        return Login(None, locked=attempt.locked)

    def set_presence(
        self, agent_id: str, presence: str, *, call_sid: str, now: float
    ) -> PresenceChange:
        """Set an agent's presence from the agent line and audit the change."""
        change = self.board.set_presence(agent_id, presence, now)
        events.append(
            self.redis,
            "agent-line-presence",
            at=f"{now:.3f}",
            agent=agent_id,
            presence=presence,
            before=change.before,
            call=call_sid,
        )
        return change

    def _digest(self, caller: str) -> str:
        """The keyed digest a calling number is counted under ("" for none)."""
        return (self._sealer or sealing.current()).digest(caller) if caller else ""

    def _pin_matches(self, agent_id: str, pin: str) -> bool:
        """Check a keyed PIN against the agent's hash; no PIN never matches."""
        return check_pin(self.redis, agent_id, pin)


def _failures_key(scope: str, who: str) -> str:
    """The counter of wrong PINs for a code keyed or a (digested) number calling."""
    return keys.agent_line_failures(f"{scope}:{who}")


def erase_person(redis: Redis, sealer: Sealer, number: str) -> int:
    """Delete the count of wrong PINs keyed from a person's number; 1 when there was one."""
    return int(redis.delete(_failures_key("caller", sealer.digest(number))))

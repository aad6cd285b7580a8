"""Faults injected on demand: REST errors, slow or lost webhooks, repeated or late callbacks."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

# The shares a run can set; each is the probability that one request gets the fault.
SHARES = (
    "rest_500",
    "rest_429",
    "rest_hang",
    "webhook_delay",
    "webhook_timeout",
    "callback_duplicate",
    "callback_reorder",
)


@dataclass
class FaultPlan:
    """What to break and how often, as shares between 0 and 1, with optional caps per fault."""

    rest_500: float = 0.0
    rest_429: float = 0.0
    # A hung request is held this many real seconds (past the client's timeout), then refused
    # with a 503 and not acted on.
    rest_hang: float = 0.0
    rest_hang_s: float = 15.0
    # Only REST paths containing this text get 500/429/hangs (empty: every REST path).
    rest_match: str = ""
    webhook_delay: float = 0.0
    webhook_delay_s: float = 3.0
    webhook_timeout: float = 0.0
    # Only webhook paths containing this text are delayed or time out (empty: every webhook).
    webhook_match: str = ""
    callback_duplicate: float = 0.0
    callback_reorder: float = 0.0
    # At most this many injections per fault name (absent: no cap), e.g. {"rest_500": 2}.
    limits: dict[str, int] = field(default_factory=dict)
    seed: int | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultPlan:
        """Build a plan from a mapping, rejecting unknown names and shares outside 0..1."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        plan = cls(**data)
        for name in SHARES:
            share = float(getattr(plan, name))
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {share}")
            setattr(plan, name, share)
        for name in plan.limits:
            if name not in SHARES:
                raise ValueError(f"limits: unknown fault {name}")
        return plan

    @classmethod
    def from_spec(cls, spec: str | None) -> FaultPlan:
        """Build a plan from inline JSON or the path of a JSON or YAML file (empty: no faults)."""
        if not spec:
            return cls()
        text = spec.strip()
        if not text.startswith("{"):
            text = Path(spec).read_text(encoding="utf-8")
        data = yaml.safe_load(text) if not text.lstrip().startswith("{") else json.loads(text)
        return cls.from_mapping(data or {})


class Faults:
    """The live fault plan of a carrier run, with a seeded dice and a count of what was injected."""

    def __init__(self, plan: FaultPlan | None = None):
        self._lock = threading.Lock()
        self.replace(plan or FaultPlan())

    def replace(self, plan: FaultPlan) -> None:
        """Switch to another plan and reset the counts (tests set one plan per scenario)."""
        with self._lock:
            self.plan = plan
            self._dice = random.Random(plan.seed)
            self.injected: dict[str, int] = {name: 0 for name in SHARES}

    def roll(self, name: str, *, target: str = "") -> bool:
        """Decide whether this request gets the named fault, and count it when it does."""
        with self._lock:
            share = getattr(self.plan, name)
            if share <= 0.0:
                return False
            if name.startswith("rest_") and self.plan.rest_match not in target:
                return False
            if name.startswith("webhook_") and self.plan.webhook_match not in target:
                return False
            cap = self.plan.limits.get(name)
            if cap is not None and self.injected[name] >= cap:
                return False
            if self._dice.random() >= share:
                return False
            self.injected[name] += 1
            return True

    def snapshot(self) -> dict[str, Any]:
        """Return the plan and the counts, for the control API."""
        with self._lock:
            return {"plan": asdict(self.plan), "injected": dict(self.injected)}

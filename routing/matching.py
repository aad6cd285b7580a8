"""The matching policy: which agent may take which waiting caller, in what order, and after.

Everything here is pure and takes `now` (epoch seconds) as an argument. `queues/` keeps the
same rules in Redis sorted sets; `choose_agent` and `choose_call` are the reference the Redis
matcher is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from routing.eligibility import may_take
from routing.problems import Problem

STRATEGIES = ("level_then_idle", "longest_idle")
# Most urgent first; crisis calls never wait here, they take their own path.
PRIORITY_CLASSES = ("vulnerable", "returning", "normal")
# Seconds between priority classes in a waiting score: more than any epoch time, so the class
# always decides before arrival does.
CLASS_SPAN = 1e10
LEVELS = (3, 2, 1)
OPEN, CAPPED = "open", "capped"
# Reasons a reservation ends without the agent taking the call: each counts as a miss.
MISS_REASONS = ("declined", "no-answer", "busy", "timeout")
# A ring that never reached the agent's phone (the carrier failed) is no miss: the caller is
# held back this long after the first such failure, twice as long after each next one, up to
# the cap, so a failing carrier is not pressed with the same call again and again.
RING_FAILURE_HOLD_S = 2.0
RING_FAILURE_HOLD_CAP_S = 30.0

DEFAULT_STEPS = ((0, 2, False), (60, 1, False), (180, 1, True))


@dataclass(frozen=True)
class Step:
    """A widening step: from `after_s` of waiting, agents at `min_level`, and general agents."""

    after_s: int
    min_level: int
    general: bool = False


@dataclass(frozen=True)
class AreaPolicy:
    """An area's widening steps, wrap-up times and the intake answers that mark a heavy call."""

    steps: tuple[Step, ...]
    wrap_up_s: int = 60
    heavy_wrap_up_s: int = 300
    heavy_answers: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingPolicy:
    """Every routing knob: per-area steps and wrap-up, ordering, misses, wellbeing, callbacks."""

    areas: Mapping[str, AreaPolicy]
    general_area: str = "general"
    languages: tuple[str, ...] = ("zh", "en")
    strategy: str = "level_then_idle"
    reservation_timeout_s: int = 20
    cool_down_s: int = 30
    pause_after: int = 2
    heavy_cap: int = 3
    heavy_window_s: int = 4 * 3600
    returning_window_s: int = 3600
    callback_attempts: int = 3
    callback_spacing_s: int = 300

    def step(self, area: str, waited_s: float) -> Step:
        """The widening step a call in an area is at after waiting so long."""
        current = self.areas[area].steps[0]
        for step in self.areas[area].steps:
            if waited_s >= step.after_s:
                current = step
        return current

    def next_widening(self, area: str, waited_s: float) -> int | None:
        """The wait (seconds) at which the area's next step starts, or None after the last."""
        later = [step.after_s for step in self.areas[area].steps if step.after_s > waited_s]
        return min(later) if later else None

    def wrap_up_s(self, area: str, *, heavy: bool) -> int:
        """Seconds of wrap-up after a call; heavy calls get longer to recover."""
        policy = self.areas[area]
        return policy.heavy_wrap_up_s if heavy else policy.wrap_up_s

    @property
    def crisis_wrap_up_s(self) -> int:
        """Seconds of wrap-up after a crisis call: the longest heavy wrap-up of any area."""
        return max((policy.heavy_wrap_up_s for policy in self.areas.values()), default=0)


def default_policy(
    area_ids: Iterable[str],
    general_area: str = "general",
    languages: Iterable[str] = ("zh", "en"),
) -> RoutingPolicy:
    """A policy with the default knobs for every area."""
    return RoutingPolicy(
        areas={area: _default_area(area, general_area) for area in area_ids},
        general_area=general_area,
        languages=tuple(languages),
    )


def _default_area(area: str, general_area: str) -> AreaPolicy:
    """Default steps; the general area takes any level at once, there is nobody wider."""
    if area == general_area:
        return AreaPolicy(steps=(Step(0, 1),))
    return AreaPolicy(steps=tuple(Step(*step) for step in DEFAULT_STEPS))


# --- the calls and agents the policy reasons about ------------------------------------------


@dataclass(frozen=True)
class WaitingCall:
    """A caller waiting for an agent: area, language, arrival and priority class."""

    call_sid: str
    area: str
    language: str
    arrival: float
    priority: str = "normal"
    heavy: bool = False
    # Held back until then after rings the carrier failed (`ring_failure_hold_s`).
    not_before: float = 0.0

    @property
    def score(self) -> float:
        """The call's place in its queue: priority class first, then arrival."""
        return priority_score(self.priority, self.arrival)


@dataclass(frozen=True)
class AgentState:
    """What routing knows of an agent at an instant: skills, presence and recovery."""

    id: str
    languages: frozenset[str]
    skills: Mapping[str, int]
    presence: str = "available"
    activity: str = "idle"
    on_shift: bool = True
    idle_since: float = 0.0
    cool_until: float = 0.0
    heavy_times: tuple[float, ...] = ()

    def level(self, area: str) -> int:
        """The agent's level in an area, 0 when they do not take it."""
        return self.skills.get(area, 0)


@dataclass(frozen=True)
class PoolGroup:
    """Agent pools searched together: the longest idle agent among them wins."""

    pools: tuple[tuple[str, int], ...]
    tiers: tuple[str, ...]

    @property
    def over_cap(self) -> bool:
        """True when this group only holds agents already at their heavy-call cap."""
        return self.tiers == (CAPPED,)


@dataclass(frozen=True)
class Choice:
    """The agent chosen for a call, and whether they were past their heavy-call cap."""

    agent_id: str
    over_cap: bool = False


@dataclass(frozen=True)
class CallSource:
    """A queue an agent can serve, and the latest arrival they may take from it now."""

    area: str
    language: str
    latest_arrival: float


@dataclass(frozen=True)
class Miss:
    """What follows a missed offer: the agent's cool-down and whether they are paused."""

    cool_down_s: int
    pause: bool


# --- the rules -------------------------------------------------------------------------------


def priority_class(*, vulnerable: bool = False, returning: bool = False) -> str:
    """The priority class of a caller: vulnerable callers first, then returning abandoners."""
    if vulnerable:
        return "vulnerable"
    return "returning" if returning else "normal"


def priority_score(priority: str, arrival: float) -> float:
    """A sortable score: a lower score is served first."""
    return PRIORITY_CLASSES.index(priority) * CLASS_SPAN + arrival


def is_capped(policy: RoutingPolicy, heavy_times: Iterable[float], now: float) -> bool:
    """Tell whether an agent took as many heavy calls as the rolling window allows."""
    recent = [t for t in heavy_times if t > now - policy.heavy_window_s]
    return len(recent) >= policy.heavy_cap


def cap_release(policy: RoutingPolicy, heavy_times: Iterable[float], now: float) -> float | None:
    """The instant a capped agent falls back under the cap, or None when not capped."""
    recent = sorted(t for t in heavy_times if t > now - policy.heavy_window_s)
    if len(recent) < policy.heavy_cap:
        return None
    return recent[len(recent) - policy.heavy_cap] + policy.heavy_window_s


def is_free(agent: AgentState, now: float) -> bool:
    """Tell whether an agent can be offered a call: present, on shift, idle and cooled down."""
    return (
        agent.presence == "available"
        and agent.activity == "idle"
        and agent.on_shift
        and agent.cool_until <= now
    )


def search_order(policy: RoutingPolicy, call: WaitingCall, now: float) -> list[PoolGroup]:
    """The agent pools to search for a call, in order, at its current widening step."""
    step = policy.step(call.area, now - call.arrival)
    levels = [level for level in LEVELS if level >= step.min_level]
    area_pools = [(call.area, level) for level in levels]
    general_pools = []
    if step.general and call.area != policy.general_area:
        general_pools = [(policy.general_area, level) for level in LEVELS]
    if policy.strategy == "longest_idle":
        ladders = [tuple(area_pools), tuple(general_pools)]
    else:
        ladders = [(pool,) for pool in area_pools + general_pools]
    ladders = [pools for pools in ladders if pools]
    if not call.heavy:
        return [PoolGroup(pools, (OPEN, CAPPED)) for pools in ladders]
    # Wellbeing: an agent at their heavy-call cap is asked only when nobody else can answer.
    return [PoolGroup(pools, (OPEN,)) for pools in ladders] + [
        PoolGroup(pools, (CAPPED,)) for pools in ladders
    ]


def agent_pools(agent_skills: Mapping[str, int]) -> list[tuple[str, int]]:
    """The (area, level) pools an agent sits in while free: one per skill."""
    return sorted(agent_skills.items())


def is_eligible(policy: RoutingPolicy, agent: AgentState, call: WaitingCall, now: float) -> bool:
    """Tell whether an agent may be offered a call now (the heavy-call cap aside)."""
    if not is_free(agent, now) or call.not_before > now:
        return False
    step = policy.step(call.area, now - call.arrival)
    return may_take(
        agent,
        call.area,
        call.language,
        general_area=policy.general_area,
        min_level=step.min_level,
        general=step.general,
    )


def choose_agent(
    policy: RoutingPolicy, call: WaitingCall, agents: Iterable[AgentState], now: float
) -> Choice | None:
    """Pick the agent for a call: first pool group with a free agent, longest idle in it."""
    if call.not_before > now:
        return None
    free = [a for a in agents if is_free(a, now) and call.language in a.languages]
    for group in search_order(policy, call, now):
        candidates = [
            agent
            for agent in free
            if any(agent.level(area) == level for area, level in group.pools)
            and _tier(policy, agent, now) in group.tiers
        ]
        if candidates:
            best = min(candidates, key=lambda agent: (agent.idle_since, agent.id))
            return Choice(best.id, over_cap=call.heavy and group.over_cap)
    return None


def _tier(policy: RoutingPolicy, agent: AgentState, now: float) -> str:
    """The pool tier an agent sits in: capped once at the heavy-call cap."""
    return CAPPED if is_capped(policy, agent.heavy_times, now) else OPEN


def call_sources(
    policy: RoutingPolicy, skills: Mapping[str, int], languages: Iterable[str], now: float
) -> list[CallSource]:
    """The queues an agent may take a call from now, each with the latest arrival allowed."""
    general_level = skills.get(policy.general_area, 0)
    sources = []
    for area, area_policy in policy.areas.items():
        level = skills.get(area, 0)
        first = next(
            (
                step
                for step in area_policy.steps
                if (level and level >= step.min_level)
                or (step.general and general_level and area != policy.general_area)
            ),
            None,
        )
        if first is not None:
            sources.extend(
                CallSource(area, language, now - first.after_s) for language in sorted(languages)
            )
    return sources


def choose_call(
    policy: RoutingPolicy, agent: AgentState, calls: Iterable[WaitingCall], now: float
) -> WaitingCall | None:
    """Pick the call for a newly free agent: priority class first, then the longest wait."""
    if not is_free(agent, now):
        return None
    eligible = [call for call in calls if is_eligible(policy, agent, call, now)]
    return min(eligible, key=lambda call: (call.score, call.call_sid), default=None)


def miss(policy: RoutingPolicy, misses_in_row: int) -> Miss:
    """The consequence of an agent's miss (count includes this one): cool down, maybe pause."""
    return Miss(policy.cool_down_s, misses_in_row >= policy.pause_after)


def ring_failure_hold_s(failures: int) -> float:
    """How long a call is held back after the carrier failed to ring for it `failures` times."""
    if failures < 1:
        return 0.0
    # The exponent is capped too: the cap is reached long before, and 2.0 ** n must not overflow.
    return min(RING_FAILURE_HOLD_S * 2.0 ** min(failures - 1, 30), RING_FAILURE_HOLD_CAP_S)


def is_heavy(
    policy: RoutingPolicy,
    area: str,
    answers: Mapping[str, str],
    *,
    crisis: bool = False,
    flagged: bool = False,
) -> bool:
    """Tell whether a call weighs on the agent: crisis, or an intake answer or agent's flag."""
    if crisis or flagged:
        return True
    marks = policy.areas[area].heavy_answers if area in policy.areas else {}
    return any(answers.get(question) in keys for question, keys in marks.items())


# --- the routing: config section -------------------------------------------------------------


class _Reader:
    """Reads the routing section, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        """Record a problem at a path."""
        self.problems.append(Problem(path, message))

    def mapping(self, data: object, path: tuple[str | int, ...], known: Iterable[str]) -> dict:
        """Return a mapping (empty when absent) and report keys it does not know."""
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            self.fail(path, "expected a mapping")
            return {}
        allowed = set(known)
        for key in data:
            if str(key) not in allowed:
                self.fail((*path, str(key)), f"unknown key; expected one of {sorted(allowed)}")
        return dict(data)

    def number(
        self, data: Mapping, key: str, path: tuple, default: int, low: int, high: int
    ) -> int:
        """Return a whole number within bounds, the default when absent."""
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail((*path, key), f"expected a whole number from {low} to {high}")
            return default
        return value


_TOP_KEYS = (
    "strategy",
    "reservation_timeout_s",
    "misses",
    "wellbeing",
    "returning_window_s",
    "callbacks",
    "defaults",
    "areas",
)
_AREA_KEYS = ("steps", "wrap_up_s", "heavy_wrap_up_s", "heavy_answers")
DAY_S = 24 * 3600


def parse_routing(
    data: object,
    *,
    area_ids: Iterable[str],
    general_area: str = "general",
    languages: Iterable[str] = ("zh", "en"),
) -> tuple[RoutingPolicy | None, list[Problem]]:
    """Build the policy from a `routing:` config section (absent: defaults), or every problem."""
    areas = list(area_ids)
    read = _Reader()
    root = ("routing",)
    section = read.mapping(data, root, _TOP_KEYS)
    strategy = section.get("strategy", "level_then_idle")
    if strategy not in STRATEGIES:
        read.fail((*root, "strategy"), f"expected one of {list(STRATEGIES)}")
    misses = read.mapping(section.get("misses"), (*root, "misses"), ("cool_down_s", "pause_after"))
    wellbeing = read.mapping(
        section.get("wellbeing"), (*root, "wellbeing"), ("heavy_cap", "window_s")
    )
    callbacks = read.mapping(
        section.get("callbacks"), (*root, "callbacks"), ("attempts", "spacing_s")
    )
    defaults = read.mapping(section.get("defaults"), (*root, "defaults"), _AREA_KEYS)
    base = _area(read, defaults, (*root, "defaults"), None)
    overrides = read.mapping(section.get("areas"), (*root, "areas"), areas)
    area_policies = {}
    for area in areas:
        start = base if area != general_area or "steps" in defaults else _general_base(base)
        path = (*root, "areas", area)
        area_policies[area] = _area(
            read, read.mapping(overrides.get(area), path, _AREA_KEYS), path, start
        )
    policy = RoutingPolicy(
        areas=area_policies,
        general_area=general_area,
        languages=tuple(languages),
        strategy=strategy if strategy in STRATEGIES else "level_then_idle",
        reservation_timeout_s=read.number(section, "reservation_timeout_s", root, 20, 5, 120),
        cool_down_s=read.number(misses, "cool_down_s", (*root, "misses"), 30, 0, 3600),
        pause_after=read.number(misses, "pause_after", (*root, "misses"), 2, 1, 20),
        heavy_cap=read.number(wellbeing, "heavy_cap", (*root, "wellbeing"), 3, 1, 50),
        heavy_window_s=read.number(wellbeing, "window_s", (*root, "wellbeing"), 14400, 60, DAY_S),
        returning_window_s=read.number(section, "returning_window_s", root, 3600, 0, DAY_S),
        callback_attempts=read.number(callbacks, "attempts", (*root, "callbacks"), 3, 1, 10),
        callback_spacing_s=read.number(
            callbacks, "spacing_s", (*root, "callbacks"), 300, 10, DAY_S
        ),
    )
    if read.problems:
        return None, read.problems
    return policy, []


def _general_base(base: AreaPolicy) -> AreaPolicy:
    """The general area's default: any level at once (widening to general agents is moot)."""
    return AreaPolicy((Step(0, 1),), base.wrap_up_s, base.heavy_wrap_up_s, base.heavy_answers)


def _area(read: _Reader, data: Mapping, path: tuple, base: AreaPolicy | None) -> AreaPolicy:
    """Read one area's knobs on top of a base (the defaults)."""
    fallback = base or AreaPolicy(steps=tuple(Step(*step) for step in DEFAULT_STEPS))
    steps = _steps(read, data["steps"], (*path, "steps")) if "steps" in data else fallback.steps
    wrap = read.number(data, "wrap_up_s", path, fallback.wrap_up_s, 0, 3600)
    heavy_wrap = read.number(data, "heavy_wrap_up_s", path, fallback.heavy_wrap_up_s, 0, 7200)
    if heavy_wrap < wrap:
        read.fail((*path, "heavy_wrap_up_s"), "must be at least wrap_up_s")
    heavy = fallback.heavy_answers
    if "heavy_answers" in data:
        heavy = _heavy_answers(read, data["heavy_answers"], (*path, "heavy_answers"))
    return AreaPolicy(steps, wrap, heavy_wrap, heavy)


def _steps(read: _Reader, data: object, path: tuple) -> tuple[Step, ...]:
    """Read widening steps: start at 0 s, later each time, never narrowing."""
    if not isinstance(data, list) or not data:
        read.fail(path, "expected a list of steps such as {after_s: 0, min_level: 2}")
        return (Step(0, 1),)
    steps: list[Step] = []
    for index, entry in enumerate(data):
        where = (*path, index)
        fields = read.mapping(entry, where, ("after_s", "min_level", "general"))
        if not isinstance(entry, Mapping):
            continue
        previous = steps[-1] if steps else None
        after = read.number(fields, "after_s", where, 0, 0, DAY_S)
        level = read.number(fields, "min_level", where, previous.min_level if previous else 1, 1, 3)
        general = fields.get("general", previous.general if previous else False)
        if not isinstance(general, bool):
            read.fail((*where, "general"), "expected true or false")
            general = False
        if previous is None and after != 0:
            read.fail((*where, "after_s"), "the first step starts at 0")
        if previous is not None:
            if after <= previous.after_s:
                read.fail((*where, "after_s"), "each step starts later than the one before")
            if level > previous.min_level or (previous.general and not general):
                read.fail(where, "a later step may only widen (lower min_level, add general)")
        steps.append(Step(after, level, general))
    return tuple(steps)


def _heavy_answers(read: _Reader, data: object, path: tuple) -> dict[str, frozenset[str]]:
    """Read {question id: [answer keys]} that mark a call heavy."""
    if not isinstance(data, Mapping):
        read.fail(path, "expected {question id: [answer keys]}")
        return {}
    marks: dict[str, frozenset[str]] = {}
    for question, answer_keys in data.items():
        if not isinstance(answer_keys, list) or not all(isinstance(k, str) for k in answer_keys):
            read.fail((*path, str(question)), 'expected a list of quoted keys, such as ["1"]')
            continue
        marks[str(question)] = frozenset(answer_keys)
    return marks

"""The four promises the chaos suite checks after each scenario, as pure functions of what the
scenario collected: the event stream, the carrier's transcripts and REST exchanges, the
supervisors' alert feed, and the routing state left in Redis.

(a) every caller has exactly one outcome: an agent, a crisis taker or line, a message, a
    callback, or hanging up unanswered; never none, never two, and the event stream never
    counts a call otherwise than the caller lived it.
(b) no caller waits more than `MAX_WAIT_S` while an agent who could take them is free: from the
    event stream (app wall-clock times), the longest stretch during which a caller was waiting
    (queued, back after a miss, or held after a failed ring) and an eligible agent was free
    (present, not reserved, talking or in a crisis call, past wrap-up and cool-down, not paused);
    stretches inside the fault's own window (Redis down, the carrier's REST API failing) are not
    counted, since nothing can be offered then.
(c) no agent is double-booked (an offer while another reservation or a crisis call of theirs is
    open, or two answered legs at once at the carrier) and no miss or pause is charged for a ring
    that never reached the agent's phone or that the agent accepted.
(d) every alert reached the supervisors' console: each standing condition raised, crisis alert
    and pause in the event stream is in the alert feed of the JSON API; every caller who took
    the crisis path has a crisis alert there; the conditions the fault must raise were raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from routing.matching import MISS_REASONS

MAX_WAIT_S = 10.0
INVARIANTS = ("a", "b", "c", "d")
TITLES = {
    "a": "(a) one outcome",
    "b": f"(b) wait <= {MAX_WAIT_S:.0f} s",
    "c": "(c) no double booking",
    "d": "(d) alerts seen",
}
# A callback's offer ends without a call: the caller did not pick up (tried again later, or the
# last try closed it; the agent wraps up until the event's `until`), or the agent hung up before
# they did (free at once).
_CALLBACK_ENDS = ("callback-retry", "callback-closed", "callback-agent-left")
# Events that end an offer (the agent is free again, or moves on to wrap-up from `wrap-up`).
_OFFER_ENDS = (*MISS_REASONS, "not-rung", "wrap-up", *_CALLBACK_ENDS)
# An accepted offer whose agent's leg ended before they joined the conference: the offer is
# over and the caller waits again (believed only when the carrier saw that leg end, unbridged).
_NOT_JOINED = "not-joined"
# Events that take a call out of the waiting room for good.
_LEAVES = ("abandoned", "voicemail", "crisis", "left", "closed")


@dataclass
class Cell:
    """One invariant's verdict for one scenario: ok, or the first failures in short."""

    ok: bool = True
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        """Record a failure."""
        self.ok = False
        if reason not in self.reasons:
            self.reasons.append(reason)

    def text(self) -> str:
        """The table cell: ok, or FAIL and the first reason."""
        if self.ok:
            return "ok"
        more = f" (+{len(self.reasons) - 1})" if len(self.reasons) > 1 else ""
        return f"FAIL {self.reasons[0]}{more}"


@dataclass
class Window:
    """A stretch of wall-clock time when the fault made offering impossible."""

    start: float
    end: float
    why: str


@dataclass(frozen=True)
class AgentStart:
    """An agent's routing state when a scenario starts."""

    present: bool
    paused: bool = False
    reservation: str = ""
    crisis: bool = False
    wrap_until: float = 0.0
    cool_until: float = 0.0


@dataclass
class Evidence:
    """Everything a scenario collected for the checks."""

    # Callers placed, by call SID, with the step each was at when the fault hit.
    callers: dict[str, str]
    transcripts: dict[str, dict[str, Any]]
    events: list[dict[str, str]]
    exchanges: list[dict[str, Any]]
    alert_feed: list[dict[str, Any]] | None
    # Agent id -> (areas, languages) they can take.
    eligible: dict[str, tuple[set[str], set[str]]]
    # Agent id -> how they stood at the scenario's start.
    agents_at_start: dict[str, AgentStart]
    start: float
    end: float
    cool_down_s: float
    windows: list[Window] = field(default_factory=list)
    # Conditions the fault must raise (and so the supervisors must see), e.g. carrier_unreachable.
    expected_conditions: set[str] = field(default_factory=set)
    # Calls Redis still holds as waiting or ringing although the carrier says they ended.
    stranded: dict[str, str] = field(default_factory=dict)
    # Answered legs of one agent at once, sampled at the carrier.
    leg_overlaps: list[str] = field(default_factory=list)
    callback_prompt: str = ""
    # Real seconds per call second at the carrier, to date agents' legs on the wall clock.
    time_scale: float = 1.0
    wrap_up_s: float = 0.0


def short(call_sid: str) -> str:
    """A call SID short enough for a table cell."""
    return call_sid[:8]


# (a) ---------------------------------------------------------------------------------------


def lived_outcomes(transcript: dict[str, Any], callback_prompt: str = "") -> list[str]:
    """What the caller lived, from the carrier's transcript: every outcome found, in order."""
    entries = transcript.get("entries", [])
    outcome = transcript.get("outcome", {})
    via_crisis = any(
        e["kind"] == "webhook" and str(e.get("path", "")).startswith("/voice/crisis")
        for e in entries
    )
    found: list[str] = []
    for bridged in outcome.get("bridged_to", []):
        role, name = bridged.get("role"), bridged.get("name")
        if role == "crisis-line":
            what = "crisis line"
        elif via_crisis:
            what = f"crisis taker {name}"
        else:
            what = f"{role or 'party'} {name}"
        if what not in found:
            found.append(what)
    if outcome.get("voicemail"):
        found.append("voicemail")
    if callback_prompt and any(
        e["kind"] == "heard" and e.get("text") == callback_prompt for e in entries
    ):
        found.append("callback")
    if not found and outcome.get("ended_by") == "caller":
        found.append("abandoned")
    return found


def check_outcomes(evidence: Evidence) -> Cell:
    """(a): exactly one outcome per caller, and the event stream agrees with it."""
    cell = Cell()
    by_call: dict[str, list[dict[str, str]]] = {}
    for event in evidence.events:
        if "call" in event:
            by_call.setdefault(event["call"], []).append(event)
    for call_sid, step in evidence.callers.items():
        transcript = evidence.transcripts.get(call_sid)
        if transcript is None or not transcript.get("finished"):
            cell.fail(f"{step} caller {short(call_sid)} never ended")
            continue
        lived = lived_outcomes(transcript, evidence.callback_prompt)
        if not lived:
            summary = transcript.get("outcome", {}).get("summary") or "?"
            cell.fail(f"{step} caller: no outcome ({summary})")
            continue
        if len(lived) > 1:
            cell.fail(f"{step} caller: {' and '.join(lived)}")
            continue
        counted = by_call.get(call_sid, [])
        answered_by = {e["agent"] for e in counted if e["kind"] == "bridged" and e.get("agent")}
        took = {e["agent"] for e in counted if e["kind"] == "crisis-engaged" and e.get("agent")}
        (what,) = lived
        if what == "abandoned" and (answered_by or took):
            cell.fail(f"{step} caller hung up unanswered, counted answered")
        if what.startswith("agent ") and any(e["kind"] == "abandoned" for e in counted):
            cell.fail(f"{step} caller answered, counted abandoned")
        if what.startswith("agent ") and answered_by - {what.split(" ", 1)[1]}:
            cell.fail(f"{step} caller answered by {what}, counted {sorted(answered_by)}")
    for call_sid, state in evidence.stranded.items():
        step = evidence.callers.get(call_sid, "a")
        cell.fail(f"{step} caller ended but still {state} in routing")
    return cell


# Agents' legs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ring:
    """An agent's leg rung for a reservation, as the carrier lived it."""

    reservation: str
    leg: str
    # Wall-clock times: when the carrier took the ring, and when the leg ended (None: still
    # up, or its transcript unknown).
    rung_at: float
    ended_at: float | None
    answered: bool
    pressed: tuple[str, ...]
    ended_by: str


def rings(evidence: Evidence) -> dict[str, Ring]:
    """Every ring the carrier accepted, by reservation, with what happened on the leg."""
    found = {}
    for exchange in evidence.exchanges:
        reservation, leg = _ring_of(exchange)
        if not reservation:
            continue
        transcript = evidence.transcripts.get(leg) or {}
        entries = transcript.get("entries", [])
        hangups = [e for e in entries if e["kind"] == "hangup"]
        rung_at = float(exchange.get("received_at") or 0)
        ended_at = rung_at + hangups[-1]["t"] * evidence.time_scale if hangups else None
        found[reservation] = Ring(
            reservation=reservation,
            leg=leg,
            rung_at=rung_at,
            ended_at=ended_at,
            answered=any(e["kind"] == "answered" for e in entries),
            pressed=tuple(e.get("keys", "") for e in entries if e["kind"] == "pressed"),
            ended_by=hangups[-1].get("by", "") if hangups else "",
        )
    return found


def timeline(evidence: Evidence) -> list[dict[str, str]]:
    """The events in time order, with what the carrier lived added: `rung` when an agent's
    phone was rung for an offer (until then nobody is called), `leg-ended` when that phone
    went down (from then on the agent is free, whatever Redis still says)."""
    calls = {e["reservation"]: (e["agent"], e["call"]) for e in evidence.events
             if e["kind"] == "offered" and e.get("reservation")}  # fmt: skip
    extra = []
    for reservation, ring in rings(evidence).items():
        if reservation not in calls:
            continue
        agent, call = calls[reservation]
        facts = {"agent": agent, "call": call, "reservation": reservation}
        extra.append({"kind": "rung", "at": f"{ring.rung_at:.3f}", **facts})
        if ring.ended_at is not None:
            extra.append({"kind": "leg-ended", "at": f"{ring.ended_at:.3f}", **facts})
    return sorted([*evidence.events, *extra], key=lambda e: float(e["at"]))


# (b) ---------------------------------------------------------------------------------------


@dataclass
class _AgentState:
    present: bool
    paused: bool = False
    offers: set[str] = field(default_factory=set)
    crisis: bool = False
    wrap_until: float = 0.0
    cool_until: float = 0.0

    def free_from(self, now: float) -> float | None:
        """From when the agent is free, given no further event (None: not free)."""
        if not self.present or self.paused or self.offers or self.crisis:
            return None
        return max(now, self.wrap_until, self.cool_until)


def free_intervals(evidence: Evidence) -> dict[str, list[tuple[float, float]]]:
    """Each agent's free stretches between the scenario's start and end, from the events."""
    states = {
        agent: _AgentState(
            present=start.present,
            paused=start.paused,
            offers={start.reservation} if start.reservation else set(),
            crisis=start.crisis,
            wrap_until=start.wrap_until,
            cool_until=start.cool_until,
        )
        for agent, start in evidence.agents_at_start.items()
    }
    free: dict[str, list[tuple[float, float]]] = {agent: [] for agent in states}
    since: dict[str, float | None] = {a: s.free_from(evidence.start) for a, s in states.items()}
    accepted: set[str] = set()
    pending: set[str] = set()
    for event in timeline(evidence):
        agent = event.get("agent", "")
        if agent not in states:
            continue
        at, kind, state = float(event["at"]), event["kind"], states[agent]
        reservation = event.get("reservation", "")
        if kind == "offered":
            # Nobody is called until the carrier takes the ring: the agent is still free.
            pending.add(reservation)
        elif kind == "rung" and reservation in pending:
            pending.discard(reservation)
            state.offers.add(reservation)
        elif kind == "accepted":
            accepted.add(reservation)
            if reservation in pending:
                pending.discard(reservation)
                state.offers.add(reservation)
        elif kind == "leg-ended" and reservation in state.offers:
            # The phone is down: a ring that went nowhere frees them, a call ends in wrap-up.
            state.offers.discard(reservation)
            if reservation in accepted:
                state.wrap_until = max(state.wrap_until, at + evidence.wrap_up_s)
        elif kind in MISS_REASONS:
            pending.discard(reservation)
            state.offers.discard(reservation)
            state.cool_until = at + evidence.cool_down_s
        elif kind == "paused":
            state.paused = True
        elif kind in ("not-rung", _NOT_JOINED) or (
            kind == "caller-gone" and reservation not in accepted
        ):
            pending.discard(reservation)
            state.offers.discard(reservation)
        elif kind == "wrap-up":
            state.offers.discard(reservation)
            state.wrap_until = float(event.get("until", at))
        elif kind in _CALLBACK_ENDS:
            state.offers.discard(reservation)
            if event.get("until"):
                state.wrap_until = float(event["until"])
        elif kind == "crisis-engaged":
            state.crisis = True
        elif kind == "crisis-released":
            state.crisis = False
            state.wrap_until = at + float(event.get("wrap_s", 0))
        elif kind == "presence":
            state.present = event.get("presence") == "available"
            if state.present:
                state.paused = False
        else:
            continue
        was, now_from = since[agent], state.free_from(at)
        if was is not None and (now_from is None or now_from > was):
            if at > was:
                free[agent].append((was, at))
            since[agent] = now_from
        elif was is None:
            since[agent] = now_from
    for agent, was in since.items():
        if was is not None and evidence.end > was:
            free[agent].append((was, evidence.end))
    return free


def waiting_intervals(evidence: Evidence) -> dict[str, list[tuple[float, float, str, str]]]:
    """Each routed call's waiting stretches: (from, to, area, language)."""
    waiting: dict[str, list[tuple[float, float, str, str]]] = {}
    since: dict[str, float] = {}
    where: dict[str, tuple[str, str]] = {}
    # The reservation each call is offered in now, until it is accepted or ends.
    offered: dict[str, str] = {}
    for event in timeline(evidence):
        call, kind = event.get("call", ""), event["kind"]
        if not call:
            continue
        at = float(event["at"])
        if kind == "queued":
            where[call] = (event.get("area", ""), event.get("language", ""))
            since.setdefault(call, at)
        elif call not in where:
            continue
        elif kind == "offered":
            offered[call] = event.get("reservation", "")
        elif kind in ("rung", "accepted") and offered.get(call) == event.get("reservation"):
            # The agent's phone rings for them (or they took the call): the wait is over.
            if kind == "accepted":
                offered.pop(call)
            started = since.pop(call, None)
            if started is not None:
                waiting.setdefault(call, []).append((started, at, *where[call]))
        elif kind in (*MISS_REASONS, "not-rung", _NOT_JOINED) or (
            kind == "leg-ended" and offered.get(call) == event.get("reservation")
        ):
            # Back in their place (a caller held after a failed ring waits all the same, and
            # one whose agent's phone is down waits whatever Redis still says).
            offered.pop(call, None)
            since.setdefault(call, at)
        elif kind in _LEAVES or kind == "caller-gone":
            offered.pop(call, None)
            area = where.pop(call)
            started = since.pop(call, None)
            if started is not None:
                waiting.setdefault(call, []).append((started, at, *area))
    for call, started in since.items():
        if call in where:
            waiting.setdefault(call, []).append((started, evidence.end, *where[call]))
    return waiting


def _overlap(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The intersection of two lists of intervals."""
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            start, end = max(s1, s2), min(e1, e2)
            if end > start:
                out.append((start, end))
    return sorted(out)


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge overlapping intervals."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _minus(
    intervals: list[tuple[float, float]], holes: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Intervals with the holes cut out."""
    out = intervals
    for h_start, h_end in holes:
        cut = []
        for start, end in out:
            if h_end <= start or h_start >= end:
                cut.append((start, end))
                continue
            if start < h_start:
                cut.append((start, h_start))
            if h_end < end:
                cut.append((h_end, end))
        out = cut
    return out


def check_waits(evidence: Evidence) -> tuple[Cell, float]:
    """(b): the longest wait with an eligible agent free; a failure above MAX_WAIT_S."""
    cell = Cell()
    free = free_intervals(evidence)
    holes = [(w.start, w.end) for w in evidence.windows]
    longest = 0.0
    for call, stretches in waiting_intervals(evidence).items():
        for start, end, area, language in stretches:
            agents = [
                agent
                for agent, (areas, languages) in evidence.eligible.items()
                if area in areas and language in languages
            ]
            any_free = _merge([span for agent in agents for span in free.get(agent, [])])
            for s, e in _minus(_overlap([(start, end)], any_free), holes):
                if e - s > longest:
                    longest = e - s
                if e - s > MAX_WAIT_S:
                    step = evidence.callers.get(call, "a")
                    who = ", ".join(a for a in agents if _overlap([(s, e)], free.get(a, [])))
                    cell.fail(f"{step} caller waited {e - s:.1f} s with {who} free")
    cell.notes.append(f"longest wait with an eligible agent free: {longest:.1f} s")
    return cell, longest


# (c) ---------------------------------------------------------------------------------------


def rings_by_reservation(exchanges: list[dict[str, Any]]) -> dict[str, str]:
    """Reservation id -> the agent leg's SID, for every ring the carrier accepted."""
    found = (_ring_of(exchange) for exchange in exchanges)
    return {reservation: leg for reservation, leg in found if reservation}


def _ring_of(exchange: dict[str, Any]) -> tuple[str, str]:
    """The reservation and agent leg of a REST exchange that rang an agent, or ('', '')."""
    if exchange.get("method") != "POST" or not exchange.get("path", "").endswith("/Calls.json"):
        return "", ""
    if exchange.get("status") != 201:
        return "", ""
    url = dict(exchange.get("form", [])).get("Url", "")
    reservation = parse_qs(urlsplit(url).query).get("res", [""])[0]
    if not reservation or not url.split("?")[0].endswith("/voice/agent/whisper"):
        return "", ""
    return reservation, (exchange.get("json") or {}).get("sid", "")


def check_bookings(evidence: Evidence) -> Cell:
    """(c): never two open offers (or an offer and a crisis call) for one agent; no false miss."""
    cell = Cell()
    starts = evidence.agents_at_start
    open_offers = {a: {s.reservation} for a, s in starts.items() if s.reservation}
    in_crisis = {agent for agent, start in starts.items() if start.crisis}
    accepted: set[str] = set()
    rung = rings(evidence)
    gone: set[str] = set()
    misses: dict[str, list[tuple[str, str]]] = {}
    bridged = {e.get("reservation", "") for e in evidence.events if e["kind"] == "bridged"}
    for event in evidence.events:
        agent, kind = event.get("agent", ""), event["kind"]
        reservation = event.get("reservation", "")
        if not agent:
            continue
        offers = open_offers.setdefault(agent, set())
        if kind == "offered":
            if offers or agent in in_crisis:
                busy = ", ".join(sorted(offers)) or "a crisis call"
                cell.fail(f"{agent} offered {reservation[:8]} while on {busy[:8]}")
            offers.add(reservation)
        elif kind == "accepted":
            accepted.add(reservation)
        elif kind == "crisis-engaged":
            if offers:
                cell.fail(f"{agent} took a crisis call while offered {sorted(offers)[0][:8]}")
            in_crisis.add(agent)
        elif kind == "crisis-released":
            in_crisis.discard(agent)
        elif kind == "caller-gone" and reservation not in accepted:
            gone.add(reservation)
            offers.discard(reservation)
        elif kind == _NOT_JOINED:
            offers.discard(reservation)
            ring = rung.get(reservation)
            if ring is None or ring.ended_at is None:
                cell.fail(f"{agent} freed from {reservation[:8]} with their leg still up")
            elif reservation in bridged:
                cell.fail(f"{agent} freed from {reservation[:8]}, a call they were bridged on")
        elif kind in _OFFER_ENDS:
            offers.discard(reservation)
            if kind in MISS_REASONS:
                misses.setdefault(agent, []).append((reservation, kind))
                problem = _false_miss(reservation, kind, rung, gone)
                if problem:
                    cell.fail(f"{agent} charged a {kind}: {problem}")
        elif kind == "paused":
            count = int(event.get("misses", "0") or 0)
            charged = misses.get(agent, [])[-count:] if count else []
            for reservation_id, reason in charged:
                problem = _false_miss(reservation_id, reason, rung, gone)
                if problem:
                    cell.fail(f"{agent} paused after a {reason}: {problem}")
    for overlap in evidence.leg_overlaps:
        cell.fail(overlap)
    return cell


def _false_miss(reservation: str, reason: str, rung: dict[str, Ring], gone: set[str]) -> str:
    """Why a miss was not the agent's doing, or '' when it was a real one."""
    if reservation in gone:
        return "the caller had left"
    ring = rung.get(reservation)
    if ring is None:
        return "the ring never reached the carrier"
    if "1" in ring.pressed and reason != "declined":
        return "the agent pressed 1"
    if reason in ("no-answer", "timeout") and ring.answered and ring.ended_by in ("app", "carrier"):
        return "the agent answered and the hotline hung up"
    return ""


# (d) ---------------------------------------------------------------------------------------


def check_alerts(evidence: Evidence) -> Cell:
    """(d): conditions, crisis alerts and pauses of the stream are in the console's feed."""
    cell = Cell()
    if evidence.alert_feed is None:
        cell.fail("the alert feed did not answer")
        return cell
    feed_ids = {alert["id"] for alert in evidence.alert_feed}
    feed_calls = {alert.get("call") for alert in evidence.alert_feed if alert["kind"] == "crisis"}
    raised: dict[str, float] = {}
    for event in evidence.events:
        kind = event["kind"]
        must_show = (kind == "alert" and event.get("alert") == "condition") or kind in (
            "crisis",
            "paused",
            "condition-cleared",
        )
        if must_show and event["id"] not in feed_ids:
            what = event.get("condition") or event.get("call", "")[:8] or event.get("agent", "")
            cell.fail(f"{kind} {what} not in the alert feed")
        if kind == "alert" and event.get("condition"):
            raised.setdefault(event["condition"], float(event["at"]))
        if kind == "crisis-alert" and event.get("call") not in feed_calls:
            cell.fail(f"crisis alert for {event.get('call', '')[:8]} not in the alert feed")
    for call_sid, step in evidence.callers.items():
        transcript = evidence.transcripts.get(call_sid) or {}
        crisis = any(w.startswith(("crisis taker", "crisis line")) for w in
                     lived_outcomes(transcript))  # fmt: skip
        if crisis and call_sid not in feed_calls:
            cell.fail(f"{step} caller's crisis call not in the alert feed")
    for condition in sorted(evidence.expected_conditions):
        if condition not in raised:
            cell.fail(f"{condition} never raised")
            continue
        during = [w for w in evidence.windows if w.start - 1 <= raised[condition] <= w.end + 1]
        if evidence.windows and not during:
            cell.fail(f"{condition} raised outside the fault")
    return cell


def judge(evidence: Evidence) -> dict[str, Cell]:
    """Every invariant's cell for one scenario."""
    waits, _ = check_waits(evidence)
    return {
        "a": check_outcomes(evidence),
        "b": waits,
        "c": check_bookings(evidence),
        "d": check_alerts(evidence),
    }


def evidence_from_json(data: dict[str, Any]) -> Evidence:
    """Read back the evidence a scenario kept as JSON, to judge it again."""
    fields = dict(data)
    fields["agents_at_start"] = {
        agent: AgentStart(**start) for agent, start in fields["agents_at_start"].items()
    }
    fields["windows"] = [Window(**window) for window in fields["windows"]]
    fields["expected_conditions"] = set(fields["expected_conditions"])
    return Evidence(**fields)

"""Every Redis key the hotline uses, in one place; no other module writes a key literal."""

from __future__ import annotations

PREFIX = "hotline"


def call(call_sid: str) -> str:
    """Hash of one call's facts: caller, language, area, intake, status."""
    return f"{PREFIX}:call:{call_sid}"


def events() -> str:
    """Stream of every state change, read by reports and the wallboard."""
    return f"{PREFIX}:events"


def health_probe() -> str:
    """Key written by the health check to prove Redis accepts writes."""
    return f"{PREFIX}:health"


# --- Routing: agents, waiting calls, reservations and their timers. -------------------------
# Every key that names one thing ends with that thing's id, so the routing script builds it
# from the prefix these functions return for an empty id (see queues/script.py).


def agents() -> str:
    """Set of the ids of every agent on the current roster."""
    return f"{PREFIX}:agents"


def roster() -> str:
    """The current roster as YAML, as last imported, for export."""
    return f"{PREFIX}:roster"


def agent(agent_id: str) -> str:
    """Hash of one agent: roster facts (skills, languages, shifts) and routing state."""
    return f"{PREFIX}:agent:{agent_id}"


def agent_heavy_calls(agent_id: str) -> str:
    """Sorted set of an agent's recent heavy calls (reservation id by end time)."""
    return f"{PREFIX}:agent-heavy:{agent_id}"


def agent_pool(area: str, language: str, level: int, tier: str) -> str:
    """Sorted set of free agents with a level in an area and a language, by idle-since time."""
    return f"{PREFIX}:pool:{area}:{language}:{level}:{tier}"


def crisis_pool(language: str) -> str:
    """Sorted set of free crisis-trained agents speaking a language, by idle-since time."""
    return f"{PREFIX}:crisis-pool:{language}"


def waiting(area: str, language: str) -> str:
    """Sorted set of calls waiting for an area in a language, by priority class then arrival."""
    return f"{PREFIX}:waiting:{area}:{language}"


def queued_call(call_sid: str) -> str:
    """Hash of a call's routing state: area, language, place, reservation and outcome."""
    return f"{PREFIX}:queued:{call_sid}"


def reservation(reservation_id: str) -> str:
    """Hash of one reservation: the call, the agent, its state and times."""
    return f"{PREFIX}:reservation:{reservation_id}"


def transfer(call_sid: str) -> str:
    """Hash of a call's latest transfer: from whom, to where, warm or cold, and its state."""
    return f"{PREFIX}:transfer:{call_sid}"


def transfer_parking() -> str:
    """Sorted set where a call transferred to one named agent waits: no match looks in it."""
    return f"{PREFIX}:transfer-parking"


def due_reservations() -> str:
    """Sorted set of ringing reservations by the time they time out."""
    return f"{PREFIX}:due:reservations"


def due_wrap_ups() -> str:
    """Sorted set of agents in wrap-up by the time it ends."""
    return f"{PREFIX}:due:wrap-ups"


def due_cool_downs() -> str:
    """Sorted set of agents cooling down after a missed offer, by the time it ends."""
    return f"{PREFIX}:due:cool-downs"


def due_cap_releases() -> str:
    """Sorted set of agents at their heavy-call cap, by the time they fall back under it."""
    return f"{PREFIX}:due:cap-releases"


def due_shift_changes() -> str:
    """Sorted set of agents by the time they next go on or off shift."""
    return f"{PREFIX}:due:shift-changes"


def due_widenings() -> str:
    """Sorted set of waiting calls by the time their skill requirement next widens."""
    return f"{PREFIX}:due:widenings"


def due_callbacks() -> str:
    """Sorted set of callbacks waiting to be retried, by the time they rejoin their queue."""
    return f"{PREFIX}:due:callbacks"


def due_held_calls() -> str:
    """Sorted set of calls held back after the carrier failed to ring for them, by release time."""
    return f"{PREFIX}:due:held-calls"


def due_leg_checks() -> str:
    """Sorted set of calls in routing by the time their Twilio leg is next looked up."""
    return f"{PREFIX}:due:leg-checks"


def leg_check_hold() -> str:
    """Marker (with a time to live) that a leg check is queued, or that Twilio had trouble."""
    return f"{PREFIX}:leg-check-hold"


def returning_caller(caller_digest: str) -> str:
    """Marker (with a time to live) that a caller hung up while waiting, by keyed digest."""
    return f"{PREFIX}:returning:{caller_digest}"


def handle_times(area: str) -> str:
    """List of the latest talk times (seconds) in an area, newest first, for wait estimates."""
    return f"{PREFIX}:handle-times:{area}"


def rate_limit(name: str) -> str:
    """The next free slot (epoch seconds) of a rate limit, such as outbound calls."""
    return f"{PREFIX}:rate:{name}"


def incident(call_sid: str) -> str:
    """Append-only stream of one crisis call's steps: trigger, lines rung, answers, outcome."""
    return f"{PREFIX}:incident:{call_sid}"


def incidents() -> str:
    """Sorted set of crisis calls by the time their incident opened, for export and consoles."""
    return f"{PREFIX}:incidents"


def incident_holds() -> str:
    """Hash of each incident under legal hold (call SID) to who put it, when and why (JSON)."""
    return f"{PREFIX}:incident-holds"


def voicemail_message(recording_sid: str) -> str:
    """Hash of one voicemail message: call facts, caller number, measures, urgency and state."""
    return f"{PREFIX}:voicemail:{recording_sid}"


def voicemail_claim(recording_sid: str) -> str:
    """Short-lived claim on a message, so only one worker processes a recording at a time."""
    return f"{PREFIX}:voicemail:{recording_sid}:claim"


def voicemail_index() -> str:
    """Sorted set of voicemail message ids scored by creation time (inbox order, retention)."""
    return f"{PREFIX}:voicemail:index"


def voicemail_audit() -> str:
    """Stream auditing every access to and deletion of a voicemail message."""
    return f"{PREFIX}:voicemail:audit"


# --- Ops consoles: users, API tokens, login limits, the audit log and agents' call notes. ----


def user(name: str) -> str:
    """Hash of one console user: role, linked agent id, password hash and times."""
    return f"{PREFIX}:user:{name}"


def users() -> str:
    """Set of the names of every console user."""
    return f"{PREFIX}:users"


def api_token(digest: str) -> str:
    """Hash of one API bearer token, found by the SHA-256 digest of the token (never stored)."""
    return f"{PREFIX}:token:{digest}"


def user_tokens(name: str) -> str:
    """Set of the digests of a user's API tokens, so they go when the user goes."""
    return f"{PREFIX}:user-tokens:{name}"


def login_failures(scope: str, who: str) -> str:
    """Counter (with a time to live) of failed logins for a user name or an IP address."""
    return f"{PREFIX}:login-failures:{scope}:{who}"


def console_session(digest: str) -> str:
    """Hash of one console session (user, the user's generation, start), by its id's digest."""
    return f"{PREFIX}:session:{digest}"


def token_failures(address: str) -> str:
    """Counter (with a time to live) of unknown API tokens presented from one address."""
    return f"{PREFIX}:token-failures:{address}"


def pin_failures(scope: str, who: str) -> str:
    """Counter (with a time to live) of wrong escalation PINs for an agent id or an address."""
    return f"{PREFIX}:pin-failures:{scope}:{who}"


def audit() -> str:
    """Append-only stream of every change to rosters, hours, agents and users."""
    return f"{PREFIX}:audit"


def opening_hours() -> str:
    """Hash of area id to the opening hours and holiday rule ops set over the config (JSON)."""
    return f"{PREFIX}:opening-hours"


def statutes() -> str:
    """The statutes document supervisors saved over the shipped file (JSON: text, by, at)."""
    return f"{PREFIX}:statutes"


def call_note(call_sid: str) -> str:
    """Hash of an agent's wrap-up note and flags (heavy, crisis) on one call."""
    return f"{PREFIX}:call-note:{call_sid}"


def roster_edit_lock() -> str:
    """Lock held while a console edit reads, changes and re-imports the roster."""
    return f"{PREFIX}:roster-edit-lock"


# --- Crisis: alerts to supervisors, who took a crisis call, escalations. --------------------


def crisis_alert(call_sid: str) -> str:
    """Hash of one call's crisis alert: created once per call, then who was paged and when."""
    return f"{PREFIX}:crisis-alert:{call_sid}"


def crisis_alerts() -> str:
    """Stream of crisis alerts, newest last, that the supervisors' consoles show."""
    return f"{PREFIX}:crisis-alerts"


def crisis_taker(call_sid: str) -> str:
    """Who took a crisis call's ring first: the taker's id, set once (queues/crisis_claims.py)."""
    return f"{PREFIX}:crisis-taker:{call_sid}"


def crisis_escalation(call_sid: str, target: str) -> str:
    """Marker that an agent already brought a target (supervisor, crisis line) into a call."""
    return f"{PREFIX}:crisis-escalation:{call_sid}:{target}"


# --- Standing conditions: promises the hotline cannot keep right now. ----------------------


def condition(name: str) -> str:
    """Hash of one active condition (carrier unreachable, a failed self-check): since, detail."""
    return f"{PREFIX}:condition:{name}"


def conditions() -> str:
    """Set of the names of the conditions active now."""
    return f"{PREFIX}:conditions"


def condition_paged(name: str) -> str:
    """Marker (with a time to live) that supervisors were paged about a condition lately."""
    return f"{PREFIX}:condition-paged:{name}"


def twilio_queues() -> str:
    """Hash of each area's Twilio queue SID, as set up or as the waitUrl polls report it."""
    return f"{PREFIX}:twilio-queues"


def carrier_failures() -> str:
    """Sorted set of the REST failures in a row lately, by time; a request that works empties it."""
    return f"{PREFIX}:carrier-failures"


# --- Screening and the agent line: blocked callers, emergency closure, agent PIN failures. ---


def blocklist() -> str:
    """Set of the keyed digests of caller numbers supervisors blocked for abuse."""
    return f"{PREFIX}:blocklist"


def blocklist_entries() -> str:
    """Hash of each blocked digest to who blocked it, when, why and the masked number."""
    return f"{PREFIX}:blocklist:entries"


def closure() -> str:
    """The emergency closure in force (JSON: message per language, end, who set it), if any."""
    return f"{PREFIX}:closure"


def screening_changes() -> str:
    """Pub/sub channel the blocklist and the closure announce each change on (`blocklist`,
    `closure`), for every web process's copy of them (`queues.screening_copy`)."""
    return f"{PREFIX}:screening-changes"


def sealing_check() -> str:
    """A marker sealed under the hotline's secret: it does not open after the secret changed."""
    return f"{PREFIX}:sealing-check"


def agent_line_failures(subject: str) -> str:
    """Counter (with a time to live) of wrong agent-line PINs for an agent code or a caller."""
    return f"{PREFIX}:agent-line-failures:{subject}"


# --- After the call: unsatisfied callers owed a supervisor's callback. ---------------------


def followup(call_sid: str) -> str:
    """Hash of one follow-up: the call's area, language, agent, caller number and its state."""
    return f"{PREFIX}:followup:{call_sid}"


def followups() -> str:
    """Sorted set of every follow-up's call by the time it opened, for the supervisors' list."""
    return f"{PREFIX}:followups"


def followups_open() -> str:
    """Sorted set of the follow-ups still waiting for a supervisor's callback, by open time."""
    return f"{PREFIX}:followups:open"


# --- Supervisors on live calls: listen, coach or barge from the wallboard. -----------------


def listen_in(call_sid: str) -> str:
    """Hash of the supervisor on one call: who, which mode, their leg, and where it stands."""
    return f"{PREFIX}:listen-in:{call_sid}"


# --- Repeat callers: each caller's earlier calls, by keyed digest of the number. ------------


def caller_history(caller_digest: str) -> str:
    """Sorted set of a caller's earlier calls (call sids) by arrival time, by keyed digest."""
    return f"{PREFIX}:caller-history:{caller_digest}"


def caller_history_call(call_sid: str) -> str:
    """Hash of one earlier call as the next agent sees it: date, area, outcome, sealed words."""
    return f"{PREFIX}:caller-history-call:{call_sid}"


# --- Recorded consultations, with the caller's consent asked before the agent. -------------


def recording_consent(call_sid: str) -> str:
    """The caller's answer to the recording notice: given or refused (first answer kept)."""
    return f"{PREFIX}:recording-consent:{call_sid}"


def consultation(recording_sid: str) -> str:
    """Hash of one recorded consultation: call facts, caller digest, both copies' hashes, state."""
    return f"{PREFIX}:consultation:{recording_sid}"


def consultation_claim(recording_sid: str) -> str:
    """Short-lived claim on a consultation, so only one worker stores a recording at a time."""
    return f"{PREFIX}:consultation:{recording_sid}:claim"


def consultations() -> str:
    """Sorted set of consultation recording ids scored by creation time (listing, retention)."""
    return f"{PREFIX}:consultations"


def consultations_of_caller(caller_digest: str) -> str:
    """Set of a caller's consultation recording ids, by keyed digest of their number."""
    return f"{PREFIX}:consultations:caller:{caller_digest}"


# --- Live assist: what the desk shows during a call (thermometer, transcript, crisis hits). --


def live_call(call_sid: str) -> str:
    """Stream of one live call's assist events (levels, transcript lines, crisis hits), sealed."""
    return f"{PREFIX}:live:{call_sid}"


def notices() -> str:
    """Hash of the supervisors' quiet notices on the wallboard, one field per call and kind."""
    return f"{PREFIX}:notices"


def live_stream(call_sid: str) -> str:
    """Marker that a call's leg was given its live audio stream (it is started once a leg)."""
    return f"{PREFIX}:live:stream:{call_sid}"


# --- Transcripts: a live call's lines and what is kept of them; a message's lines. ----------


def live_transcript(call_sid: str) -> str:
    """Hash of a live call's final transcript lines (sealed) and the callbacks already taken."""
    return f"{PREFIX}:live-transcript:{call_sid}"


def call_transcript(call_sid: str) -> str:
    """Hash of a consultation's transcript kept with the caller's consent (sealed), by call."""
    return f"{PREFIX}:call-transcript:{call_sid}"


def call_transcripts_of_caller(caller_digest: str) -> str:
    """Set of the calls whose transcript is kept, by keyed digest of the caller's number."""
    return f"{PREFIX}:call-transcripts:caller:{caller_digest}"


def voicemail_transcript(call_sid: str) -> str:
    """Hash of a voicemail's live transcript lines (sealed) by the call it was left on."""
    return f"{PREFIX}:voicemail-transcript:{call_sid}"

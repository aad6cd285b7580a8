"""A person's data: everything the hotline keeps about one phone number, exported or erased.

China's PIPL gives a person the right to see what is kept about them and to have it erased. A
supervisor gives the number and a reason; every place that keeps something about callers
(docs/storage.md lists them) is a `Place` whose owner module finds, exports and erases that
person's part of it, so each key keeps its one owner:

- first the person's calls are found: call hashes and queued-call hashes are opened and compared
  (SCAN, a week of calls: they expire after 7 days), the durable call records by the keyed
  digest (indexed), and the places that know calls of their own add theirs (voicemail);
- then each place exports or erases what it keeps for the number or for those calls.

Erasure goes through the places found through the person's calls first, and the places the calls
are found through last (call records, queued calls, call hashes), so an erasure stopped half-way
(Redis or the database went away) is finished by running it again: it finds the rest. Erasing
twice is harmless. Some things are kept and the result says so: an incident under legal hold,
a blocklist entry (a safety measure, lifted on the safety page), a call still in routing.

Every export and erasure is audited with who, why, the masked number and the counts; the number
itself is never in the audit log, the logs or a URL.
"""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from queues import agent_line, events, live_assist
from queues.audit import AuditLog
from queues.blocklist import Blocklist, normalise
from queues.calls import CallStore
from queues.followups import FollowUps
from queues.incidents import IncidentLog
from queues.notes import CallNotes
from queues.repeat_callers import CallerHistory
from queues.sealing import Sealer
from queues.waiting import WaitingRoom
from routing.numbers import is_withheld
from routing.privacy import mask_number

log = logging.getLogger(__name__)

FORMAT = "hotline person data v1"
MAX_REASON = 500
# What the hotline keeps that no erasure touches, and why; the export and erasure both say it.
NOT_ERASED = (
    "the audit log (who did what; callers' numbers only masked) is kept: it is the record of "
    "this export or erasure too",
    "the event stream keeps its calls' events (call ids and masked numbers, never a number "
    "or words) until it is trimmed, about 200,000 events later",
    "crisis alerts (call id, trigger, who was paged; no number) expire after 7 days",
    "Twilio keeps its own call records and logs: ask Twilio to erase them",
)


class PersonDataError(Exception):
    """A person's data cannot be exported or erased as asked: one sentence why, and the input
    at fault (number, reason, confirm), if one is."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


class Unreachable(PersonDataError):
    """Redis (or the records database) cannot be reached before anything was done."""


@dataclass(frozen=True)
class Person:
    """One phone number and the calls found for it."""

    number: str
    digest: str
    calls: frozenset[str] = frozenset()

    @property
    def masked(self) -> str:
        """The number as logs and the audit log may show it."""
        return mask_number(self.number)


def _none(person: Person) -> list[Any]:
    """Nothing: for places that keep nothing back, export no files or link no calls."""
    return []


def _no_files(person: Person) -> dict[str, bytes]:
    """No files to add to an export."""
    return {}


@dataclass(frozen=True)
class Place:
    """One place that keeps something about callers, as its owner exports and erases it."""

    name: str
    export: Callable[[Person], list[dict[str, Any]]]
    erase: Callable[[Person], int]
    # What erasure leaves there for this person, one sentence each ("incident X under hold").
    kept: Callable[[Person], list[str]] = _none
    # Files the export adds beside the manifest (decrypted audio), by path in the archive.
    files: Callable[[Person], dict[str, bytes]] = _no_files
    # Calls this place finds for the number by itself (callers' numbers it keeps).
    links: Callable[[Person], set[str]] = lambda person: set()


@dataclass
class Export:
    """Everything found for a number: the manifest and the files beside it."""

    person: Person
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many items each place gave."""
        return {name: len(items) for name, items in self.manifest["places"].items()}

    def archive(self) -> bytes:
        """One zip file: manifest.json and every file beside it."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", self.manifest_json())
            for path, data in sorted(self.files.items()):
                archive.writestr(path, data)
        return buffer.getvalue()

    def manifest_json(self) -> str:
        """The manifest as JSON text (numbers and words as kept; the person's own data)."""
        return json.dumps(self.manifest, ensure_ascii=False, indent=2, default=str)

    def file_name(self, extension: str) -> str:
        """A download's name: the masked number's last four digits and the day, never the number."""
        day = time.strftime("%Y%m%d", time.gmtime(self.manifest["exported_at"]))
        return f"person-data-{self.person.number[-4:]}-{day}.{extension}"


@dataclass
class Erasure:
    """What an erasure did: items erased per place, what was kept and why, where it stopped."""

    masked: str
    erased: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    stopped_at: str = ""
    error: str = ""

    @property
    def complete(self) -> bool:
        """Whether every place was erased."""
        return not self.stopped_at

    def public(self) -> dict[str, Any]:
        """The result as pages and the API show it (the number masked)."""
        return {
            "number": self.masked,
            "erased": self.erased,
            "kept": [f"kept: {sentence}" for sentence in self.kept],
            "not_erased": list(NOT_ERASED),
            "complete": self.complete,
            "stopped_at": self.stopped_at,
            "error": self.error,
        }


class Incomplete(PersonDataError):
    """An erasure stopped half-way: what was done is in `erasure`; running it again finishes it."""

    def __init__(self, erasure: Erasure):
        done = ", ".join(f"{name} {count}" for name, count in erasure.erased.items()) or "nothing"
        super().__init__(
            f"erasure stopped at {erasure.stopped_at} ({erasure.error}); erased so far: {done}; "
            "run the erasure again to finish it"
        )
        self.erasure = erasure


def person_number(text: object) -> str:
    """A number as typed, in E.164 form; PersonDataError when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise PersonDataError(
            "give the caller's number, in E.164 form (+8613812345678)", field="number"
        )
    try:
        number = normalise(text)
    except ValueError:
        raise PersonDataError(
            "not a phone number in E.164 form: give it as +8613812345678", field="number"
        ) from None
    if is_withheld(number):
        raise PersonDataError(
            "a withheld number names nobody: nothing is kept for it", field="number"
        )
    return number


def reason_given(text: object) -> str:
    """The reason for an export or erasure, required; PersonDataError when missing."""
    if not isinstance(text, str) or not text.strip():
        raise PersonDataError(
            "say why (the person's request, its date and reference)", field="reason"
        )
    reason = " ".join(text.split())
    if len(reason) > MAX_REASON:
        raise PersonDataError(f"the reason is at most {MAX_REASON} characters", field="reason")
    return reason


def confirmed(number: str, confirmation: object) -> None:
    """Check that an erasure was confirmed with the number's last four digits."""
    if not isinstance(confirmation, str) or confirmation.strip() != number[-4:]:
        raise PersonDataError(
            f"to erase, confirm with the last four digits of {mask_number(number)}",
            field="confirm",
        )


class PersonData:
    """Finds, exports and erases one person's data across every place; audits each."""

    def __init__(self, redis: Redis, places: list[Place], *, sealer: Sealer, audit: AuditLog):
        self.redis = redis
        self.places = places
        self.sealer = sealer
        self.audit = audit

    def find(self, number: str) -> Person:
        """The person behind a number, with every call kept for it; Unreachable when down."""
        person = Person(number, self.sealer.digest(number))
        calls: set[str] = set()
        try:
            for place in self.places:
                calls |= place.links(person)
        except Exception as error:  # noqa: BLE001 - said in one sentence, with its cause chained
            raise Unreachable(
                f"the hotline's stores cannot be reached ({error}): nothing was done"
            ) from error
        return Person(number, person.digest, frozenset(calls))

    def export(self, number: str, *, actor: str, reason: str, now: float) -> Export:
        """Everything kept about a number, in one manifest with its audio; audited."""
        person = self.find(number)
        try:
            places = {place.name: place.export(person) for place in self.places}
            files: dict[str, bytes] = {}
            for place in self.places:
                files.update(place.files(person))
            kept = [sentence for place in self.places for sentence in place.kept(person)]
        except Exception as error:  # noqa: BLE001 - said in one sentence, with its cause chained
            raise Unreachable(
                f"the hotline's stores cannot be reached ({error}): nothing was exported"
            ) from error
        manifest = {
            "format": FORMAT,
            "number": person.number,
            "exported_at": now,
            "exported_by": actor,
            "reason": reason,
            "calls": sorted(person.calls),
            "places": places,
            "files": sorted(files),
            "erasure_would_keep": kept,
            "not_erased": list(NOT_ERASED),
        }
        exported = Export(person, manifest, files)
        try:
            self.audit.record(
                actor,
                "person.export",
                person.masked,
                after={"reason": reason, "counts": exported.counts(), "files": len(files)},
                now=now,
            )
        except RedisError as error:
            # No export leaves without its audit entry.
            raise Unreachable(
                f"the export could not be audited ({error}), so it is not given: try again"
            ) from error
        log.info("person data of %s exported by %s", person.masked, actor)
        return exported

    def erase(self, number: str, *, actor: str, reason: str, now: float) -> Erasure:
        """Erase a number everywhere but where it must be kept; audited. Incomplete if stopped."""
        person = self.find(number)
        erasure = Erasure(person.masked)
        for place in self.places:
            try:
                erasure.erased[place.name] = place.erase(person)
                # Asked after erasing: what is still there is what was kept.
                erasure.kept += place.kept(person)
            except Exception as error:  # noqa: BLE001 - told in full below, never hidden
                # Whatever failed (Redis, the database, a file), what was done is said and
                # audited, and the erasure is run again to finish: it finds the rest.
                log.exception("person data of %s: erasure stopped at %s", person.masked, place.name)
                erasure.stopped_at, erasure.error = place.name, str(error) or type(error).__name__
                break
        self._audit_erasure(actor, reason, erasure, now)
        if not erasure.complete:
            raise Incomplete(erasure)
        log.info("person data of %s erased by %s", person.masked, actor)
        return erasure

    def _audit_erasure(self, actor: str, reason: str, erasure: Erasure, now: float) -> None:
        """Audit an erasure, even a stopped one; when Redis is gone, log it loudly instead."""
        after = {
            "reason": reason,
            "erased": erasure.erased,
            "kept": erasure.kept,
            "complete": erasure.complete,
            "stopped_at": erasure.stopped_at,
        }
        try:
            self.audit.record(actor, "person.erase", erasure.masked, after=after, now=now)
        except RedisError:
            log.error(
                "person data of %s: erasure by %s not audited, Redis is unreachable: %s",
                erasure.masked,
                actor,
                json.dumps(after, ensure_ascii=False),
            )


def _live_feeds(redis: Redis, calls: frozenset[str]) -> list[dict[str, Any]]:
    """The assist feeds still kept for a person's calls, events opened."""
    found = []
    for call_sid in sorted(calls):
        feed = live_assist.read(redis, call_sid, count=live_assist.MAX_EVENTS)
        if feed:
            found.append({"call_sid": call_sid, "events": [vars(event) for event in feed]})
    return found


def redis_places(
    redis: Redis,
    room: WaitingRoom,
    *,
    sealer: Sealer,
    records: Any = None,
    clock: Callable[[], float] = time.time,
) -> tuple[list[Place], list[Place]]:
    """The places on this floor: those found through calls, and those calls are found by.

    `records` is the durable call records' store (`queues.records.store.RecordStore`), or None
    where there is no database to reach. Erasure runs the first list, then the second.
    Callbacks to the person not yet with an agent are withdrawn before their state is erased.
    """

    def erase_routing(person: Person) -> int:
        """Withdraw the person's waiting callbacks, then erase their routing state."""
        room.withdraw_callbacks(person.calls, clock())
        return room.erase_person(person.number, person.calls)

    calls = CallStore(redis, sealer=sealer)
    notes = CallNotes(redis, sealer=sealer)
    followups = FollowUps(redis, sealer=sealer)
    incidents = IncidentLog(redis, sealer=sealer)
    blocklist = Blocklist(redis, sealer=sealer)
    history = CallerHistory(redis, sealer=sealer)
    through_calls = [
        Place(
            "caller_history",
            lambda p: history.export_person(p.number),
            lambda p: history.erase_person(p.number),
            links=lambda p: {call["call_sid"] for call in history.export_person(p.number)},
        ),
        Place(
            "notes",
            lambda p: notes.export_person(p.number, p.calls),
            lambda p: notes.erase_person(p.number, p.calls),
        ),
        Place(
            "followups",
            lambda p: followups.export_person(p.number, p.calls),
            lambda p: followups.erase_person(p.number, p.calls),
        ),
        Place(
            "incidents",
            lambda p: incidents.export_person(p.number, p.calls),
            lambda p: incidents.erase_person(p.number, p.calls),
            kept=lambda p: [held.sentence() for held in incidents.kept_for_person(p.calls)],
        ),
        Place(
            "blocklist",
            lambda p: blocklist.export_person(p.number),
            lambda p: 0,
            kept=lambda p: [
                f"blocklist entry for {entry['masked']} (a safety measure: a supervisor "
                "removes it on the safety page)"
                for entry in blocklist.export_person(p.number)
            ],
        ),
        Place(
            "agent_line",
            lambda p: [],
            lambda p: agent_line.erase_person(redis, sealer, p.number),
        ),
        Place(
            # A live call's assist feed (levels, transcript lines, crisis hits): a few hours.
            "live_assist",
            lambda p: _live_feeds(redis, p.calls),
            lambda p: sum(live_assist.erase(redis, call_sid) for call_sid in sorted(p.calls)),
        ),
        Place(
            "events",
            lambda p: [{"id": i, **e} for i, e in events.of_person(redis, p.digest, p.calls)],
            # Its calls' events stay (NOT_ERASED says so): masked, and today's figures count them.
            lambda p: events.erase_digest(redis, p.digest, p.calls),
        ),
    ]
    linking = [
        Place(
            "routing",
            lambda p: room.export_person(p.number, p.calls),
            erase_routing,
            kept=lambda p: [
                f"call {sid} is still going on (waiting, being rung or talking): erase "
                "again once it ends"
                for sid in room.live_calls(p.calls)
            ],
            links=lambda p: room.calls_of(p.number),
        ),
        Place(
            "calls",
            lambda p: calls.export_person(p.number, p.calls),
            # A call still in routing keeps its hash: the routing script and bridge read it.
            lambda p: calls.erase_person(p.number, p.calls - set(room.live_calls(p.calls))),
            links=lambda p: calls.calls_of(p.number),
        ),
    ]
    if records is not None:
        linking.insert(
            0,
            Place(
                "call_records",
                lambda p: records.export_person(p.digest, p.calls),
                lambda p: records.erase_person(p.digest, p.calls),
                links=lambda p: records.calls_of(p.digest),
            ),
        )
    return through_calls, linking

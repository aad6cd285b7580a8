"""A person's data: two callers fill every place through the hotline's own paths; one of them is
exported (everything of theirs, nothing of the other) and erased everywhere but the incident under
legal hold, twice, with every step audited; supervisors only."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest
import redis as redis_lib

from hotline import cli
from queues import events, keys, runtime
from queues.agent_line import AgentLine
from queues.audit import AuditLog
from queues.blocklist import Blocklist
from queues.calls import CallStore
from queues.embedded import EmbeddedRedis, _alive
from queues.followups import FollowUps
from queues.incidents import IncidentLog
from queues.keys import agent_line_failures
from queues.notes import CallNotes
from queues.person_data import Incomplete, PersonData, Place, Unreachable, redis_places
from queues.records.store import RecordStore
from queues.waiting import WaitingRoom
from tests.fixtures.app import OPEN_TIME
from tests.fixtures.conference import report_join
from tests.fixtures.jobs import run_jobs
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.records import run_late_jobs
from tests.fixtures.twiml import Doc
from tools import voicemail_samples as samples
from voicemail import consultation_jobs, jobs
from voicemail import runtime as voicemail_runtime
from voicemail.consultations import Consent
from voicemail.messages import MessageStore
from voicemail.processing import register_recording

pytestmark = pytest.mark.redis

LIVE = {"CallStatus": "in-progress", "DialCallStatus": "completed"}
REASON = "本人申请 2026-12-01，编号 PIPL-7"


class Caller:
    """One person and the calls, words and files the hotline keeps about them."""

    def __init__(self, number: str, tag: str, *, area: str, agent: str):
        self.number = number
        self.tag = tag
        # The area of their routed call and the agent who takes it (each free for it).
        self.area, self.agent = area, agent
        self.rated = "CA" + tag * 32
        self.crisis = "CA" + tag * 31 + "c"
        self.voicemail_call = "CA" + tag * 31 + "d"
        self.abandoned = "CA" + tag * 31 + "e"
        self.recording = "RE" + tag * 32
        self.consultation = "RE" + tag * 31 + "f"
        self.consultation_audio = samples.speech_wav(2, seed=ord(tag))
        self.note = f"房东扣押押金 {tag}-note"
        self.said = f"我不想活了 {tag}-said"
        self.summary = f"劳动合同纠纷 {tag}-summary"
        self.audio = f"ID3 audio of {tag}".encode() * 40

    @property
    def calls(self) -> set[str]:
        return {self.rated, self.crisis, self.voicemail_call, self.abandoned}

    @property
    def every_call(self) -> set[str]:
        """Their calls and the follow-up's callback task, which dials their number too."""
        return self.calls | {f"fu-{self.rated}"}

    @property
    def words(self) -> list[str]:
        """What of them must show nowhere else: their words, their number, and its masked form
        (the last four digits behind the mask; four digits alone may be part of any id or time)."""
        return [self.note, self.said, self.summary, self.number, "*" + self.number[-4:]]


A = Caller("+8613800001111", "a", area="family", agent="d1")
B = Caller("+8613900002222", "b", area="labor", agent="d2")


def rated_call(app, hotline: Hotline, twilio, clock, person: Caller) -> None:
    """The person calls, talks with an agent, rates 2 (a follow-up) and hangs up; the agent
    writes a note."""
    calls = CallStore(hotline.redis)
    calls.start(person.rated, person.number)
    hotline.board.set_presence(person.agent, "available", hotline.now)
    match = hotline.ring(person.rated, area=person.area)
    assert match is not None and match.agent_id == person.agent
    # The intake's words, as the menu keeps them (after the helper's plain ring set-up).
    calls.update(person.rated, summary=person.summary, speech=person.summary)
    rid = match.reservation_id
    answer = twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": "CA9", "Digits": "1"})
    report_join(twilio, Doc.parse(answer), "CA9")
    joined = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": person.rated}))
    report_join(twilio, joined, person.rated)
    clock.now += timedelta(seconds=60)
    with app.app_context():
        from queues import dispatch

        assert dispatch.finish(runtime.current(), rid).state == "finished"
    question = Doc.parse(
        twilio.post(joined.first("Dial").get("action"), {"CallSid": person.rated, **LIVE})
    )
    twilio.post(question.first("Gather").get("action"), {"CallSid": person.rated, "Digits": "2"})
    twilio.post("/voice/status", {"CallSid": person.rated, "CallStatus": "completed"})
    CallNotes(hotline.redis).write(person.rated, person.agent, person.note, hotline.now)


class TwilioCopies:
    """Twilio's copies of the consultations' recordings, in memory (the one fake: Twilio)."""

    def __init__(self, recordings: dict[str, bytes]):
        self.recordings = dict(recordings)

    def fetch_wav(self, recording_sid: str, url: str | None) -> bytes:
        return self.recordings[recording_sid]

    def delete(self, recording_sid: str) -> bool:
        return self.recordings.pop(recording_sid, None) is not None


@pytest.fixture
def vm(app):
    """The voicemail runtime with Twilio's copies of both people's consultations."""
    copies = TwilioCopies({p.consultation: p.consultation_audio for p in (A, B)})
    with app.app_context():
        built = replace(voicemail_runtime.build(app), source=copies)
    jobs.use_runtime(lambda: built)
    yield built
    jobs.use_runtime(None)


def recorded(vm, redis, person: Caller) -> None:
    """The person's consultation was recorded with consent, stored twice, deleted at Twilio."""
    Consent(redis).keep(person.rated, "given", area="corporate", language="zh")
    recording = consultation_jobs.Recording(person.consultation, "", "30", "completed")
    call = consultation_jobs.Call(
        person.rated, "RS1", person.number, "corporate", "zh", person.agent
    )
    consultation_jobs.receive(recording, call, runtime=vm)
    run_jobs(redis, jobs.QUEUE)
    assert person.consultation not in vm.source.recordings


def fill(app, hotline: Hotline, twilio, clock, redis, vm, person: Caller) -> None:
    """Every place: a rated call with a note and follow-up, its recorded consultation, crisis
    incidents, a voicemail with its audio, a returning-caller marker, the durable records."""
    rated_call(app, hotline, twilio, clock, person)
    recorded(vm, redis, person)
    incidents = IncidentLog(redis)
    incidents.open(person.rated, trigger="words", language="zh", said=person.said, now=hotline.now)
    calls = CallStore(redis)
    calls.start(person.crisis, person.number)
    incidents.open(person.crisis, trigger="key", language="zh", said=person.said, now=hotline.now)
    incidents.note(person.crisis, f"supervisor note {person.tag}", by="sam", now=hotline.now)
    # A message left at night: its call, its recording's facts, its audio in the vault.
    calls.start(person.voicemail_call, person.number)
    with app.app_context():
        register_recording(
            redis,
            person.recording,
            now=clock(),
            call_sid=person.voicemail_call,
            caller=person.number,
            area="labor",
            language="zh",
            summary=person.summary,
        )
        stored = voicemail_runtime.vault(app).store(person.recording, person.audio)
    MessageStore(redis).set_fields(
        person.recording,
        {"state": "ready", "audio_sha256": stored.sha256, "remote_deleted_at": "1"},
    )
    # A caller who hung up while waiting: the returning-caller marker (by keyed digest).
    calls.start(person.abandoned, person.number)
    assert hotline.room.enqueue(
        person.abandoned, area="labor", language="zh", now=hotline.now, caller=person.number
    )
    assert hotline.room.leave(person.abandoned, hotline.now, outcome="abandoned").changed
    for call_sid in person.calls:
        twilio.post("/voice/status", {"CallSid": call_sid, "CallStatus": "completed"})
    run_late_jobs(redis)
    run_jobs(redis, "default")


@pytest.fixture
def filled(app, hotline, twilio, clock, redis, records, vm):
    """Both people's data in every place, one of A's incidents under legal hold."""
    fill(app, hotline, twilio, clock, redis, vm, A)
    fill(app, hotline, twilio, clock, redis, vm, B)
    IncidentLog(redis).hold(
        A.crisis, by="sam", reason="法院调取 (2026)京01民初1号", now=hotline.now
    )
    return records


def export_of(session, person: Caller) -> tuple[dict, dict[str, bytes]]:
    """Export a person through the API: the manifest and the archive's other files."""
    answer = session.post("/api/v1/person/export", json={"number": person.number, "reason": REASON})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/zip"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    assert person.number not in answer.headers["Content-Disposition"].replace(
        person.number[-4:], ""
    )
    archive = zipfile.ZipFile(io.BytesIO(answer.get_data()))
    files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("manifest.json")), files


def record_sids(store: RecordStore) -> set[str]:
    """The call sids the durable records keep."""
    return {row["call_sid"] for row in store.calls_between(0, 4e9)}


def test_export_holds_everything_of_one_person_and_nothing_of_the_other(
    app, hotline, redis, filled
):
    sam = sign_in(app, "sam")
    manifest, files = export_of(sam, A)
    places = manifest["places"]
    assert manifest["number"] == A.number
    assert set(manifest["calls"]) == A.every_call
    assert {c["call_sid"] for c in places["calls"]} == A.every_call
    rated = next(c for c in places["calls"] if c["call_sid"] == A.rated)
    assert (rated["caller"], rated["summary"], rated["rating"]) == (A.number, A.summary, 2)
    assert [n["note"] for n in places["notes"]] == [A.note]
    assert [(f["call"], f["number"]) for f in places["followups"]] == [(A.rated, A.number)]
    incidents = {i["call_sid"]: i for i in places["incidents"]}
    assert set(incidents) == {A.rated, A.crisis}
    assert incidents[A.rated]["said"] == A.said and incidents[A.rated]["legal_hold"] is None
    assert incidents[A.crisis]["legal_hold"]["by"] == "sam"
    (message,) = places["voicemail"]
    assert (message["recording_sid"], message["summary"]) == (A.recording, A.summary)
    assert files == {
        f"voicemail/{A.recording}.mp3": A.audio,
        f"recordings/{A.consultation}.wav": A.consultation_audio,
    }
    (recording,) = places["recordings"]
    assert recording["audio"] == f"recordings/{A.consultation}.wav"
    assert A.calls <= {row["call_sid"] for row in places["call_records"]}
    assert A.rated in {call["call_sid"] for call in places["caller_history"]}
    assert any(item.get("returning_caller") for item in places["routing"])
    assert any("under legal hold" in s for s in manifest["erasure_would_keep"])
    # Nothing of the other person: no call, number, words or audio of theirs.
    text = json.dumps(manifest, ensure_ascii=False)
    for trace in [*B.words, *B.every_call, B.recording, B.consultation]:
        assert trace not in text
    # Audited: who, why, the masked number and the counts; never the number.
    (entry,) = [e for e in AuditLog(redis).recent() if e.action == "person.export"]
    assert (entry.actor, entry.target) == ("sam", "+86*******1111")
    assert entry.after["reason"] == REASON and entry.after["counts"]["notes"] == 1
    assert entry.after["files"] == 2
    assert A.number not in json.dumps(entry.public(), ensure_ascii=False)


def test_the_manifest_alone_comes_as_a_json_file_never_cached(app, hotline, redis, filled):
    sam = sign_in(app, "sam")
    answer = sam.post(
        "/api/v1/person/export", json={"number": A.number, "reason": REASON, "format": "json"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.json"')
    assert A.number not in disposition.replace(A.number[-4:], "")
    manifest = answer.get_json()
    assert manifest["number"] == A.number and set(manifest["calls"]) == A.every_call


def test_erasing_a_number_removes_it_everywhere_but_the_held_incident_and_is_audited(
    app, hotline, redis, filled, vm
):
    records: RecordStore = filled
    sam = sign_in(app, "sam")
    before_b, b_files = export_of(sam, B)
    vault = voicemail_runtime.vault(app)
    # A is also blocked for abuse, and once keyed a wrong agent-line PIN from their phone.
    blocklist = Blocklist(redis)
    blocklist.add(A.number, by="sam", now=hotline.now, reason="abuse")
    line = AgentLine(redis, hotline.board)
    assert (
        line.login("000", "0000", caller=A.number, call_sid=A.rated, now=hotline.now).agent_id
        is None
    )
    pins = agent_line_failures(f"caller:{filled_digest(app, A)}")
    assert redis.exists(pins)

    page = sam.form(
        "/ops/person/erase", {"number": A.number, "reason": REASON, "confirm": A.number[-4:]}
    )
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert f"kept: incident {A.crisis} under legal hold since" in html
    assert "法院调取" in html and A.number not in html
    assert "kept: blocklist entry for +86*******1111" in html
    assert blocklist.contains(A.number) and not redis.exists(pins)
    # The events naming A's keyed digest (the agent line's failure, the block) are gone.
    digest = filled_digest(app, A)
    assert not [e for e in events.recent(redis, 5000) if digest in e.values()]

    # Every place is empty for A.
    calls, notes, followups = CallStore(redis), CallNotes(redis), FollowUps(redis)
    incidents, messages = IncidentLog(redis), MessageStore(redis)
    assert all(calls.get(sid) is None for sid in A.every_call)
    assert calls.calls_of(A.number) == set()
    assert all(hotline.room.get(sid) is None for sid in A.every_call)
    assert not any(notes.get(sid).note for sid in A.calls)
    assert followups.get(A.rated) is None
    assert A.rated not in {f.call_sid for f in followups.newest(include_closed=True)}
    assert incidents.get(A.rated) is None
    assert not redis.exists(keys.incident(A.rated))
    assert messages.get(A.recording) is None and not vault.exists(A.recording)
    consultations = consultation_jobs.store(vm)
    assert consultations.get(A.consultation) is None
    assert not consultations.primary.exists(A.consultation)
    assert not consultations.copy.exists(A.consultation)
    assert consultations.get(B.consultation) is not None
    assert not hotline.room.is_returning(A.number)
    assert not record_sids(records) & A.calls
    assert records.calls_of(filled_digest(app, A)) == set()
    # The held incident is kept whole, its expiry gone while the hold lasts.
    held = incidents.get(A.crisis)
    assert held is not None and held.first("opened")["said"] == A.said
    assert redis.ttl(keys.incident(A.crisis)) == -1

    # The other person is untouched.
    after_b, after_b_files = export_of(sam, B)
    assert {k: len(v) for k, v in after_b["places"].items()} == {
        k: len(v) for k, v in before_b["places"].items()
    }
    assert after_b_files == b_files and after_b["calls"] == before_b["calls"]

    # A second erasure finds nothing more and says so; it is audited too.
    again = sam.post(
        "/api/v1/person/erase",
        json={"number": A.number, "reason": REASON, "confirm": A.number[-4:]},
    )
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["complete"] is True
    assert set(again.get_json()["erased"].values()) == {0}

    erasures = [e for e in AuditLog(redis).recent() if e.action == "person.erase"]
    assert len(erasures) == 2
    first = erasures[-1]
    assert (first.actor, first.target) == ("sam", "+86*******1111")
    assert first.after["reason"] == REASON and first.after["complete"] is True
    assert first.after["erased"]["notes"] == 1 and first.after["erased"]["voicemail"] == 1
    assert first.after["erased"]["incidents"] == 1
    assert first.after["erased"]["caller_history"] >= 1
    assert first.after["erased"]["recordings"] == 1
    assert first.after["erased"]["events"] == 2  # blocklist-add and agent-line-failed
    assert any("under legal hold" in sentence for sentence in first.after["kept"])
    assert A.number not in json.dumps([e.public() for e in AuditLog(redis).recent()])

    # Nothing left in Redis names A's calls but the held incident and its index entry.
    # (RQ's finished jobs keep call ids, never a number or words, until RQ expires them.)
    leftovers = {
        name.decode()
        for name in redis.scan_iter()
        if any(sid in name.decode() for sid in A.every_call | {A.recording, A.consultation})
        and not name.startswith(b"rq:")
    }
    assert leftovers == {keys.incident(A.crisis)}


def filled_digest(app, person: Caller) -> str:
    """A person's keyed digest under the app's sealer."""
    from queues import sealing

    return sealing.current().digest(person.number)


def test_an_erasure_needs_the_last_four_digits_and_a_reason(app, hotline, redis, filled):
    sam = sign_in(app, "sam")
    wrong = sam.post(
        "/api/v1/person/erase", json={"number": A.number, "reason": REASON, "confirm": "2222"}
    )
    assert wrong.status_code == 422
    assert wrong.get_json()["error"]["field"] == "confirm"
    no_reason = sam.post(
        "/api/v1/person/erase", json={"number": A.number, "reason": " ", "confirm": "1111"}
    )
    assert no_reason.status_code == 422
    assert no_reason.get_json()["error"]["field"] == "reason"
    # The page sends a refusal back to the form, said there, the number masked.
    page = sam.form(
        "/ops/person/erase",
        {"number": A.number, "reason": REASON, "confirm": "2222"},
        headers={"Referer": "http://localhost/ops/person"},
    )
    assert page.status_code == 303 and page.headers["Location"].endswith("/ops/person")
    shown = sam.get("/ops/person").get_data(as_text=True)
    assert "last four digits of +86*******1111" in shown and A.number not in shown
    bad = sam.post("/api/v1/person/export", json={"number": "12345", "reason": REASON})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "number"
    assert CallStore(redis).get(A.rated) is not None
    assert not [e for e in AuditLog(redis).recent() if e.action.startswith("person.")]


@pytest.mark.parametrize("name", ["wang", "olga"])
def test_only_supervisors_export_erase_or_hold(app, hotline, redis, filled, name):
    other = sign_in(app, name)
    body = {"number": A.number, "reason": REASON, "confirm": "1111"}
    assert other.post("/api/v1/person/export", json=body | {"confirm": None}).status_code in (
        403,
        422,
    )
    assert other.post("/api/v1/person/erase", json=body).status_code == 403
    assert other.get("/ops/person").status_code == 403
    assert other.form("/ops/person/erase", body).status_code == 403
    assert other.post(f"/api/v1/incidents/{A.rated}/hold", json={"reason": "x"}).status_code == 403
    assert CallStore(redis).get(A.rated) is not None
    assert IncidentLog(redis).held(A.rated) is None


def test_a_legal_hold_is_put_and_lifted_with_a_reason_and_audited(app, hotline, redis, filled):
    sam = sign_in(app, "sam")
    put = sam.post(f"/api/v1/incidents/{B.rated}/hold", json={"reason": "投诉调查"})
    assert put.status_code == 200 and put.get_json()["reason"] == "投诉调查"
    assert redis.ttl(keys.incident(B.rated)) == -1
    listed = sam.get("/api/v1/incidents?days=7").get_json()["incidents"]
    held = {i["call_sid"]: i["legal_hold"] for i in listed}
    assert held[B.rated]["reason"] == "投诉调查" and held[A.crisis]["by"] == "sam"
    page = sam.get("/ops/incidents").get_data(as_text=True)
    assert "投诉调查" in page and "data-hold" in page
    # A step appended while held does not bring the expiry back.
    IncidentLog(redis).note(B.rated, "still open", by="sam", now=hotline.now)
    assert redis.ttl(keys.incident(B.rated)) == -1
    lifted = sam.delete(f"/api/v1/incidents/{B.rated}/hold")
    assert lifted.get_json() == {"call": B.rated, "lifted": True}
    assert redis.ttl(keys.incident(B.rated)) > 300 * 24 * 3600
    assert sam.post("/api/v1/incidents/CAnone/hold", json={"reason": "x"}).status_code == 404
    actions = [(e.action, e.target) for e in AuditLog(redis).recent()]
    assert ("incident.hold", B.rated) in actions and ("incident.hold_lifted", B.rated) in actions


def test_the_command_line_exports_and_erases_a_number_read_from_stdin(
    app, hotline, redis, redis_url, filled, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    out = tmp_path / "a.zip"
    monkeypatch.setattr("sys.stdin", io.StringIO(A.number + "\n"))
    assert cli.main(["person", "export", "--reason", REASON, "-o", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert set(manifest["calls"]) == A.every_call
    monkeypatch.setattr("sys.stdin", io.StringIO(A.number + "\n"))
    assert cli.main(["person", "erase", "--reason", REASON, "--confirm", "0000"]) == 1
    assert "last four digits" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(A.number + "\n"))
    assert cli.main(["person", "erase", "--reason", REASON, "--confirm", "1111"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["complete"] and result["erased"]["calls"] == len(A.every_call)
    assert CallStore(redis).calls_of(A.number) == set()
    actors = {e.actor for e in AuditLog(redis).recent() if e.action.startswith("person.")}
    assert actors == {cli_actor()}


def cli_actor() -> str:
    """Who the audit log names for a command."""
    from queues.audit import command_line_actor

    return command_line_actor()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, so it can be stopped mid-erasure; never left running."""
    server = EmbeddedRedis(tmp_path / "own-redis")
    server.url = server.start()
    yield server
    pid = server.pid
    server.stop()
    assert pid is None or not _alive(pid), "embedded redis-server left running"


def test_redis_going_away_mid_erasure_is_said_and_a_second_run_finishes(
    own_redis, sealer, hotline_config, caplog
):
    client = redis_lib.Redis.from_url(own_redis.url)
    now = OPEN_TIME.timestamp()
    CallStore(client).start(A.rated, A.number)
    CallNotes(client).write(A.rated, "d1", A.note, now)
    IncidentLog(client).open(A.rated, trigger="words", language="zh", said=A.said, now=now)
    room = WaitingRoom(client, hotline_config.routing)

    def service(*, outage: bool) -> PersonData:
        """Every Redis place; with `outage`, Redis stops once the places through calls are done."""
        through_calls, linking = redis_places(client, room, sealer=sealer)
        stop = Place("outage", lambda p: [], lambda p: own_redis.stop() or 0)
        places = [*through_calls, *([stop] if outage else []), *linking]
        return PersonData(client, places, sealer=sealer, audit=AuditLog(client))

    with pytest.raises(Incomplete) as stopped:
        service(outage=True).erase(A.number, actor="sam", reason=REASON, now=now)
    erasure = stopped.value.erasure
    assert erasure.stopped_at == "routing" and not erasure.complete
    assert erasure.erased["notes"] == 1 and erasure.erased["incidents"] == 1
    assert "erased so far: caller_history 0, notes 1" in str(stopped.value)
    assert "run the erasure again" in str(stopped.value)
    # Redis was gone for the audit entry too: the log says what was done, masked.
    unaudited = [r.getMessage() for r in caplog.records if "not audited" in r.getMessage()]
    assert len(unaudited) == 1 and "+86*******1111" in unaudited[0]
    assert A.number not in caplog.text

    # Redis down from the start: nothing is done, and it says so.
    with pytest.raises(Unreachable, match="nothing was done"):
        service(outage=False).export(A.number, actor="sam", reason=REASON, now=now)

    own_redis.start()
    client.connection_pool.disconnect()
    assert CallStore(client).get(A.rated) is not None  # kept for the second run to find
    done = service(outage=False).erase(A.number, actor="sam", reason=REASON, now=now)
    assert done.complete and done.erased["calls"] == 1 and done.erased["notes"] == 0
    assert CallStore(client).get(A.rated) is None
    (entry,) = [e for e in AuditLog(client).recent() if e.action == "person.erase"]
    assert entry.after["complete"] is True


def test_a_call_still_going_on_is_kept_until_it_ends(app, hotline, redis, clock):
    sam = sign_in(app, "sam")
    CallStore(redis).start(A.rated, A.number)
    assert hotline.room.enqueue(
        A.rated, area="labor", language="zh", now=hotline.now, caller=A.number
    )
    body = {"number": A.number, "reason": REASON, "confirm": A.number[-4:]}
    first = sam.post("/api/v1/person/erase", json=body).get_json()
    assert first["complete"] and first["erased"]["calls"] == 0
    assert first["kept"] == [
        f"kept: call {A.rated} is still going on (waiting, being rung or talking): erase "
        "again once it ends"
    ]
    assert CallStore(redis).get(A.rated) is not None and hotline.room.position(A.rated) == 0
    # The caller hangs up: the next erasure takes the call and the returning-caller marker.
    hotline.room.leave(A.rated, hotline.now, outcome="abandoned")
    assert hotline.room.is_returning(A.number)
    second = sam.post("/api/v1/person/erase", json=body).get_json()
    assert second["kept"] == [] and second["erased"]["calls"] == 1
    assert second["erased"]["routing"] == 2  # the queued call and the returning marker
    assert CallStore(redis).get(A.rated) is None and not hotline.room.is_returning(A.number)


def test_the_legal_hold_key_format_is_pinned():
    assert keys.incident_holds() == "hotline:incident-holds"

"""Repeat callers on a real Redis: the history store (retention, bound, sealing, a person's
export and erasure), the whisper's repeat line, the desk's earlier calls by role, outcomes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ivr.callers.menu_twiml import whisper
from queues import keys
from queues.audit import AuditLog
from queues.calls import CallStore
from queues.notes import CallNotes
from queues.repeat_callers import DAY_S, CallerHistory, EarlierCall
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

NUMBER = "+8613812345678"
OTHER = "+8613987654321"
NOW = 1_800_000_000.0
SUMMARY = "公司拖欠三个月工资"
NOTE = "建议申请劳动仲裁，带上工资条"


def earlier(sid: str, at: float, **fields) -> EarlierCall:
    """An earlier call with a summary and a note."""
    return EarlierCall(sid, at, area="labor", language="zh", agent="d1", summary=SUMMARY,
                       note=NOTE, note_by="d1", outcome="answered", **fields)  # fmt: skip


def every_stored_value(redis) -> str:
    """Every key name and value Redis holds, as one text to search."""
    found = []
    for key in redis.scan_iter(count=1000):
        found.append(key.decode())
        kind = redis.type(key).decode()
        if kind == "hash":
            found += [f"{k.decode()}={v.decode()}" for k, v in redis.hgetall(key).items()]
        elif kind == "zset":
            found += [m.decode() for m in redis.zrange(key, 0, -1)]
        elif kind == "string":
            found.append(redis.get(key).decode(errors="replace"))
    return "\n".join(found)


def test_earlier_calls_are_newest_first_within_retention(redis, sealer):
    history = CallerHistory(redis, keep_days=30, sealer=sealer)
    digest = history.digest(NUMBER)
    history.remember(digest, earlier("CA-old", NOW - 31 * DAY_S), NOW - 31 * DAY_S)
    history.remember(digest, earlier("CA-a", NOW - 10 * DAY_S), NOW - 10 * DAY_S)
    history.remember(digest, earlier("CA-b", NOW - DAY_S), NOW - DAY_S)
    history.remember(history.digest(OTHER), earlier("CA-other", NOW - DAY_S), NOW - DAY_S)
    calls = history.earlier_calls(digest, NOW)
    # The call older than 30 days is not shown; another number's call is not this caller's.
    assert [c.call_sid for c in calls] == ["CA-b", "CA-a"]
    assert (calls[0].summary, calls[0].note, calls[0].outcome) == (SUMMARY, NOTE, "answered")
    # The call now is never its own earlier call.
    assert history.count(digest, NOW, before="CA-b") == 1
    assert history.count(digest, NOW) == 2 and history.count(digest, NOW, before="CA-x") == 2
    assert history.count(history.digest("+8610000000000"), NOW) == 0
    # The next write drops what is past retention, its entry included.
    history.remember(digest, earlier("CA-c", NOW), NOW)
    assert redis.zscore(keys.caller_history(digest), "CA-old") is None
    assert not redis.exists(keys.caller_history_call("CA-old"))
    assert 0 < redis.ttl(keys.caller_history(digest)) <= 30 * DAY_S


def test_a_callers_history_keeps_only_the_newest_calls(redis, sealer):
    history = CallerHistory(redis, max_calls=3, sealer=sealer)
    digest = history.digest(NUMBER)
    for n in range(5):
        history.remember(digest, earlier(f"CA-{n}", NOW + n), NOW + n)
    assert [c.call_sid for c in history.earlier_calls(digest, NOW + 5)] == ["CA-4", "CA-3", "CA-2"]
    assert redis.zcard(keys.caller_history(digest)) == 3
    assert not redis.exists(keys.caller_history_call("CA-0"), keys.caller_history_call("CA-1"))


def test_a_write_updates_the_call_it_names(redis, sealer):
    history = CallerHistory(redis, sealer=sealer)
    digest = history.digest(NUMBER)
    history.remember(digest, EarlierCall("CA-1", NOW, area="labor"), NOW)
    history.remember(digest, earlier("CA-1", NOW, rating=2, flags=("heavy",)), NOW + 60)
    [call] = history.earlier_calls(digest, NOW + 60)
    assert (call.note, call.rating, call.flags) == (NOTE, 2, ("heavy",))


def test_nothing_plain_about_the_caller_is_in_redis(redis, sealer):
    history = CallerHistory(redis, sealer=sealer)
    history.remember(history.digest(NUMBER), earlier("CA-1", NOW), NOW)
    stored = every_stored_value(redis)
    for plain in (NUMBER, NUMBER[-8:], SUMMARY, NOTE[:6], "劳动仲裁"):
        assert plain not in stored
    assert history.digest(NUMBER) in stored
    # A sealed word is bound to its call: moved onto another call it does not open.
    sealed = redis.hget(keys.caller_history_call("CA-1"), "note").decode()
    assert sealed.startswith("hs1:")
    redis.hset(keys.caller_history_call("CA-1"), "summary", sealed)
    [call] = history.earlier_calls(history.digest(NUMBER), NOW)
    assert call.summary == "" and call.note == NOTE


def test_a_persons_calls_are_exported_and_erased(redis, sealer):
    history = CallerHistory(redis, sealer=sealer)
    digest = history.digest(NUMBER)
    history.remember(digest, earlier("CA-1", NOW - 60), NOW)
    history.remember(digest, earlier("CA-2", NOW), NOW)
    history.remember(history.digest(OTHER), earlier("CA-9", NOW), NOW)
    exported = history.export_person(NUMBER)
    assert [(c["call_sid"], c["summary"], c["note"]) for c in exported] == [
        ("CA-1", SUMMARY, NOTE),
        ("CA-2", SUMMARY, NOTE),
    ]
    assert history.erase_person(NUMBER) == 2
    assert history.export_person(NUMBER) == [] and history.erase_person(NUMBER) == 0
    assert not redis.exists(keys.caller_history(digest), keys.caller_history_call("CA-1"))
    # Another caller's calls stay.
    assert [c["call_sid"] for c in history.export_person(OTHER)] == ["CA-9"]


def test_an_ended_calls_record_row_is_remembered_with_the_desks_words(redis, sealer):
    calls, notes = CallStore(redis, sealer=sealer), CallNotes(redis, sealer=sealer)
    calls.start("CA-1", NUMBER)
    calls.update("CA-1", summary=SUMMARY)
    notes.write("CA-1", "d1", NOTE, NOW)
    notes.flag("CA-1", "d1", "heavy", NOW)
    assert notes.set_outcome("CA-1", "d1", "lawyer", NOW)
    history = CallerHistory(redis, sealer=sealer)
    row = {"call_sid": "CA-1", "caller_digest": history.digest(NUMBER), "arrived_at": NOW,
           "area": "labor", "language": "zh", "agent": "d1", "rating": 1,
           "outcome": "answered"}  # fmt: skip
    assert history.remember_ended(row, NOW)
    [call] = history.earlier_calls(history.digest(NUMBER), NOW)
    assert (call.summary, call.note, call.note_by, call.flags) == (SUMMARY, NOTE, "d1", ("heavy",))
    assert (call.outcome, call.rating, call.ended, call.agent) == ("lawyer", 1, "answered", "d1")
    # A caller who hung up in the menu told nobody anything: not an earlier call.
    menu = {"call_sid": "CA-2", "outcome": "menu", "agent": "", "queued_at": None}
    assert not history.remember_ended(row | menu, NOW)


def test_an_outcome_is_told_once_on_the_stream(redis, sealer):
    notes = CallNotes(redis, sealer=sealer)
    assert notes.set_outcome("CA-1", "d1", "follow_up", NOW, follow_up=True)
    assert not notes.set_outcome("CA-1", "d1", "follow_up", NOW + 1, follow_up=True)
    assert notes.set_outcome("CA-1", "d1", "answered", NOW + 2)
    told = [f for _, f in redis.xrange(keys.events()) if f[b"kind"] == b"outcome"]
    assert [(f[b"call"], f[b"outcome"], f.get(b"follow_up")) for f in told] == [
        (b"CA-1", b"follow_up", b"1"),
        (b"CA-1", b"answered", None),
    ]
    assert notes.get("CA-1").outcome == "answered"


# --- the whisper ------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "line"), [(0, None), (2, "第3次来电")])
def test_the_whisper_names_a_repeat_callers_call_first(hotline_config, before, line):
    doc = whisper(hotline_config, "zh", area="labor", waited_s=30, summary=SUMMARY,
                  callback=False, action="/answer", calls_before=before)  # fmt: skip
    root = ET.fromstring(doc.to_xml())
    gather = root.find("Gather")
    said = [say.text or "" for say in gather.findall("Say")]
    if line is None:
        assert not any("次来电" in text for text in said)
        assert said[0].startswith("新来电")
    else:
        assert said[0] == hotline_config.prompt("whisper_repeat", "zh", count=before + 1)
        assert line in said[0] and said[1].startswith("新来电")
    english = ET.fromstring(
        whisper(
            hotline_config,
            "en",
            area="labor",
            waited_s=30,
            summary="",
            callback=False,
            action="/answer",
            calls_before=before,
        ).to_xml()  # fmt: skip
    )
    spoken = " ".join(say.text or "" for say in english.iter("Say"))
    assert ("call number 3" in spoken) is (before == 2)


# --- the desk ---------------------------------------------------------------------------------


def two_earlier_calls(hotline: Hotline, sealer) -> None:
    """The number called twice before: once to agent d1 (her note), once to d2 (his note)."""
    history = CallerHistory(hotline.redis, sealer=sealer)
    digest = history.digest(NUMBER)
    at = hotline.now
    history.remember(digest, earlier("CA-d1", at - 3 * DAY_S), at)
    d2 = EarlierCall("CA-d2", at - DAY_S, area="family", language="zh", agent="d2",
                     summary="离婚财产分割", note="对方有家暴史", note_by="d2", outcome="lawyer",
                     rating=2)  # fmt: skip
    history.remember(digest, d2, at)
    # An earlier call older than the shipped retention (365 days) is not shown.
    history.remember(digest, earlier("CA-old", at - 400 * DAY_S), at - 400 * DAY_S)


def ring_again(hotline: Hotline, sealer) -> str:
    """The same number calls again and rings agent d1; returns the reservation."""
    CallStore(hotline.redis, sealer=sealer).start("CA-now", NUMBER)
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring("CA-now", area="labor", summary="又来了")
    assert match is not None and match.agent_id == "d1"
    return match.reservation_id


def test_the_agent_sees_earlier_calls_but_not_another_agents_note(app, hotline, sealer):
    two_earlier_calls(hotline, sealer)
    ring_again(hotline, sealer)
    agent = sign_in(app, "wang")
    shown = agent.get("/api/v1/agents/d1/call").json["call"]["history"]
    assert [(h["call_sid"], h["area"], h["agent"], h["outcome"]) for h in shown] == [
        ("CA-d2", "family", "d2", "lawyer"),
        ("CA-d1", "labor", "d1", "answered"),
    ]
    by_sid = {h["call_sid"]: h for h in shown}
    assert by_sid["CA-d2"]["summary"] == "离婚财产分割" and by_sid["CA-d2"]["date"]
    # Her own note she sees; what the caller told d2 stays with d2 and supervisors.
    assert by_sid["CA-d1"]["note"] == NOTE
    assert by_sid["CA-d2"]["note"] is None and by_sid["CA-d2"]["note_hidden"] is True
    assert all("rating" not in h for h in shown)
    assert not [e for e in AuditLog(hotline.redis).recent() if "caller-history" in e.action]
    page = agent.get("/ops/desk/").get_data(as_text=True)
    assert "离婚财产分割" in page and "对方有家暴史" not in page and NOTE in page


def test_a_supervisor_sees_every_note_and_each_showing_is_audited(app, hotline, sealer):
    two_earlier_calls(hotline, sealer)
    ring_again(hotline, sealer)
    sup = sign_in(app, "sam")
    shown = sup.get("/api/v1/agents/d1/call").json["call"]["history"]
    notes = {h["call_sid"]: (h["note"], h["rating"]) for h in shown}
    assert notes == {"CA-d2": ("对方有家暴史", 2), "CA-d1": (NOTE, 0)}
    sup.get("/api/v1/agents/d1/call")
    audited = [
        e for e in AuditLog(hotline.redis).recent() if e.action == "caller-history.note-shown"
    ]
    assert len(audited) == 2
    assert audited[0].actor == "sam" and audited[0].target == "CA-now"
    assert sorted(audited[0].after["calls"]) == ["CA-d1", "CA-d2"]
    # Ops staff see no caller's history at all.
    assert sign_in(app, "olga").get("/api/v1/agents/d1/call").status_code == 403


def test_the_wrap_up_takes_a_known_outcome_and_refuses_an_unknown_one(app, hotline, sealer):
    rid = ring_again(hotline, sealer)
    agent = sign_in(app, "wang")
    url = "/api/v1/agents/d1/call"
    refused = agent.post(f"{url}/outcome", json={"reservation": rid, "outcome": "solved"})
    assert refused.status_code == 400
    error = refused.json["error"]
    assert error["field"] == "outcome" and "follow_up" in error["message"]
    # With the note: nothing is saved when the code is unknown.
    bad = agent.post(f"{url}/note", json={"reservation": rid, "note": "n", "outcome": "x"})
    assert bad.status_code == 400 and CallNotes(hotline.redis).get("CA-now").note == ""
    good = agent.post(
        f"{url}/note", json={"reservation": rid, "note": "ok", "outcome": "legal_aid"}
    )
    assert good.status_code == 200 and good.json["outcome"] == "legal_aid"
    assert agent.get(url).json["call"]["outcome"] == "legal_aid"
    changed = agent.post(f"{url}/outcome", json={"reservation": rid, "outcome": "follow_up"})
    assert changed.status_code == 200
    told = [f for _, f in hotline.redis.xrange(keys.events()) if f[b"kind"] == b"outcome"]
    assert [(f[b"outcome"], f.get(b"follow_up")) for f in told] == [
        (b"legal_aid", None),
        (b"follow_up", b"1"),
    ]
    # Another agent cannot give this call an outcome.
    other = sign_in(app, "emily")
    assert (
        other.post(f"{url}/outcome", json={"reservation": rid, "outcome": "answered"}).status_code
        == 403
    )


def test_the_record_job_keeps_the_outcome_in_the_call_record_and_the_history(
    app, hotline, sealer, records
):
    from queues.records import jobs

    rid = ring_again(hotline, sealer)
    agent = sign_in(app, "wang")
    wrap = {"reservation": rid, "note": "劳动仲裁", "outcome": "legal_aid"}
    assert agent.post("/api/v1/agents/d1/call/note", json=wrap).status_code == 200
    with app.app_context():
        assert jobs.record_call_job("CA-now") is True
    assert records.get_call("CA-now")["wrap_up_outcome"] == "legal_aid"
    history = CallerHistory(hotline.redis, sealer=sealer)
    [kept] = history.earlier_calls(history.digest(NUMBER), hotline.now + 60)
    assert (kept.call_sid, kept.outcome, kept.note, kept.summary) == (
        "CA-now",
        "legal_aid",
        "劳动仲裁",
        "又来了",
    )

"""A bridged call's live transcript: Twilio's signed callbacks put final lines on the desk's feed,
a caller's crisis words alert the supervisors and put a crisis event there, repeats change
nothing, and the transcript is kept, sealed, only with the caller's recording consent."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from rq import Queue

from queues import keys, live_assist
from queues.audit import AuditLog
from queues.calls import CallStore
from queues.incidents import IncidentLog
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.plaintext import all_of_redis
from tests.fixtures.twiml import Doc
from voicemail import person_data
from voicemail.consultations import Consent, ConsultationRecordings
from voicemail.transcripts import CallTranscripts

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32  # the Twilio fixture's CallSid
CALLER = "+8613812345678"  # the Twilio fixture's From
TRANSCRIPTION = "GT" + "7" * 32
PATH = "/voice/assist/transcript?res=R-none"
WAGES = "老板拖欠我三个月工资"
ANSWER = "您好，请说说具体情况"
CRISIS = "明天我就从楼上跳下去"


def content(text: str, seq: int, *, track: str = "inbound_track", final: str = "true") -> dict:
    """A transcription-content callback as Twilio sends it."""
    return {
        "TranscriptionEvent": "transcription-content",
        "TranscriptionSid": TRANSCRIPTION,
        "Timestamp": "2026-12-02T02:00:00.000Z",
        "SequenceId": str(seq),
        "Track": track,
        "LanguageCode": "zh-CN",
        "TranscriptionData": json.dumps({"transcript": text, "confidence": 0.91}),
        "Final": final,
        "Stability": "0.9",
    }


def stopped(seq: int) -> dict:
    """The transcription-stopped callback at the call's end."""
    return {
        "TranscriptionEvent": "transcription-stopped",
        "TranscriptionSid": TRANSCRIPTION,
        "SequenceId": str(seq),
    }


def feed(redis, call_sid: str = CALL) -> list[tuple[str, dict]]:
    """The call's assist feed as (kind, data)."""
    return [(event.kind, event.data) for event in live_assist.read(redis, call_sid)]


def empty_twiml(answer) -> None:
    """The answer is an empty TwiML document."""
    assert Doc.parse(answer).verbs() == []


def test_final_lines_of_both_tracks_reach_the_feed_and_partial_ones_do_not(twilio, redis):
    empty_twiml(twilio.post(PATH, content(WAGES, 1)))
    empty_twiml(twilio.post(PATH, content(ANSWER, 2, track="outbound_track")))
    empty_twiml(twilio.post(PATH, content("老板拖", 3, final="false")))

    lines = feed(redis)
    assert [(kind, data["track"], data["text"], data["seq"]) for kind, data in lines] == [
        ("line", "caller", WAGES, 1),
        ("line", "agent", ANSWER, 2),
    ]
    assert all(data["at"] > 0 for _, data in lines)
    # Unpaid wages are no crisis: nobody is alerted.
    assert redis.exists(keys.crisis_alert(CALL)) == 0


def test_the_reservations_call_is_the_feed_written(twilio, redis, hotline):
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring("CA" + "9" * 32, area="family")
    assert match is not None

    # The reservation names the caller's call, whatever leg the callback came on.
    twilio.post(f"/voice/assist/transcript?res={match.reservation_id}", content(WAGES, 1))

    assert [kind for kind, _ in feed(redis, match.call_sid)] == ["line"]
    assert feed(redis, CALL) == []


def test_a_callback_s_lines_come_on_the_leg_we_dialled_and_are_the_call_s(
    twilio, redis, hotline, caplog
):
    # A callback task: the caller's own call ended long ago; we dial them on a new leg.
    first_call = "CA" + "8" * 32
    hotline.board.set_presence("d1", "available", hotline.now)
    assert hotline.room.enqueue(
        first_call, area="family", language="zh", now=hotline.now, callback_number=CALLER
    )
    match = hotline.matcher.match_call(first_call, hotline.now)
    assert match is not None and match.kind == "callback"

    # The Twilio fixture's CallSid (CALL) is the leg we dialled, not the call first made.
    with caplog.at_level(logging.WARNING, logger="ivr.callers.live_transcript"):
        twilio.post(f"/voice/assist/transcript?res={match.reservation_id}", content(WAGES, 1))

    assert [kind for kind, _ in feed(redis, first_call)] == ["line"]
    assert feed(redis, CALL) == []
    assert not [r for r in caplog.records if "another call's leg" in r.getMessage()]


def test_a_live_call_s_lines_on_another_leg_are_its_own_and_said_in_the_log(
    twilio, redis, hotline, caplog
):
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring("CA" + "9" * 32, area="family")
    assert match is not None and match.kind != "callback"

    with caplog.at_level(logging.WARNING, logger="ivr.callers.live_transcript"):
        twilio.post(f"/voice/assist/transcript?res={match.reservation_id}", content(WAGES, 1))

    assert [kind for kind, _ in feed(redis, match.call_sid)] == ["line"]
    assert [r for r in caplog.records if "another call's leg" in r.getMessage()]


def test_a_callers_crisis_words_alert_the_supervisors_and_the_desk(twilio, redis):
    CallStore(redis).start(CALL, CALLER)
    twilio.post(PATH, content(WAGES, 1))
    twilio.post(PATH, content(CRISIS, 2))

    assert [kind for kind, _ in feed(redis)] == ["line", "line", "crisis"]
    assert feed(redis)[-1][1]["text"] == CRISIS
    # The same alert as the danger key or an agent's flag: one incident, one page job.
    alert = redis.hgetall(keys.crisis_alert(CALL))
    assert alert[b"trigger"] == b"live_transcript"
    assert f"crisis-page-{CALL}" in Queue("crisis", connection=redis).job_ids
    incident = IncidentLog(redis).get(CALL)
    assert incident is not None
    assert incident.first("opened")["said"] == CRISIS


def test_an_agents_words_never_raise_a_crisis(twilio, redis):
    twilio.post(PATH, content(CRISIS, 1, track="outbound_track"))

    assert [kind for kind, _ in feed(redis)] == ["line"]
    assert redis.exists(keys.crisis_alert(CALL)) == 0


def test_a_repeated_callback_changes_nothing(twilio, redis):
    twilio.post(PATH, content(CRISIS, 1))
    before = feed(redis)
    pages = Queue("crisis", connection=redis).count
    steps = len(IncidentLog(redis).get(CALL).steps)

    empty_twiml(twilio.post(PATH, content(CRISIS, 1)))

    assert feed(redis) == before
    assert Queue("crisis", connection=redis).count == pages
    assert len(IncidentLog(redis).get(CALL).steps) == steps


def test_a_forged_signature_is_refused_and_nothing_is_written(twilio, redis):
    answer = twilio.post(PATH, content(CRISIS, 1), signature="forged")

    assert answer.status_code == 403
    assert feed(redis) == []
    assert redis.exists(keys.crisis_alert(CALL)) == 0


def test_redis_down_answers_empty_twiml_not_an_error(app_without_redis):
    from tests.fixtures.app import Twilio

    twilio = Twilio(app_without_redis.test_client())
    for form in (content(CRISIS, 1), stopped(2)):
        empty_twiml(twilio.post(PATH, form))


def a_consultation(twilio, redis, consent: str | None) -> None:
    """A caller's call with the recording notice answered (or not), its lines, and its end."""
    CallStore(redis).start(CALL, CALLER)
    CallStore(redis).update(CALL, area="labor", language="zh")
    if consent is not None:
        Consent(redis).keep(CALL, consent, area="labor", language="zh")
    twilio.post(PATH, content(WAGES, 1))
    twilio.post(PATH, content(ANSWER, 2, track="outbound_track"))
    twilio.post(PATH, stopped(3))


def test_with_consent_the_transcript_is_kept_sealed_for_the_recordings_retention(
    app, twilio, redis
):
    a_consultation(twilio, redis, "given")

    kept = CallTranscripts(redis).kept(CALL)
    assert [(line["track"], line["text"]) for line in kept] == [
        ("caller", WAGES),
        ("agent", ANSWER),
    ]
    keep_days = app.config["HOTLINE"].records.recording_keep_days
    assert keep_days * 86400 - 60 < redis.ttl(keys.call_transcript(CALL)) <= keep_days * 86400
    # The words are nowhere in Redis in plain text: feed, lines and kept transcript all sealed.
    stored = all_of_redis(redis)
    for words in (WAGES, ANSWER, "三个月工资", CALLER):
        assert words.encode() not in stored
    # A repeated end keeps it once.
    twilio.post(PATH, stopped(3))
    assert CallTranscripts(redis).kept(CALL) == kept


@pytest.mark.parametrize("consent", ["refused", None])
def test_without_consent_nothing_is_kept_past_the_feeds_hours(twilio, redis, consent):
    a_consultation(twilio, redis, consent)

    assert CallTranscripts(redis).kept(CALL) is None
    assert redis.exists(keys.call_transcript(CALL)) == 0
    # Only the live feed and its lines, both going within the feed's few hours.
    for key in (keys.live_call(CALL), keys.live_transcript(CALL)):
        assert 0 < redis.ttl(key) <= live_assist.TTL_S


def test_supervisors_read_it_beside_the_recording_and_it_is_audited(app, hotline, twilio, redis):
    a_consultation(twilio, redis, "given")
    recording = "RE" + "5" * 32
    ConsultationRecordings(redis).register(
        recording, now=datetime.now(UTC), call_sid=CALL, caller=CALLER, consent="given"
    )
    supervisor, agent = sign_in(app, "sam"), sign_in(app, "wang")

    listed = supervisor.get(f"/ops/recordings?call={CALL}").get_data(as_text=True)
    page = supervisor.get(f"/ops/recordings/{recording}/transcript")

    assert f"/ops/recordings/{recording}/transcript" in listed
    assert page.status_code == 200
    assert WAGES in page.get_data(as_text=True) and ANSWER in page.get_data(as_text=True)
    assert agent.get(f"/ops/recordings/{recording}/transcript").status_code in (302, 303, 403)
    reads = [entry for entry in AuditLog(redis).recent(20) if entry.action == "transcript-read"]
    assert [(entry.actor, entry.target) for entry in reads] == [("sam", recording)]


def test_the_persons_erasure_takes_the_transcript_and_the_live_feed(app, twilio, redis):
    a_consultation(twilio, redis, "given")
    CallStore(redis).update(CALL, area="labor")

    with app.app_context():
        service = person_data.for_app(app)
        exported = service.export(CALLER, actor="sam", reason="本人申请", now=1.0)
        found = exported.manifest["places"]
        assert [line["text"] for line in found["transcripts"][0]["kept"]] == [WAGES, ANSWER]
        assert found["live_assist"][0]["call_sid"] == CALL
        done = service.erase(CALLER, actor="sam", reason="本人申请", now=2.0)

    assert done.erased["transcripts"] == 1 and done.erased["live_assist"] == 1
    for key in (keys.call_transcript(CALL), keys.live_transcript(CALL), keys.live_call(CALL)):
        assert redis.exists(key) == 0

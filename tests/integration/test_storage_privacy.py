"""What Redis and its files hold about callers: keyed digests, sealed numbers and words, and
private files, checked by reading everything back the way someone with the data would."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zlib
from pathlib import Path

import pytest
import redis as redis_lib
from rq import Queue

from hotline.settings import Settings, secret
from queues import keys
from queues.agent_line import AgentLine
from queues.agents import AgentBoard
from queues.blocklist import Blocklist
from queues.calls import CallStore
from queues.conditions import Conditions
from queues.embedded import EmbeddedRedis
from queues.followups import FollowUps
from queues.incidents import IncidentLog, export
from queues.notes import CallNotes
from queues.sealing import KeyCheck, Sealer
from queues.waiting import WaitingRoom
from telephony.gateway import GatewayError
from tests.fixtures.app import OPEN_TIME, Twilio
from tests.fixtures.jobs import BurstHotlineWorker
from tests.fixtures.twiml import Doc
from voicemail.messages import MessageStore

pytestmark = pytest.mark.redis

CALLER = "+8613957402816"
# The number a caller keys for their callback, another than the one they ring from.
KEYED = "+8613760418295"
WORDS = "公司拖欠我三个月工资，我的电话是13957402816"
CRISIS_WORDS = "我不想活了，我的电话是13957402816"
# Fragments of what callers said that nothing else in the hotline would store.
SAID = ("拖欠我三个月工资", "不想活", "电话是")
CALL, ABANDONED, CRISIS = ("CA" + digit * 32 for digit in "abc")
RECORDING = "RE" + "d" * 32
NOW = OPEN_TIME.timestamp()


def sha256_digest(number: str) -> str:
    """How numbers were digested before digests were keyed."""
    return hashlib.sha256(number.encode()).hexdigest()[:24]


def needles(*numbers: str) -> list[bytes]:
    """Every common way a number or a caller's words could show in stored bytes."""
    found: list[bytes] = []
    for number in numbers:
        digits = number.lstrip("+")
        # E.164, without +, the national number, its last 8 digits, and its unkeyed digests.
        found += [number, digits, digits[2:], digits[-8:], sha256_digest(number)]
        found.append(hashlib.sha256(number.encode()).hexdigest())
    for words in SAID:
        found += [words, json.dumps(words)[1:-1]]
    return [needle.encode() if isinstance(needle, str) else needle for needle in found]


def dump(redis: redis_lib.Redis) -> bytes:
    """Every key and value in the database, by type, with RQ's compressed job data unpacked."""
    parts: list[bytes] = []
    for key in redis.scan_iter(count=1000):
        parts.append(key)
        kind = redis.type(key)
        if kind == b"string":
            parts.append(redis.get(key) or b"")
        elif kind == b"hash":
            for field, value in redis.hgetall(key).items():
                parts += [field, value, _unpacked(value)]
        elif kind == b"list":
            parts += redis.lrange(key, 0, -1)
        elif kind == b"set":
            parts += redis.smembers(key)
        elif kind == b"zset":
            parts += redis.zrange(key, 0, -1)
        elif kind == b"stream":
            for _, fields in redis.xrange(key):
                for field, value in fields.items():
                    parts += [field, value]
        else:
            raise AssertionError(f"{key!r} has a type the dump cannot read: {kind!r}")
    return b"\n".join(parts)


def _unpacked(value: bytes) -> bytes:
    """RQ keeps a job's function and arguments zlib-compressed: their bytes, else nothing."""
    try:
        return zlib.decompress(value)
    except zlib.error:
        return b""


def leaks(data: bytes, *numbers: str) -> list[bytes]:
    """The needles found in some bytes."""
    return [needle for needle in needles(*numbers) if needle in data]


def place_calls(app, twilio: Twilio, redis: redis_lib.Redis) -> None:
    """Calls that leave every kind of record: speech, intake, a keyed callback number, an
    abandoned wait, crisis words, a voicemail, the agent line, a follow-up, a note, a block."""
    caller = {"From": CALLER, "CallSid": CALL}
    twilio.post("/voice", caller)
    twilio.post("/voice/language?t=1", {**caller, "Digits": "1"})
    area = Doc.parse(twilio.post("/voice/area?lang=zh&t=1", {**caller, "SpeechResult": WORDS}))
    assert "area=labor" in area.first("Gather").get("action")
    queued = Doc.parse(
        twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {**caller, "Digits": "1"})
    )
    assert queued.first("Enqueue").text == "labor"
    twilio.post("/voice/wait/key?lang=zh&area=labor", {**caller, "Digits": "1"})
    twilio.post("/voice/wait/callback?lang=zh&area=labor", {**caller, "Digits": "2"})
    kept = Doc.parse(
        twilio.post(
            "/voice/wait/callback-number?lang=zh&area=labor",
            {**caller, "Digits": KEYED.removeprefix("+86") + "#"},
        )
    )
    assert "Leave" in kept.verbs()
    twilio.post(
        "/voice/voicemail/status?lang=zh&area=labor",
        {**caller, "RecordingSid": RECORDING, "RecordingStatus": "completed",
         "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{RECORDING}",
         "RecordingDuration": "8"},
    )  # fmt: skip
    twilio.post(
        "/voice/voicemail/transcription",
        {**caller, "RecordingSid": RECORDING, "TranscriptionText": WORDS,
         "TranscriptionStatus": "completed"},
    )  # fmt: skip

    gone = {"From": CALLER, "CallSid": ABANDONED}
    twilio.post("/voice", gone)
    twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {**gone, "Digits": "1"})
    twilio.post("/voice/queue-result?lang=zh&area=labor", {**gone, "QueueResult": "hangup"})

    danger = {"From": CALLER, "CallSid": CRISIS}
    twilio.post("/voice", danger)
    crisis = Doc.parse(
        twilio.post("/voice/area?lang=zh&t=1", {**danger, "SpeechResult": CRISIS_WORDS})
    )
    assert crisis.all("Dial")

    policy = app.config["HOTLINE"].routing
    line = AgentLine(redis, AgentBoard(redis, policy))
    assert line.login("201", "0000", caller=CALLER, call_sid="CA-line", now=NOW).agent_id is None
    FollowUps(redis).open(CALL, area="labor", language="zh", agent="a01", caller=CALLER, now=NOW)
    FollowUps(redis).open(CRISIS, area="labor", language="zh", agent="a01", caller=KEYED, now=NOW)
    FollowUps(redis).close(CRISIS, by="sup1", note="回电，已说明仲裁程序", now=NOW)
    CallNotes(redis).write(CALL, "a01", f"来电人说：{WORDS}", NOW)
    IncidentLog(redis).note(CRISIS, f"来电人说{CRISIS_WORDS}", by="a01", now=NOW)
    Blocklist(redis).add(CALLER, by="sup1", now=NOW, reason="abuse")


# --- keyed digests ------------------------------------------------------------------------------


def test_blocklist_digests_are_keyed_by_the_hotline_secret(
    app_env, redis, redis_url, clock, hotline_config
):
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", redis_url)
    digests = []
    for key in ("one hotline's secret", "another hotline's secret"):
        app_env.setenv("HOTLINE_SECRET_KEY", key)
        create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
        redis.flushdb()
        blocklist = Blocklist(redis)
        entry = blocklist.add(CALLER, by="sup1", now=NOW)
        assert redis.smembers(keys.blocklist()) == {entry.digest.encode()}
        assert blocklist.contains(CALLER) and not blocklist.contains(KEYED)
        digests.append(entry.digest)
    assert all(len(digest) == 24 for digest in digests)
    assert sha256_digest(CALLER) not in digests
    assert digests[0] != digests[1]


def test_an_old_blocklist_entry_still_blocks_and_is_rekeyed_on_its_first_call(app, twilio, redis):
    old = sha256_digest(CALLER)
    fields = {"masked": "+86*******2816", "by": "sup1", "at": NOW, "reason": "threats"}
    redis.sadd(keys.blocklist(), old)
    redis.hset(keys.blocklist_entries(), old, json.dumps(fields))
    assert Blocklist(redis).entries()[0].masked == "+86*******2816"

    first = Doc.parse(twilio.post("/voice", {"From": CALLER}))
    assert "This line cannot take your call" in first.said()
    (keyed,) = redis.smembers(keys.blocklist())
    assert keyed.decode() != old
    (entry,) = Blocklist(redis).entries()
    assert entry.digest == keyed.decode()
    assert (entry.masked, entry.by, entry.at, entry.reason) == (
        "+86*******2816",
        "sup1",
        NOW,
        "threats",
    )
    assert redis.hget(keys.blocklist_entries(), old) is None
    # Re-keyed, the number stays blocked; another number never was.
    again = Doc.parse(twilio.post("/voice", {"From": CALLER}))
    assert "This line cannot take your call" in again.said()
    assert "This line cannot take your call" not in Doc.parse(twilio.post("/voice")).said()
    # Supervisors unblock it by the digest the list now shows, or by the number.
    assert Blocklist(redis).remove(entry.digest, by="sup2", now=NOW + 1)
    redis.sadd(keys.blocklist(), old)
    redis.hset(keys.blocklist_entries(), old, json.dumps(fields))
    assert Blocklist(redis).remove(CALLER, by="sup2", now=NOW + 2)
    assert redis.smembers(keys.blocklist()) == set()


# --- sealed numbers and words -------------------------------------------------------------------


def test_after_calls_redis_holds_neither_a_callers_number_nor_their_words(app, twilio, redis):
    place_calls(app, twilio, redis)
    assert leaks(dump(redis), CALLER, KEYED) == []

    # Everyone who may read them still does, through the classes that own them.
    record = CallStore(redis).get(CALL)
    assert (record.caller, record.speech) == (CALLER, WORDS)
    assert CallStore(redis).get(CRISIS).crisis_trigger == "crisis_words"
    room = WaitingRoom(redis, app.config["HOTLINE"].routing)
    assert room.callback_number(CALL) == KEYED
    assert room.is_returning(CALLER)
    incident = IncidentLog(redis).get(CRISIS)
    assert "不想活" in incident.summary()["said"]
    assert CRISIS_WORDS in incident.summary()["notes"]
    assert "不想活" in export([incident], "csv")
    message = MessageStore(redis).get(RECORDING)
    assert message.caller == CALLER and message.summary == record.summary != ""
    assert FollowUps(redis).get(CALL).caller == CALLER
    assert FollowUps(redis).get(CRISIS).caller == ""  # closed: the number is gone
    assert WORDS in CallNotes(redis).get(CALL).note
    assert Blocklist(redis).contains(CALLER)


def test_plain_values_from_before_sealing_are_read_and_sealed_when_next_written(app, redis, sealer):
    # Written by the version before sealing: plain in Redis.
    redis.hset(keys.call(CALL), mapping={"caller": CALLER, "speech": WORDS, "started_at": NOW})
    redis.xadd(keys.incident(CRISIS), {"kind": "opened", "at": f"{NOW:.3f}", "said": WORDS})
    redis.zadd(keys.incidents(), {CRISIS: NOW})
    redis.hset(keys.followup(CALL), mapping={"opened_at": NOW, "caller": CALLER})
    redis.hset(keys.call_note(CALL), mapping={"agent": "a01", "note": WORDS})
    calls = CallStore(redis)
    assert (calls.get(CALL).caller, calls.get(CALL).speech) == (CALLER, WORDS)
    assert IncidentLog(redis).get(CRISIS).summary()["said"] == WORDS
    assert FollowUps(redis).get(CALL).caller == CALLER
    assert CallNotes(redis).get(CALL).note == WORDS

    calls.update(CALL, speech=WORDS + "。")
    stored = redis.hget(keys.call(CALL), "speech").decode()
    assert sealer.opens(stored, f"call:{CALL}:speech") and WORDS not in stored
    assert calls.get(CALL).speech == WORDS + "。"


def test_a_changed_secret_is_a_standing_condition_until_restored_or_accepted(
    app, app_env, redis, redis_url, sealer, caplog
):
    from hotline.cli import main

    assert keys.sealing_check() == "hotline:sealing-check"
    assert KeyCheck(redis, sealer).run(NOW)
    assert KeyCheck(redis, sealer).run(NOW + 1)
    CallStore(redis, sealer=sealer).start(CALL, CALLER)
    Blocklist(redis, sealer=sealer).add(CALLER, by="sup1", now=NOW)

    changed = Sealer("a new secret")
    # Without the check nothing would fail: the number reads as empty, the block just misses.
    assert CallStore(redis, sealer=changed).get(CALL).caller == ""
    assert not Blocklist(redis, sealer=changed).contains(CALLER)
    assert "does not open" in caplog.text and CALLER not in caplog.text
    assert not KeyCheck(redis, changed).run(NOW + 2)
    (condition,) = Conditions(redis).active()
    assert condition.name == "secret_key_changed" and "accept-key" in condition.detail
    assert app.test_client().get("/healthz").json["status"] == "attention"
    # The old secret back: the condition clears and everything opens again.
    assert KeyCheck(redis, sealer).run(NOW + 3)
    assert Conditions(redis).active() == []
    assert CallStore(redis).get(CALL).caller == CALLER

    # Or ops accept the new one: from then on it is the one Redis is sealed under.
    assert not KeyCheck(redis, changed).run(NOW + 4)
    app_env.setenv("REDIS_URL", redis_url)
    app_env.setenv("HOTLINE_SECRET_KEY", "a new secret")
    assert main(["storage", "accept-key"]) == 0
    assert Conditions(redis).active() == []
    assert KeyCheck(redis, changed).run(NOW + 5)
    assert not KeyCheck(redis, sealer).run(NOW + 6)


def refuse_the_number() -> None:
    """A job failing the way Twilio refuses a number: the error quotes it."""
    raise GatewayError(f"The 'To' number {CALLER} is not a valid phone number.", status=400)


def test_a_failed_jobs_traceback_keeps_no_number(redis):
    job = Queue("dispatch", connection=redis).enqueue(refuse_the_number)
    BurstHotlineWorker([Queue("dispatch", connection=redis)], connection=redis).work(burst=True)
    job.refresh()
    assert job.is_failed
    assert "+86*******2816" in job.latest_result().exc_string
    assert leaks(dump(redis), CALLER) == []


# --- files on disk -----------------------------------------------------------------------------


def private(path: Path, mode: int) -> bool:
    """Whether a path has exactly this mode."""
    return stat.S_IMODE(path.stat().st_mode) == mode


def test_embedded_redis_files_are_private_and_hold_no_caller_data(
    app_env, tmp_path, clock, hotline_config
):
    from hotline.app import create_app

    folder = tmp_path / "redis"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    # A log an older version left readable by everyone.
    (folder / "redis.log").write_text("")
    (folder / "redis.log").chmod(0o644)
    server = EmbeddedRedis(folder)
    previous = os.umask(0o022)
    try:
        url = server.start()
    finally:
        os.umask(previous)
    try:
        app_env.setenv("REDIS_URL", url)
        app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
        with redis_lib.Redis.from_url(url) as redis:
            place_calls(app, Twilio(app.test_client()), redis)
            assert leaks(dump(redis), CALLER, KEYED) == []
            redis.save()
        files = sorted(path.name for path in folder.iterdir())
        assert {"appendonly.aof", "redis.db", "redis.conf", "redis.log", "redis.sock"} <= set(files)
        assert private(folder, 0o700)
        assert private(folder / "redis.sock", 0o600) and server.socket_path.is_socket()
        assert [name for name in files if not private(folder / name, 0o600)] == []
        # The append-only file logs every write as sent: no number or words in any of them.
        assert leaks((folder / "appendonly.aof").read_bytes(), CALLER, KEYED) == []
    finally:
        server.stop()


def test_generated_secrets_are_private_even_where_an_older_version_left_them_open(tmp_path):
    settings = Settings.from_env({"HOTLINE_VAR_DIR": str(tmp_path / "var")})
    folder = tmp_path / "var" / "secrets"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    (folder / "voicemail_key").write_text("an old key")
    (folder / "voicemail_key").chmod(0o644)
    made = secret("HOTLINE_SECRET_KEY", settings, environ={})
    assert secret("HOTLINE_SECRET_KEY", settings, environ={}) == made
    assert secret("VOICEMAIL_KEY", settings, environ={}) == "an old key"
    assert private(folder, 0o700)
    assert private(folder / "hotline_secret_key", 0o600)
    assert private(folder / "voicemail_key", 0o600)
    assert sorted(path.name for path in folder.iterdir()) == ["hotline_secret_key", "voicemail_key"]

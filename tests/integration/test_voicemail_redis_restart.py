"""Redis restarted in the middle of processing a message: the job fails, its retry loses nothing.

The test runs its own embedded Redis on a folder that survives a restart (the server saves its
data on shutdown and loads it on start). A checkpoint stops that Redis at one step boundary of
`process_recording`; the job's client finds no server and the job raises. The test then starts
Redis again on the same folder and socket, as `hotline serve` does, and the retry, as the RQ
job's retry would (same job id), ends with exactly one stored message and Twilio's copy deleted
once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_lib

from queues.embedded import EmbeddedRedis, _alive
from tests.fixtures.app import CLOSED_TIME
from tests.fixtures.recordings import TwilioRecordings
from tools import voicemail_samples as samples
from voicemail.messages import MessageStore
from voicemail.processing import process_recording, register_recording
from voicemail.vault import Vault

pytestmark = pytest.mark.redis

SID = "RE" + "7" * 32
CALL = "CA" + "8" * 32
CALLER = "+8613812345678"
URL = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}"
KEY = "k" * 43
NOW = CLOSED_TIME
JOB = "voicemail-job-1"
# Every step boundary a calm message passes (only urgent messages reach "notified").
STEPS = ("downloaded", "analysed", "encoded", "written", "stored", "deleted")


class RestartableRedis:
    """An embedded Redis on a persistent folder that can be restarted in place."""

    def __init__(self, folder: Path):
        self.server = EmbeddedRedis(folder)
        self.url = self.server.start()
        self.pids: list[int] = []
        self._remember_pid()

    def _remember_pid(self) -> None:
        pid = self.server.pid
        assert pid is not None
        self.pids.append(pid)

    def client(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(self.url)

    def down(self) -> None:
        """Stop the server; it saves its data."""
        old = self.server.pid
        self.server.stop()
        assert old is not None and not _alive(old)

    def up(self) -> None:
        """Start the server again on the same folder (and so the same socket)."""
        self.url = self.server.start()
        self._remember_pid()

    def stop(self) -> None:
        pid = self.server.pid
        self.server.stop()
        assert pid is None or not _alive(pid), "embedded redis-server left running"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


def restart_at(server: RestartableRedis, step: str):
    """A checkpoint that stops Redis once when processing reaches a step."""
    fired: list[str] = []

    def checkpoint(name: str) -> None:
        if name == step and not fired:
            fired.append(name)
            server.down()

    checkpoint.fired = fired  # type: ignore[attr-defined]
    return checkpoint


def process(client, twilio, vault, **options):
    return process_recording(
        SID,
        redis=client,
        source=twilio,
        vault=vault,
        now=NOW + timedelta(seconds=5),
        owner=JOB,
        **options,
    )


@pytest.mark.parametrize("step", STEPS)
def test_redis_restart_mid_job_fails_the_job_and_the_retry_loses_nothing(
    own_redis: RestartableRedis, tmp_path: Path, step: str
):
    vault = Vault(tmp_path / "voicemail", KEY)
    first = own_redis.client()
    register_recording(
        first,
        SID,
        now=NOW,
        call_sid=CALL,
        recording_url=URL,
        duration_s="10",
        caller=CALLER,
        area="labor",
        language="zh",
        summary="wages unpaid 3 months",
    )
    twilio = TwilioRecordings({SID: samples.speech_wav(10, "calm", seed=7)})
    checkpoint = restart_at(own_redis, step)

    # The job's connection goes with the old server: it fails instead of carrying on blind.
    with pytest.raises(redis_lib.ConnectionError):
        process(first, twilio, vault, checkpoint=checkpoint)
    first.close()
    own_redis.up()
    assert checkpoint.fired == [step] and len(own_redis.pids) == 2
    assert own_redis.pids[0] != own_redis.pids[1]

    # The retry connects to the restarted server, where everything written before survived.
    retry = own_redis.client()
    try:
        before = MessageStore(retry).get(SID)
        assert before is not None, "the registered message was lost in the restart"
        assert (before.call_sid, before.caller, before.area) == (CALL, CALLER, "labor")
        # From "stored" on, the job went on to delete Twilio's copy (no Redis needed for that)
        # and failed recording it: the retry must rely on our copy and not delete twice.
        late = step in ("stored", "deleted")
        if late:
            assert before.state == "stored" and not twilio.recordings
        message = process(retry, twilio, vault)
        again = process(retry, twilio, vault)

        assert message.state == again.state == "ready"
        assert [m.recording_sid for m in MessageStore(retry).newest()] == [SID]
        assert (message.call_sid, message.caller, message.summary) == (
            CALL,
            CALLER,
            "wages unpaid 3 months",
        )
        assert twilio.deletes == 1 and not twilio.recordings
        expected = "already gone" if late else "deleted"
        assert message.fields["remote_delete"] == expected
        vault.verify(SID, message.audio_sha256)
        # One encrypted file for the one message: no duplicate or temporary files left behind.
        assert vault_files(tmp_path) == [vault.path(SID)]
        # A download is repeated only when the restart came before the copy was recorded.
        assert twilio.downloads == (1 if late else 2)
        # The claim is given back: nothing is left holding the message.
        assert MessageStore(retry).claim(SID, "another-worker", 60)
    finally:
        retry.close()


def vault_files(tmp_path: Path) -> list[Path]:
    return [path for path in (tmp_path / "voicemail").rglob("*") if path.is_file()]

"""A person's data through the real hotline and the stand-in: a caller rings twice in an area that
records, another caller once; a supervisor puts one of the first caller's incidents under legal
hold, exports the number over HTTP (their calls, history and both recordings' audio, nothing of
the other caller) and erases it: Redis, the call records, both encrypted copies of the
recordings and the history are empty for that number, the held incident is kept and said, the
other caller is untouched, and the audit log has both steps with the number masked."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from queues.incidents import IncidentLog
from queues.records.store import RecordStore, sqlite_url
from queues.repeat_callers import CallerHistory
from queues.sealing import Sealer
from tests.e2e.harness import Hotline, poll, serving, write_yaml
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.e2e_rigs import TO_CORPORATE, api_user, corporate_desk, open_config

pytestmark = pytest.mark.e2e

ERASED = "+8613811113333"
OTHER = "+8613811114444"
AGENTS = {"corp_a": "+8613900000301", "corp_b": "+8613900000302"}
REASON = "本人申请删除，2026-12-06，编号 PIPL-12"


def config() -> dict[str, Any]:
    """The shipped config: corporate (recording on) open around the clock, no survey."""
    return open_config("corporate", wrap_up_s=1, survey=False)


ROSTER = corporate_desk(AGENTS)


def phones(home: Path) -> Path:
    """Both agents answer, accept with 1 and talk for 100 call seconds, then hang up."""
    # 3 s at the test's clock: the caller reaches the conference before the agent leaves it,
    # even on a busy machine.
    accepts = {"role": "agent", "answer_after": 1, "press": ["1"], "stay": 100}
    return write_yaml(home / "phones.yaml", {phone: accepts for phone in AGENTS.values()})


def call(hotline: Hotline, number: str) -> str:
    """A caller rings the corporate area, talks with an agent and is recorded; its SID."""
    # Silence at the recording notice consents.
    sid = hotline.start(*TO_CORPORATE, caller=number, hangup_after=400)
    transcript = hotline.finish(sid)
    assert transcript["outcome"]["bridged_to"], transcript["outcome"]
    return sid


def consultations(redis, call_sids: set[str]) -> list[dict[str, str]]:
    """The stored recordings of some calls (state ready), as Redis keeps them."""
    found = []
    for key in redis.scan_iter(match="hotline:consultation:RE*", _type="hash"):
        fields = {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}
        if fields.get("call_sid") in call_sids and fields.get("state") == "ready":
            found.append({**fields, "sid": key.decode().rsplit(":", 1)[1]})
    return found


def plain_anywhere(redis, text: str) -> list[str]:
    """The keys whose name or value holds a text in plain, whatever their type."""
    found = []
    for name in redis.scan_iter():
        kind = redis.type(name).decode()
        if kind == "string":
            values = [redis.get(name) or b""]
        elif kind == "hash":
            values = [*redis.hkeys(name), *redis.hvals(name)]
        elif kind in ("set", "zset"):
            values = list(redis.smembers(name) if kind == "set" else redis.zrange(name, 0, -1))
        elif kind == "list":
            values = redis.lrange(name, 0, -1)
        elif kind == "stream":
            values = [v for _, fields in redis.xrange(name) for v in fields.values()]
        else:
            values = []
        if text.encode() in name or any(text.encode() in value for value in values):
            found.append(name.decode())
    return found


def test_erasing_a_number_removes_it_everywhere_and_is_audited(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("erasure")
    with serving(home, config(), roster=ROSTER, phones=phones(home), time_scale="0.03") as hotline:
        mine = {call(hotline, ERASED), call(hotline, ERASED)}
        theirs = {call(hotline, OTHER)}
        redis = hotline.redis()
        sealer = Sealer(TEST_SECRET)

        # The worker stores each recording twice and keeps each ended call in the history.
        poll(lambda: len(consultations(redis, mine | theirs)) == 3, 90, "three recordings")
        history = CallerHistory(redis, sealer=sealer)
        poll(
            lambda: (
                {c.call_sid for c in history.earlier_calls(history.digest(ERASED), time.time())}
                == mine
            ),
            30,
            "both calls in the caller's history",
        )
        records = RecordStore.open(sqlite_url(home / "var"))
        poll(lambda: (mine | theirs) <= {r["call_sid"] for r in records.calls_between(0, 4e9)},
             30, "the calls' durable records")  # fmt: skip

        sup = api_user(redis, "chen")
        api = f"{hotline.app_url}/api/v1"

        # A crisis incident on one of the calls, under legal hold (a court asked for it).
        held = sorted(mine)[0]
        IncidentLog(redis, sealer=sealer).open(
            held, trigger="words", language="zh", said="不想活了", now=time.time()
        )
        put = requests.post(
            f"{api}/incidents/{held}/hold", json={"reason": "法院调取"}, headers=sup, timeout=5
        )
        assert put.status_code == 200, put.text

        # Export over HTTP: one zip, everything of this number and nothing of the other.
        body = {"number": ERASED, "reason": REASON}
        answer = requests.post(f"{api}/person/export", json=body, headers=sup, timeout=30)
        assert answer.status_code == 200, answer.text
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        manifest = json.loads(archive.read("manifest.json"))
        assert set(manifest["calls"]) == mine
        recorded = {item["sid"]: item for item in consultations(redis, mine)}
        wavs = {f"recordings/{sid}.wav" for sid in recorded}
        assert wavs <= set(archive.namelist())
        for sid in recorded:
            assert archive.read(f"recordings/{sid}.wav")[:4] == b"RIFF"
        assert {c["call_sid"] for c in manifest["places"]["caller_history"]} == mine
        assert {r["call_sid"] for r in manifest["places"]["call_records"]} == mine
        text = json.dumps(manifest, ensure_ascii=False)
        assert OTHER not in text and not any(sid in text for sid in theirs)

        # Erase over HTTP, confirmed with the last four digits.
        body |= {"confirm": ERASED[-4:]}
        answer = requests.post(f"{api}/person/erase", json=body, headers=sup, timeout=30)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["complete"] and result["number"] == "+86*******3333"
        assert result["erased"]["recordings"] == 2 and result["erased"]["call_records"] == 2
        assert result["erased"]["caller_history"] == 2 and result["erased"]["calls"] == 2
        assert result["erased"]["incidents"] == 0
        assert any(f"incident {held} under legal hold since" in k for k in result["kept"])

        # Everywhere empty for the number: Redis, the records, both copies of the recordings.
        assert plain_anywhere(redis, ERASED) == []
        leftovers = {
            name.decode()
            for name in redis.scan_iter()
            if not name.startswith(b"rq:") and any(s.encode() in name for s in mine)
        }
        assert leftovers == {f"hotline:incident:{held}"}
        assert not redis.exists(f"hotline:caller-history:{history.digest(ERASED)}")
        assert not mine & {r["call_sid"] for r in records.calls_between(0, 4e9)}
        assert records.calls_of(sealer.digest(ERASED)) == set()
        for folder in (home / "var" / "voicemail", home / "var" / "vault-copy"):
            kept = {p.name.split(".")[0] for p in (folder / "consultations").glob("*.enc")}
            assert not kept & set(recorded), folder
            assert len(kept) == 1, folder  # the other caller's recording
        assert ERASED not in hotline.log()

        # The other caller is untouched; a second erasure finds nothing and says so.
        assert len(consultations(redis, theirs)) == 1
        assert theirs <= {r["call_sid"] for r in records.calls_between(0, 4e9)}
        again = requests.post(f"{api}/person/erase", json=body, headers=sup, timeout=30).json()
        assert again["complete"] and set(again["erased"].values()) == {0}

        # Audited: the hold, the export, both erasures; the number only masked.
        entries = requests.get(f"{api}/audit", headers=sup, timeout=5).json()["entries"]
        by_chen = [e for e in entries if e["actor"] == "chen (token)"]
        assert [(e["action"], e["target"]) for e in by_chen] == [
            ("person.erase", "+86*******3333"),
            ("person.erase", "+86*******3333"),
            ("person.export", "+86*******3333"),
            ("incident.hold", held),
        ]
        assert by_chen[1]["after"]["reason"] == REASON
        assert by_chen[1]["after"]["erased"]["recordings"] == 2
        deleted = {e["target"] for e in entries if e["action"] == "recording-deleted"}
        assert deleted == set(recorded)
        assert ERASED not in json.dumps(entries, ensure_ascii=False)
        records.close()

"""The desk's live assist (ops.live_desk) through the Flask test client on the test Redis: the
call's feed as server-sent events in order, each level with the config's suggestion line in the
viewer's language, resumed after Last-Event-ID, ended with the call; who may follow it; and the
key facts said, offered for the wrap-up note and never stored by being offered."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from queues import live_assist
from queues.notes import CallNotes
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

FEED = "/api/v1/agents/d1/call/live"
FACTS = "/api/v1/agents/d1/call/facts"
LEVEL = {"t": 12.0, "level": 4, "loudness_db": -18.5, "rate": 5.1, "pitch_hz": 231.0,
         "pitch_var": 3.2, "pauses": 0.1}  # fmt: skip


def on_a_call(hotline: Hotline, call_sid: str = "CA1") -> str:
    """Agent d1 has taken a family call; its reservation id."""
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(call_sid, area="family")
    assert match is not None and match.agent_id == "d1"
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.accept(match.reservation_id, hotline.now).changed
    return match.reservation_id


def parse(text: str) -> list[dict[str, str]]:
    """Server-sent events as dicts of their fields; a comment is {"comment": ...}."""
    found = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields["comment" if name == "" else name] = value.lstrip(" ")
        found.append(fields)
    return found


def events_of(text: str) -> list[tuple[str, str, dict]]:
    """The (id, kind, data) of each event sent, comments and retry left out."""
    return [
        (e.get("id", ""), e["event"], json.loads(e["data"])) for e in parse(text) if "event" in e
    ]


def publish_call(hotline: Hotline, call_sid: str = "CA1") -> list[str]:
    """A short call's feed: a level, the caller's and the agent's lines, a crisis hit, its end."""
    redis = hotline.redis
    return [
        live_assist.publish(redis, call_sid, "level", LEVEL),
        live_assist.publish(redis, call_sid, "line", {"track": "caller", "text": "老板欠我3万元",
                                                      "at": hotline.now, "seq": 1}),
        live_assist.publish(redis, call_sid, "line", {"track": "agent", "text": "什么时候的事？",
                                                      "at": hotline.now, "seq": 2}),
        live_assist.publish(redis, call_sid, "crisis", {"text": "明天我就从楼上跳下去",
                                                        "at": hotline.now}),
        live_assist.publish(redis, call_sid, "ended", {"at": hotline.now}),
    ]  # fmt: skip


def test_the_feed_comes_in_order_with_ids_and_the_suggestion_in_the_agents_language(app, hotline):
    on_a_call(hotline)
    ids = publish_call(hotline)
    agent = sign_in(app, "wang")
    answer = agent.get(FEED, headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/event-stream"
    assert answer.headers["Cache-Control"] == "no-store"
    sent = events_of(answer.get_data(as_text=True))
    assert [(i, kind) for i, kind, _ in sent] == [
        (ids[0], "level"),
        (ids[1], "line"),
        (ids[2], "line"),
        (ids[3], "crisis"),
        (ids[4], "ended"),
        ("", "close"),
    ]
    level = sent[0][2]
    assert level["level"] == 4 and level["loudness_db"] == -18.5
    assert level["suggestion"] == app.config["HOTLINE"].assist.suggestion(4, "zh")
    assert level["suggestion"].startswith("情绪激动")
    lines = [(d["track"], d["text"]) for _, kind, d in sent if kind == "line"]
    assert lines == [("caller", "老板欠我3万元"), ("agent", "什么时候的事？")]
    assert sent[3][2]["text"] == "明天我就从楼上跳下去"
    assert sent[5][2] == {"reason": "ended"}
    assert parse(answer.get_data(as_text=True))[0] == {"retry": "2000"}


def test_a_supervisor_follows_any_agents_call_with_suggestions_in_their_own_language(app, hotline):
    on_a_call(hotline)
    publish_call(hotline)
    sam = sign_in(app, "sam")
    sam.get("/ops/lang/en")
    answer = sam.get(FEED)
    assert answer.status_code == 200
    level = events_of(answer.get_data(as_text=True))[0][2]
    assert level["suggestion"] == app.config["HOTLINE"].assist.suggestion(4, "en")
    assert level["suggestion"].startswith("Agitated")


def test_last_event_id_resumes_after_the_event_the_browser_saw(app, hotline):
    on_a_call(hotline)
    ids = publish_call(hotline)
    agent = sign_in(app, "wang")
    answer = agent.get(FEED, headers={"Last-Event-ID": ids[2]})
    assert [i for i, _, _ in events_of(answer.get_data(as_text=True))] == [ids[3], ids[4], ""]
    refused = agent.get(FEED, headers={"Last-Event-ID": "not-an-id"})
    assert refused.status_code == 422 and refused.json["error"]["field"] == "Last-Event-ID"


def test_who_may_follow_an_agents_call(app, hotline):
    on_a_call(hotline)
    publish_call(hotline)
    assert app.test_client().get(FEED).status_code == 401
    emily = sign_in(app, "emily")
    assert emily.get(FEED).status_code == 403
    # Her own feed: she has no call, so there is nothing to follow and the browser stops.
    assert emily.get("/api/v1/agents/d2/call/live").status_code == 204
    assert sign_in(app, "olga").get(FEED).status_code == 403
    sam = sign_in(app, "sam")
    assert sam.get(FEED).status_code == 200
    assert sam.get("/api/v1/agents/zz/call/live").status_code == 404


def chunks(answer) -> Iterator[str]:
    """A streamed answer's chunks as text, each read only when asked for."""
    for chunk in answer.response:
        yield chunk.decode() if isinstance(chunk, bytes) else chunk


def test_the_feed_waits_with_heartbeats_then_closes_when_the_call_is_over(app, hotline):
    app.config["OPS_LIVE_BLOCK_MS"] = 50
    rid = on_a_call(hotline)
    first = live_assist.publish(hotline.redis, "CA1", "level", LEVEL)
    agent = sign_in(app, "wang")
    answer = agent.get(FEED, buffered=False)
    sent = chunks(answer)
    assert next(sent).startswith("retry:")
    assert next(sent).startswith(f"id: {first}\nevent: level\n")
    # Nothing new within the block time: a comment keeps the connection alive.
    assert next(sent) == ": waiting\n\n"
    # An event published while the desk waits comes through on the same connection.
    line = live_assist.publish(hotline.redis, "CA1", "line", {"track": "caller", "text": "喂"})
    assert next(sent).startswith(f"id: {line}\nevent: line\n")
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.finish(rid, hotline.now).changed
    rest = "".join(sent)
    assert events_of(rest)[-1][1:] == ("close", {"reason": "call-over"})
    answer.close()
    # A reconnect now finds no live call: 204, and the browser's EventSource stops.
    assert agent.get(FEED).status_code == 204


def test_a_connection_ends_at_its_life_cap_without_closing_the_feed(app, hotline):
    app.config["OPS_LIVE_MAX_S"] = 0
    on_a_call(hotline)
    first = live_assist.publish(hotline.redis, "CA1", "level", LEVEL)
    answer = sign_in(app, "wang").get(FEED)
    # The browser reconnects from the last id: no close event tells it to stop.
    assert [(i, kind) for i, kind, _ in events_of(answer.get_data(as_text=True))] == [
        (first, "level")
    ]


def test_the_facts_said_are_offered_for_the_note_in_the_viewers_language(app, hotline):
    rid = on_a_call(hotline)
    redis = hotline.redis
    for seq, (track, text) in enumerate(
        [
            ("caller", "我去年十月进的华强电子有限公司"),
            ("agent", "老板欠您多少？"),
            ("caller", "欠我3万元，说好2026年3月5日给"),
        ]
    ):
        live_assist.publish(redis, "CA1", "line", {"track": track, "text": text, "seq": seq})
    live_assist.publish(redis, "CA1", "level", LEVEL)
    # The call ends: the agent is in wrap-up and the facts are still there for the note.
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.finish(rid, hotline.now).changed
    agent = sign_in(app, "wang")
    answer = agent.get(FACTS, headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 200
    assert answer.json["reservation"] == rid
    assert answer.json["facts"] == [
        {"kind": "date", "text": "去年十月"},
        {"kind": "employer", "text": "华强电子有限公司"},
        {"kind": "party", "text": "老板"},
        {"kind": "amount", "text": "3万元"},
        {"kind": "date", "text": "2026年3月5日"},
    ]
    assert answer.json["block"] == (
        "通话要点（根据转写自动提取，请核对）：\n日期: 去年十月、2026年3月5日\n金额: 3万元\n"
        "相关方: 老板\n单位: 华强电子有限公司"
    )
    english = sign_in(app, "sam")
    english.get("/ops/lang/en")
    block = english.get(FACTS).json["block"]
    assert block.startswith("Key facts") and "Dates: 去年十月, 2026年3月5日" in block
    # Offered, not kept: the note stays empty until the agent saves one.
    assert CallNotes(redis).get("CA1").note == ""
    assert sign_in(app, "emily").get(FACTS).status_code == 403


def test_an_agent_with_no_call_has_no_facts(app, hotline):
    assert sign_in(app, "wang").get(FACTS).status_code == 404

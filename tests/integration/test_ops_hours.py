"""Editable opening hours: the store, the API for every role, the console page, and the calls.

An edit made by ops is what the next call keeps: open or closed, the closed message's hours and
next opening, and the time a voicemail is called back. With Redis unreadable, the call path
keeps the config's hours and still answers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from queues import keys, runtime
from queues.audit import AuditLog
from queues.embedded import EmbeddedRedis
from queues.hours_edits import HoursBoard, area_hours
from routing.holidays import china_calendar
from routing.hours import DAY_IDS, hours_document
from tests.fixtures.app import CLOSED_TIME, OPEN_TIME, Twilio
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.twiml import Doc
from voicemail import callbacks
from voicemail.messages import READY, MessageStore

pytestmark = pytest.mark.redis

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The config's labor hours with Wednesday closed.
NO_WEDNESDAY = {
    "weekly": {
        **{day: ["09:00-21:00"] for day in ("mon", "tue", "thu", "fri")},
        "wed": [],
        "sat": ["09:00-17:00"],
        "sun": [],
    }
}
# Labor's last intake answer: the call goes to the queue, or hears that labor is closed.
LABOR_CALL = "/voice/intake?lang=en&area=labor&q=1&a=1&t=1"
CALLERS = ("anonymous", "wang", "olga", "sam")


def audit(hotline: Hotline, count: int = 1):
    return AuditLog(hotline.redis).recent(count)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def _closed_port() -> int:
    """A local port with nothing listening."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_redis() -> redis_lib.Redis:
    """A client whose server has gone away."""
    return redis_lib.Redis.from_url(
        f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout=0.5, socket_connect_timeout=0.5
    )


# --- the store ---------------------------------------------------------------------------------


def test_the_hours_key_format_is_pinned():
    assert keys.opening_hours() == "hotline:opening-hours"


def test_the_board_keeps_one_edit_per_area_over_the_config(redis, hotline_config):
    board = HoursBoard(redis)
    labor = hotline_config.areas["labor"].hours
    assert board.edit("labor") is None and board.edits() == {}
    assert board.effective(hotline_config, "labor") is labor
    document = {**hours_document(labor), **NO_WEDNESDAY}
    board.save("labor", document, by="olga", now=OPEN_TIME.timestamp())
    edit = board.edit("labor")
    assert (edit.area, edit.document, edit.by, edit.at) == (
        "labor",
        document,
        "olga",
        OPEN_TIME.timestamp(),
    )
    assert list(board.edits()) == ["labor"]
    edited = board.effective(hotline_config, "labor")
    assert not edited.is_open(OPEN_TIME) and labor.is_open(OPEN_TIME)
    assert edited.holidays == labor.holidays  # the holiday rule came along in the document
    assert board.effective(hotline_config, "family") is hotline_config.areas["family"].hours
    board.clear("labor")
    assert board.edit("labor") is None and redis.exists(keys.opening_hours()) == 0


def test_unreadable_hours_fall_back_to_the_config(redis, hotline_config, caplog):
    labor = hotline_config.areas["labor"].hours
    redis.hset(keys.opening_hours(), "labor", "{not json")
    assert area_hours(redis, hotline_config, "labor") is labor
    redis.hset(keys.opening_hours(), "labor", '{"document": {"weekly": {"mon": ["9-5"]}}}')
    assert area_hours(redis, hotline_config, "labor") is labor
    assert area_hours(unreachable_redis(), hotline_config, "labor") is labor
    assert "hours of labor taken from the config" in caplog.text


# --- the API, role by role ---------------------------------------------------------------------


@pytest.fixture
def tokens(hotline: Hotline) -> dict[str, str]:
    return {name: hotline.users.create_token(name, hotline.now) for name in CALLERS[1:]}


def as_caller(client, tokens, caller: str, method: str, path: str, body=None):
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}
    return getattr(client, method)(path, json=body, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("put", "/api/v1/hours/labor", NO_WEDNESDAY, (401, 403, 200, 200)),
        ("put", "/api/v1/hours/nowhere", NO_WEDNESDAY, (401, 403, 404, 404)),
        ("delete", "/api/v1/hours/labor", None, (401, 403, 200, 200)),
        ("delete", "/api/v1/hours/nowhere", None, (401, 403, 404, 404)),
    ],
)
def test_ops_and_supervisors_edit_hours_agents_and_strangers_cannot(
    app, hotline, tokens, method, path, body, expected
):
    client = app.test_client()
    for caller, status in zip(CALLERS, expected, strict=True):
        before = hotline.redis.hgetall(keys.opening_hours())
        answer = as_caller(client, tokens, caller, method, path, body)
        assert answer.status_code == status, (caller, answer.get_data(as_text=True))
        if status >= 400:
            assert answer.json["error"]["status"] == status
            assert hotline.redis.hgetall(keys.opening_hours()) == before
    if expected[2] == 404:
        assert answer.json["error"]["field"] == "area"


def test_an_edit_is_kept_shown_and_audited(app, hotline, tokens):
    client = app.test_client()
    answer = as_caller(client, tokens, "olga", "put", "/api/v1/hours/labor", NO_WEDNESDAY)
    view = answer.json
    assert (
        view["area"] == "labor" and view["source"] == "ops" and view["updated_by"] == "olga (token)"
    )
    assert view["weekly"]["wed"] == [] and view["weekly"]["mon"] == ["09:00-21:00"]
    assert view["days"]["wed"] == [] and view["days"]["mon"] == ["9:00-21:00"]
    # The holiday rule was left out, so it keeps the config's.
    assert view["holidays"] == {"public": "closed", "makeup": "mon"}
    assert view["default"]["weekly"]["wed"] == ["09:00-21:00"]
    assert view["updated_at"].startswith("2026-12-02T10:00")
    listed = as_caller(client, tokens, "sam", "get", "/api/v1/hours").json["areas"]
    assert next(a for a in listed if a["area"] == "labor") == view
    assert next(a for a in listed if a["area"] == "family")["source"] == "config"

    entry = audit(hotline)[0]
    assert (entry.actor, entry.action, entry.target) == ("olga (token)", "hours.set", "labor")
    assert entry.before["source"] == "config" and entry.before["weekly"]["wed"] == ["09:00-21:00"]
    assert entry.after["source"] == "ops" and entry.after["weekly"]["wed"] == []
    assert entry.at == hotline.now


def test_a_holiday_rule_alone_keeps_the_weekly_hours(app, hotline, tokens):
    client = app.test_client()
    as_caller(client, tokens, "olga", "put", "/api/v1/hours/labor", NO_WEDNESDAY)
    rule = {"holidays": {"public": ["10:00-16:00"], "makeup": "weekly"}}
    view = as_caller(client, tokens, "sam", "put", "/api/v1/hours/labor", rule).json
    assert view["holidays"] == rule["holidays"] and view["weekly"]["wed"] == []
    entry = audit(hotline)[0]
    assert entry.actor == "sam (token)"
    assert entry.before["holidays"] == {"public": "closed", "makeup": "mon"}
    assert entry.after["holidays"] == rule["holidays"]
    ignore = as_caller(client, tokens, "sam", "put", "/api/v1/hours/general", {"holidays": None})
    assert ignore.status_code == 200 and ignore.json["holidays"] is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"weekly": {"mon": ["17:00-09:00"]}}, "weekly.mon.0", "end is not after the start"),
        ({"weekly": {"mon": ["09:00-13:00", "12:00-18:00"]}}, "weekly.mon.1", "overlaps"),
        ({"weekly": {"someday": ["09:00-12:00"]}}, "weekly.someday", "unknown day"),
        ({"weekly": {"tue": ["09:00-25:00"]}}, "weekly.tue.0", "not a time of day"),
        ({"weekly": {"tue": ["9 to 5"]}}, "weekly.tue.0", "expected HH:MM-HH:MM"),
        ({"holidays": {"makeup": "someday"}}, "holidays.makeup", "weekly or a day"),
        ({"holidays": {"public": "maybe"}}, "holidays.public", "closed, weekly"),
        ({"timezone": "Europe/Paris"}, "timezone", "unknown field"),
        ({}, "weekly", "send weekly"),
        ([], "body", "JSON object"),
    ],
)
def test_a_bad_edit_is_refused_naming_its_field(app, hotline, tokens, body, field, words):
    answer = as_caller(app.test_client(), tokens, "olga", "put", "/api/v1/hours/labor", body)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.json["error"]["field"] == field
    assert words in answer.json["error"]["message"]
    assert hotline.redis.exists(keys.opening_hours()) == 0
    assert audit(hotline) == []


def test_several_problems_are_all_listed(app, hotline, tokens):
    # Problems of shape (the API's schema) are listed together, and so are those of meaning.
    client = app.test_client()
    body = {"weekly": {"tue": ["9 to 5"], "someday": []}}
    error = as_caller(client, tokens, "olga", "put", "/api/v1/hours/labor", body).json
    assert {p["field"] for p in error["error"]["problems"]} == {"weekly.tue.0", "weekly.someday"}
    body = {"weekly": {"mon": ["17:00-09:00"], "tue": ["09:00-13:00", "12:00-18:00"]}}
    error = as_caller(client, tokens, "olga", "put", "/api/v1/hours/labor", body).json
    assert {p["field"] for p in error["error"]["problems"]} == {"weekly.mon.0", "weekly.tue.1"}


def test_reset_goes_back_to_the_config_and_is_audited_once(app, hotline, tokens):
    client = app.test_client()
    as_caller(client, tokens, "olga", "put", "/api/v1/hours/labor", NO_WEDNESDAY)
    view = as_caller(client, tokens, "sam", "delete", "/api/v1/hours/labor").json
    assert view["source"] == "config" and view["weekly"]["wed"] == ["09:00-21:00"]
    assert view["updated_by"] is None
    entry = audit(hotline)[0]
    assert (entry.actor, entry.action, entry.target) == ("sam (token)", "hours.reset", "labor")
    assert entry.before["weekly"]["wed"] == [] and entry.after["source"] == "config"
    again = as_caller(client, tokens, "sam", "delete", "/api/v1/hours/labor")
    assert again.status_code == 200 and len(audit(hotline, 10)) == 2  # nothing changed


def test_the_hours_list_china_s_holidays_of_the_next_90_days(app, hotline, tokens, clock):
    clock.now = local(2026, 9, 15, 10, 0)
    found = as_caller(app.test_client(), tokens, "olga", "get", "/api/v1/hours").json["holidays"]
    assert (found["from"], found["to"]) == ("2026-09-15", "2026-12-13")
    expected = china_calendar().special_days(local(2026, 9, 15).date(), local(2026, 12, 13).date())
    assert [d["date"] for d in found["days"]] == [d.day.isoformat() for d in expected]
    national = next(d for d in found["days"] if d["date"] == "2026-10-01")
    assert national["kind"] == "holiday" and national["name"]["zh"] == "国庆节"
    assert national["hours"]["labor"] == [] and national["hours"]["general"] == ["0:00-24:00"]
    makeup = next(d for d in found["days"] if d["date"] == "2026-10-10")
    assert makeup["kind"] == "makeup" and makeup["weekday"] == "sat"
    assert makeup["hours"]["labor"] == ["9:00-21:00"]  # Monday's hours, as the rule says
    assert found["warning"] is None and found["known_until"] is None


def test_beyond_the_holiday_data_the_hours_warn(app, hotline, tokens):
    found = as_caller(app.test_client(), tokens, "olga", "get", "/api/v1/hours").json["holidays"]
    last = china_calendar().last_year
    assert found["known_until"] == last and str(last) in found["warning"]


# --- sessions: CSRF and expiry -----------------------------------------------------------------


def test_session_edits_need_the_csrf_token(app, hotline):
    ops = sign_in(app, "olga")
    bare = ops.client.put("/api/v1/hours/labor", json=NO_WEDNESDAY)
    assert bare.status_code == 403 and bare.json["error"]["field"] == "csrf_token"
    forged = ops.client.put(
        "/api/v1/hours/labor", json=NO_WEDNESDAY, headers={"X-CSRF-Token": "forged"}
    )
    assert forged.status_code == 403
    assert ops.client.delete("/api/v1/hours/labor").status_code == 403
    form = ops.client.post("/ops/hours/labor", data={"mon": "09:00-12:00"})
    assert form.status_code == 403
    reset = ops.client.post("/ops/hours/labor/reset", data={})
    assert reset.status_code == 403
    assert hotline.redis.exists(keys.opening_hours()) == 0 and audit(hotline) == []
    assert ops.put("/api/v1/hours/labor", json=NO_WEDNESDAY).status_code == 200
    assert len(audit(hotline, 10)) == 1


def test_an_expired_session_cannot_edit_hours(app, hotline, clock):
    ops = sign_in(app, "olga")
    clock.now += timedelta(minutes=31)
    answer = ops.put("/api/v1/hours/labor", json=NO_WEDNESDAY)
    assert answer.status_code == 401 and "expired" in answer.json["error"]["message"]
    # The form's CSRF token ended with the session, so the post is refused outright.
    assert ops.form("/ops/hours/labor", {"wed": ""}).status_code == 403
    page = ops.get("/ops/hours")
    assert page.status_code == 303 and "/ops/login" in page.headers["Location"]
    assert hotline.redis.exists(keys.opening_hours()) == 0 and audit(hotline) == []


# --- the console page --------------------------------------------------------------------------


def labor_form(**changes: str) -> dict[str, str]:
    """The labor form as the page fills it, with some boxes changed."""
    form = {day: "09:00-21:00" for day in DAY_IDS[:5]}
    form.update(sat="09:00-17:00", sun="", public="closed", public_hours="", makeup="mon")
    form.update(changes)
    return form


def section(page: str, area: str) -> str:
    """One area's card of the hours page."""
    found = re.search(
        rf'<section class="card hours-area" id="area-{area}".*?</section>', page, re.S
    )
    assert found, f"no card for {area}"
    return found.group(0)


def test_the_page_edits_an_area_and_resets_it(app, hotline):
    ops = sign_in(app, "olga")
    page = ops.get("/ops/hours").get_data(as_text=True)
    labor = section(page, "labor")
    assert 'data-source="config"' in labor and 'name="wed" value="09:00-21:00"' in labor
    assert '<option value="mon" selected>' in labor  # make-up days keep Monday's hours
    assert "/ops/hours/labor/reset" not in labor

    saved = ops.form(
        "/ops/hours/labor",
        labor_form(
            wed="", sat="10:00-12:00, 13:00-16:00", public="hours", public_hours="10:00-15:00"
        ),
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#area-labor")
    page = ops.get("/ops/hours").get_data(as_text=True)
    labor = section(page, "labor")
    assert 'data-source="ops"' in labor and "olga" in labor
    assert 'name="wed" value=""' in labor
    assert 'name="sat" value="10:00-12:00, 13:00-16:00"' in labor
    assert 'name="public_hours" value="10:00-15:00"' in labor
    assert "/ops/hours/labor/reset" in labor
    assert 'data-source="config"' in section(page, "family")
    entry = audit(hotline)[0]
    assert (entry.actor, entry.action, entry.target) == ("olga", "hours.set", "labor")
    assert entry.after["holidays"] == {"public": ["10:00-15:00"], "makeup": "mon"}

    assert ops.form("/ops/hours/labor/reset", {}).status_code == 303
    labor = section(ops.get("/ops/hours").get_data(as_text=True), "labor")
    assert 'data-source="config"' in labor and 'name="wed" value="09:00-21:00"' in labor
    assert audit(hotline)[0].action == "hours.reset"


def test_a_bad_form_shows_its_field_and_changes_nothing(app, hotline):
    ops = sign_in(app, "olga")
    refused = ops.form("/ops/hours/labor", labor_form(mon="21:00-09:00"))
    assert refused.status_code == 303
    page = ops.get("/ops/hours").get_data(as_text=True)
    assert "weekly.mon.0" in page and 'class="flash error"' in page
    special = ops.form("/ops/hours/labor", labor_form(public="hours", public_hours=""))
    assert special.status_code == 303
    assert "holidays.public" in ops.get("/ops/hours").get_data(as_text=True)
    assert hotline.redis.exists(keys.opening_hours()) == 0 and audit(hotline) == []


def test_agents_cannot_see_or_post_the_hours_page(app, hotline):
    agent = sign_in(app, "wang")
    assert agent.get("/ops/hours").status_code == 403
    assert agent.form("/ops/hours/labor", labor_form(wed="")).status_code == 403
    assert agent.form("/ops/hours/labor/reset", {}).status_code == 403
    assert hotline.redis.exists(keys.opening_hours()) == 0


def test_the_page_lists_holidays_in_both_languages(app, hotline, clock):
    clock.now = local(2026, 9, 15, 10, 0)
    sup = sign_in(app, "sam")
    page = sup.get("/ops/hours").get_data(as_text=True)
    assert 'data-date="2026-10-01" data-kind="holiday"' in page and "国庆节" in page
    assert 'data-date="2026-10-10" data-kind="makeup"' in page and "调休上班" in page
    assert 'data-warning="calendar"' not in page
    sup.get("/ops/lang/en?next=/ops/hours")
    english = sup.get("/ops/hours").get_data(as_text=True)
    assert "National Day" in english and "make-up working day" in english
    assert "On public holidays" in english and "节假日安排" not in english


def test_the_coverage_grid_uses_the_edited_hours(app, hotline):
    ops = sign_in(app, "olga")
    grid = ops.get("/api/v1/coverage?days=1").json
    cell = grid["days"][0]["hours"][23]["cells"]
    family = next(c for c in cell if (c["area"], c["language"]) == ("family", "zh"))
    assert not family["open"] and not family["gap"]
    nights = {"weekly": {day: ["00:00-24:00"] for day in DAY_IDS}}
    assert ops.put("/api/v1/hours/family", json=nights).status_code == 200
    cell = ops.get("/api/v1/coverage?days=1").json["days"][0]["hours"][23]["cells"]
    family = next(c for c in cell if (c["area"], c["language"]) == ("family", "zh"))
    assert family == {"area": "family", "language": "zh", "open": True, "agents": [], "gap": True}
    page = ops.get("/ops/coverage?day=2026-12-02").get_data(as_text=True)
    assert 'class="gap" data-cell="family-zh-23"' in page


# --- the call path -----------------------------------------------------------------------------


def test_an_ops_edit_closing_an_area_closes_it_for_the_next_call(app, hotline, twilio):
    # Wednesday 10:00: labor is open, and the caller is queued.
    assert Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1"})).first("Enqueue").text == "labor"

    ops = sign_in(app, "olga")
    assert ops.form("/ops/hours/labor", labor_form(wed="")).status_code == 303
    doc = Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1", "CallSid": "CA" + "2" * 32}))
    assert doc.all("Enqueue") == []
    assert doc.verbs() == ["Gather", "Say", "Start", "Record", "Say", "Hangup"]
    said = doc.said()
    # The closed message speaks the edited hours and the next opening they give.
    assert "Monday to Tuesday 9:00 to 21:00; Wednesday closed" in said
    assert "tomorrow 9:00" in said
    assert doc.first("Gather").get("action") == "/voice/closed?lang=en&area=labor"

    ops.form("/ops/hours/labor/reset", {})
    reopened = Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1", "CallSid": "CA" + "3" * 32}))
    assert reopened.first("Enqueue").text == "labor"


def test_an_edit_opening_an_area_takes_calls_outside_the_config_hours(app, hotline, twilio, clock):
    clock.now = CLOSED_TIME  # Sunday noon: labor is closed by the config
    closed = Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1"}))
    assert closed.all("Enqueue") == [] and "tomorrow 9:00" in closed.said()
    sign_in(app, "sam").form("/ops/hours/labor", labor_form(sun="10:00-16:00"))
    opened = Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1", "CallSid": "CA" + "2" * 32}))
    assert opened.first("Enqueue").text == "labor"


def test_when_redis_goes_away_calls_keep_the_config_hours(app_env, clock, tmp_path, caplog):
    from hotline.app import create_app

    server = EmbeddedRedis(tmp_path / "redis")
    app_env.setenv("REDIS_URL", server.start())
    try:
        app = create_app({"TESTING": True, "CLOCK": clock})
        twilio = Twilio(app.test_client())
        # Ops closed labor on Wednesdays: with Redis up, Wednesday's callers hear it is closed.
        with app.app_context():
            HoursBoard(runtime.of(app).redis).save(
                "labor",
                {**hours_document(app.config["HOTLINE"].areas["labor"].hours), **NO_WEDNESDAY},
                by="olga",
                now=OPEN_TIME.timestamp(),
            )
        assert Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1"})).all("Enqueue") == []
    finally:
        server.stop()
    # Redis went away: the config's hours answer, and labor is open on Wednesday morning.
    queued = Doc.parse(twilio.post(LABOR_CALL, {"Digits": "1", "CallSid": "CA" + "2" * 32}))
    assert queued.first("Enqueue").text == "labor"
    assert "hours of labor taken from the config" in caplog.text


def test_with_redis_down_a_closed_area_still_says_the_config_hours(app_env, clock):
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    app = create_app({"TESTING": True, "CLOCK": clock})
    clock.now = CLOSED_TIME
    doc = Doc.parse(Twilio(app.test_client()).post(LABOR_CALL, {"Digits": "1"}))
    assert doc.all("Enqueue") == []
    assert "Monday to Friday 9:00 to 21:00" in doc.said() and "tomorrow 9:00" in doc.said()


def test_a_voicemail_is_called_back_at_the_edited_next_opening(app, hotline, clock):
    clock.now = CLOSED_TIME  # Sunday noon; by the config labor opens Monday 9:00
    no_monday = {"weekly": {**NO_WEDNESDAY["weekly"], "mon": [], "wed": ["09:00-21:00"]}}
    assert sign_in(app, "olga").put("/api/v1/hours/labor", json=no_monday).status_code == 200
    store = MessageStore(hotline.redis)
    sid = "RE" + "b" * 32
    store.register(sid, now=CLOSED_TIME, caller="+8613812345678", area="labor", language="zh")
    store.set_fields(sid, {"state": READY})
    assert callbacks.schedule(runtime.of(app), store.get(sid)) == "scheduled"
    tuesday = datetime(2026, 12, 8, 9, 0, tzinfo=SHANGHAI)
    assert float(store.get(sid).fields["callback_due"]) == tuesday.timestamp()
    registry = ScheduledJobRegistry(queue=Queue("default", connection=hotline.redis))
    job = Job.fetch(f"voicemail-callback-{sid}", connection=hotline.redis)
    assert registry.get_expiration_time(job) == tuesday

"""`hotline doctor` and the worker's self-check on a real Redis, real RQ and the carrier: each
check broken and holding, conditions raised and cleared, shown in /healthz and the wallboard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue, SimpleWorker

from queues import keys
from queues.agents import AgentBoard
from queues.conditions import Conditions
from queues.doctor import SELF_CHECK_JOB_ID, examine, self_check_job, settle
from queues.hours_edits import HoursBoard
from queues.worker import queues
from routing.hours import DAY_IDS
from routing.roster import parse_roster
from tests.fixtures.app import REPO
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN
from tests.fixtures.crisis import messages
from tests.fixtures.jobs import BurstWorker
from tests.fixtures.ops import hotline_fixture, sign_in  # noqa: F401 - fixtures

pytestmark = pytest.mark.redis

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Early September: the holiday calendar (which ends with 2026) covers the next 90 days.
SEPTEMBER = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
# Everybody round the clock: a supervisor on call, a crisis-trained agent for every area.
ROUND_THE_CLOCK = """\
timezone: Asia/Shanghai
agents:
  - id: c1
    name: 周安
    phone: "+8613900000201"
    languages: [zh, en]
    skills: {general: 1}
    crisis_trained: true
    shifts:
      - {days: daily, hours: "00:00-24:00"}
supervisors:
  - {id: s1, name: 高明, phone: "+8613900000301", on_call: [{days: daily, hours: "00:00-24:00"}]}
"""
# The crisis-trained agent works days only; supervisors are on call round the clock.
DAYS_ONLY = ROUND_THE_CLOCK.replace('"00:00-24:00"}\n', '"09:00-21:00"}\n', 1)


def import_roster(redis, hotline_config, text: str, now: float) -> None:
    """Import a roster as `hotline roster import` does."""
    roster = parse_roster(
        text, source="r.yaml", area_ids=hotline_config.areas, languages=hotline_config.languages
    )
    AgentBoard(redis, hotline_config.routing).import_roster(roster, now)


def run_worker(redis) -> None:
    """Run every queued job, on every hotline queue, in this process."""
    BurstWorker(queues(redis), connection=redis).work(burst=True)


def names(redis) -> list[str]:
    """The active conditions' names."""
    return [condition.name for condition in Conditions(redis).active()]


# --- the command ----------------------------------------------------------------------------


def hotline(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installed `hotline` command."""
    command = [str(Path(sys.executable).with_name("hotline")), *args]
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_hotline_doctor_names_an_hour_of_the_coming_day_without_a_supervisor(
    redis, redis_url, tmp_path, hotline_config
):
    # Six hours from now, rounded down: inside the next 24 h whatever the time of the run.
    gap = (datetime.now(SHANGHAI) + timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
    ends = f"{gap.hour + 1:02d}:00"
    # s1 is on call round the clock but takes that day off; s2 is on call every day except
    # that one hour (an overnight stretch of 23 hours).
    roster = ROUND_THE_CLOCK.replace(
        "  - {id: s1,",
        f'  - {{id: s2, name: 林, phone: "+8613900000302", on_call: [{{days: daily, '
        f'hours: "{(gap.hour + 1) % 24:02d}:00-{gap.hour:02d}:00"}}]}}\n  - {{id: s1,',
    ).replace(
        'hours: "00:00-24:00"}]}\n',
        f'hours: "00:00-24:00"}}], exceptions: [{{date: {gap.date()}, day_off: true}}]}}\n',
    )
    # Stored as an import stores it (a roster import refuses such a gap unless forced).
    import_roster(redis, hotline_config, roster, time.time())
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "REDIS_"))
    }
    env.update(REDIS_URL=redis_url, HOTLINE_VAR_DIR=str(tmp_path / "var"))

    doctor = hotline(["doctor"], env)

    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    expected = f"no supervisor on call {gap:%Y-%m-%d %H}:00-{ends} Asia/Shanghai"
    assert [line for line in lines if "supervisor" in line] == [expected]
    assert not any("crisis-trained" in line for line in lines)
    # No worker runs in this test, and the doctor says so too.
    assert any(line.startswith("workers: no RQ worker is registered") for line in lines)
    assert "all promises hold" not in doctor.stdout


def test_hotline_doctor_without_redis_url_says_what_is_missing(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "REDIS_"))
    }
    env["HOTLINE_VAR_DIR"] = str(tmp_path / "var")

    doctor = hotline(["doctor"], env)

    assert doctor.returncode == 2
    assert "REDIS_URL is not set" in doctor.stderr


# --- the checks on real Redis, RQ and the carrier ----------------------------------------------


def test_all_promises_hold_with_staff_a_worker_the_carrier_and_persistence(
    redis,
    hotline_config,
    rig,  # noqa: F811 - fixture
):
    import_roster(redis, hotline_config, ROUND_THE_CLOCK, SEPTEMBER.timestamp())
    worker = SimpleWorker(queues(redis), connection=redis)
    worker.register_birth()
    try:
        with persistence(redis, save="3600 1"):
            report = examine(
                redis, hotline_config, SEPTEMBER.timestamp(), production=True, gateway=rig.gateway
            )
    finally:
        worker.register_death()

    assert report.findings == ()
    assert len(report.checked) == 8


def test_edited_hours_decide_when_a_crisis_trained_agent_is_needed(redis, hotline_config):
    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC).timestamp()  # Wednesday 10:00 in Shanghai
    import_roster(redis, hotline_config, DAYS_ONLY, now)

    before = examine(redis, hotline_config, now, production=False)
    # Ops close the general line at night too: days only, as the crisis-trained agent works.
    HoursBoard(redis).save(
        "general",
        {"weekly": {day: ["09:00-21:00"] for day in DAY_IDS}, "holidays": None},
        by="olga",
        now=now,
    )
    after = examine(redis, hotline_config, now, production=False)

    (gap,) = [f.line for f in before.findings if f.check == "crisis_agent_on_shift"]
    assert gap == (
        "no crisis-trained agent on shift 2026-12-02 21:00 to 2026-12-03 09:00 Asia/Shanghai "
        "while open: general"
    )
    assert [f for f in after.findings if f.check == "crisis_agent_on_shift"] == []


def test_workers_none_fresh_and_stale(redis, hotline_config):
    def worker_lines(now: float) -> list[str]:
        report = examine(redis, hotline_config, now, production=False)
        return [f.line for f in report.findings if f.check == "workers"]

    assert worker_lines(time.time())[0].startswith("workers: no RQ worker is registered")
    worker = SimpleWorker(queues(redis), connection=redis)
    worker.register_birth()
    try:
        assert worker_lines(time.time()) == []
        (stale,) = worker_lines(time.time() + 300)
    finally:
        worker.register_death()
    assert stale.startswith("workers: no heartbeat within 120 s from any worker on crisis")


def test_an_old_job_or_an_overdue_scheduled_one_is_named(redis, hotline_config):
    def wait_lines(now: float) -> list[str]:
        report = examine(redis, hotline_config, now, production=False)
        return [f.line for f in report.findings if f.check == "queue_waits"]

    Queue("crisis", connection=redis).enqueue("builtins.len", "page")
    Queue("default", connection=redis).enqueue_in(timedelta(seconds=1), "builtins.len", "sweep")
    now = time.time()

    assert wait_lines(now) == []
    (crisis,) = wait_lines(now + 10)
    assert re.fullmatch(
        r"queue crisis: the oldest of 1 job\(s\) has waited 1\d s \(limit 5 s\)", crisis
    )
    # RQ schedules in whole seconds: the job is due about 99 to 101 s before now + 100.
    (overdue,) = [line for line in wait_lines(now + 100) if line.startswith("queue default")]
    assert re.fullmatch(
        r"queue default: 1 scheduled job\(s\) overdue, the first by (99|10[01]) s "
        r"\(limit 60 s; is a worker's scheduler running\?\)",
        overdue,
    )


class persistence:
    """Set the server's RDB snapshots (AOF off) for a block, and put back what was there."""

    def __init__(self, redis, *, save: str):
        self.redis, self.save = redis, save

    def __enter__(self):
        self.before = {**self.redis.config_get("save"), **self.redis.config_get("appendonly")}
        self.redis.config_set("appendonly", "no")
        self.redis.config_set("save", self.save)
        return self

    def __exit__(self, *exc):
        self.redis.config_set("save", self.before["save"])
        self.redis.config_set("appendonly", self.before["appendonly"])


def test_redis_persistence_off_on_and_refused(redis, redis_url, hotline_config):
    def persistence_lines(client, *, production: bool = True) -> list[str]:
        report = examine(client, hotline_config, SEPTEMBER.timestamp(), production=production)
        return [f.line for f in report.findings if f.check == "redis_persistence"]

    with persistence(redis, save=""):
        (off,) = persistence_lines(redis)
        assert off.startswith('redis persistence: off (appendonly no, save "")')
        assert persistence_lines(redis, production=False) == []  # demo mode's scratch store
    with persistence(redis, save="3600 1"):
        assert persistence_lines(redis) == []

    # A managed Redis that refuses CONFIG: a user who may do everything else.
    redis.acl_setuser(
        "managed",
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-config"],
    )
    managed = redis_lib.Redis.from_url(redis_url, username="managed", password="pw")
    try:
        report = examine(managed, hotline_config, SEPTEMBER.timestamp(), production=True)
    finally:
        managed.close()
        redis.acl_deluser("managed")
    (told,) = [f for f in report.findings if f.check == "redis_persistence"]
    assert not told.broken
    assert told.line.startswith("redis persistence: cannot tell, the server refused CONFIG GET")


def test_the_carrier_answers_fails_or_is_already_known_unreachable(
    redis,
    hotline_config,
    rig,  # noqa: F811 - fixture
):
    def carrier_findings():
        report = examine(redis, hotline_config, time.time(), production=False, gateway=rig.gateway)
        return [f for f in report.findings if f.check == "carrier"]

    assert carrier_findings() == []
    requests.put(
        f"{rig.carrier_url}/carrier/faults",
        json={"rest_500": 1.0, "rest_match": "Queues"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).raise_for_status()
    (failed,) = carrier_findings()
    assert failed.line.startswith("carrier: the Twilio REST API did not answer (HTTP 500")

    requests.put(
        f"{rig.carrier_url}/carrier/faults", json={}, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    ).raise_for_status()
    Conditions(redis).raise_condition(
        "carrier_unreachable", "3 REST failures", time.time(), page=False
    )
    (standing,) = carrier_findings()
    assert standing.standing == "carrier_unreachable"
    assert "3 REST failures" in standing.line
    # Already raised by the dispatch jobs: the self-check does not raise a second condition.
    report = examine(redis, hotline_config, time.time(), production=False, gateway=rig.gateway)
    settle(Conditions(redis), report, time.time())
    assert "self_check:carrier" not in names(redis)


def test_the_self_checks_request_feeds_the_carriers_health(
    redis,
    hotline_config,
    clock,
    jobs_runtime,  # noqa: F811 - fixture
    rig,  # noqa: F811 - fixture
):
    conditions = Conditions(redis)
    conditions.raise_condition("carrier_unreachable", "3 REST failures", clock().timestamp())
    # A terminal's `hotline doctor` only looks: its request going through clears nothing.
    examine(redis, hotline_config, clock().timestamp(), production=False, gateway=rig.gateway)
    assert "carrier_unreachable" in names(redis)

    # The worker's self-check is one more job whose request went through: the carrier is back.
    self_check_job()
    assert "carrier_unreachable" not in names(redis)

    # Failing again while the dispatch jobs' condition stands: no second condition for it.
    requests.put(
        f"{rig.carrier_url}/carrier/faults",
        json={"rest_500": 1.0, "rest_match": "Queues"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).raise_for_status()
    conditions.raise_condition("carrier_unreachable", "3 REST failures", clock().timestamp())
    self_check_job()
    assert "carrier_unreachable" in names(redis)
    assert "self_check:carrier" not in names(redis)


def test_a_redis_that_does_not_answer_is_one_broken_line(hotline_config):
    gone = redis_lib.Redis(unix_socket_path="/nonexistent/redis.sock", retry=Retry(NoBackoff(), 0))

    report = examine(gone, hotline_config, time.time(), production=True)

    assert [f.line.split(" (")[0] for f in report.broken] == ["redis: unreachable"]


# --- the worker's self-check -------------------------------------------------------------------


def test_the_self_check_raises_conditions_and_clears_them_when_promises_hold(
    app,
    redis,
    clock,
    hotline_config,
    jobs_runtime,  # noqa: F811 - fixture
    rig,  # noqa: F811 - fixture
):
    # The machine's Redis may run without persistence; this test is about the roster's promises.
    with persistence(redis, save="3600 1"):
        # Wednesday 2026-12-02 10:00 in Shanghai: the supervisor is on call and the crisis-trained
        # agent on shift 09:00-21:00 only, and the holiday calendar ends within 90 days.
        import_roster(redis, hotline_config, DAYS_ONLY.replace("00:00-24:00", "09:00-21:00"), 0)
        Queue("default", connection=redis).enqueue(self_check_job)
        run_worker(redis)

        assert names(redis) == [
            "self_check:crisis_agent_on_shift",
            "self_check:holiday_data",
            "self_check:supervisor_on_call",
        ]
        detail = Conditions(redis).get("self_check:supervisor_on_call").detail
        assert detail == "no supervisor on call 2026-12-02 21:00 to 2026-12-03 09:00 Asia/Shanghai"
        # The supervisor on call now is paged once for each, with what is wrong.
        pages = [m["body"] for m in messages(rig) if m["to"] == "+8613900000301"]
        assert len(pages) == 3
        assert any("no supervisor on call 2026-12-02 21:00" in body for body in pages)
        health = app.test_client().get("/healthz").get_json()
        assert health["status"] == "attention"
        assert {c["name"] for c in health["conditions"]} == set(names(redis))
        scheduled = Queue("default", connection=redis).scheduled_job_registry.get_job_ids()
        assert SELF_CHECK_JOB_ID in scheduled  # the next run is already in the schedule

        clock.now = SEPTEMBER
        import_roster(redis, hotline_config, ROUND_THE_CLOCK, clock().timestamp())
        Queue("default", connection=redis).enqueue(self_check_job)
        run_worker(redis)

        assert names(redis) == []
        assert app.test_client().get("/healthz").get_json()["status"] == "ok"
        cleared = [
            fields[b"condition"].decode()
            for _, fields in redis.xrange(keys.events())
            if fields[b"kind"] == b"condition-cleared"
        ]
        assert sorted(cleared) == [
            "self_check:crisis_agent_on_shift",
            "self_check:holiday_data",
            "self_check:supervisor_on_call",
        ]


def conditions_section(html: str) -> str:
    """The wallboard's section of standing conditions, opening tag included."""
    found = re.search(r'<section id="conditions".*?</section>', html, re.S)
    assert found, "no conditions section on the wallboard"
    return found.group(0)


def test_the_wallboard_shows_the_conditions_in_both_languages(
    app,
    hotline,
    redis,
    clock,
    jobs_runtime,  # noqa: F811 - fixture
):
    supervisor = sign_in(app, "sam")
    quiet = conditions_section(supervisor.get("/ops/wallboard").get_data(as_text=True))
    assert " hidden>" in quiet.split("\n")[0]

    # The consoles' roster has agents but no supervisor on call. (The job runs in this process
    # as a worker would run it; the test above runs it through one.)
    self_check_job()

    section = conditions_section(supervisor.get("/ops/wallboard").get_data(as_text=True))
    assert " hidden" not in section.split("\n")[0]
    assert 'data-condition="self_check:supervisor_on_call"' in section
    assert "未来24小时内有时段无主管值班" in section
    assert "当前无法兑现的承诺" in section
    assert "no supervisor on call 2026-12-02 10:00 to 2026-12-03 10:00 Asia/Shanghai" in section
    supervisor.get("/ops/lang/en?next=/ops/wallboard")
    english = conditions_section(supervisor.get("/ops/wallboard").get_data(as_text=True))
    assert "No supervisor on call in some hour of the next 24 h" in english
    assert "Promises not kept right now" in english

    board = supervisor.get("/api/v1/wallboard").json
    (on_call,) = [c for c in board["conditions"] if c["name"] == "self_check:supervisor_on_call"]
    assert on_call["label"] == {
        "zh": "未来24小时内有时段无主管值班",
        "en": "No supervisor on call in some hour of the next 24 h",
    }

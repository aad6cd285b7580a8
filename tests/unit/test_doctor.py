"""The self-check's judgements: each promise broken, and holding, from facts and `now`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing import doctor
from routing.doctor import UNKNOWN, QueueBacklog, WorkerBeat
from routing.holidays import HolidayCalendar, china_calendar
from routing.hours import Opening, WeeklyHours
from routing.roster import Agent, DatedException, Roster, Shift, Supervisor

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 2026-12-04 10:00 in Shanghai.
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
TOMORROW = date(2026, 12, 5)
ALWAYS = WeeklyHours("Asia/Shanghai", tuple(Opening(day, 0, 24 * 60) for day in range(7)))
DAYTIME = WeeklyHours("Asia/Shanghai", tuple(Opening(day, 9 * 60, 21 * 60) for day in range(7)))
QUEUES = ("crisis", "dispatch", "voicemail", "default")


def daily(start: int, end: int) -> tuple[Shift, ...]:
    """The same shift (whole hours) every day."""
    return tuple(Shift(day, start * 60, end * 60) for day in range(7))


def supervisor(sid: str, shifts, exceptions=()) -> Supervisor:
    return Supervisor(sid, sid, f"+86139000003{len(sid):02d}", shifts, tuple(exceptions))


def crisis_agent(aid: str, shifts) -> Agent:
    return Agent(aid, aid, "+8613900000201", ("zh",), {"general": 1}, True, shifts=shifts)


def test_an_hour_tomorrow_without_a_supervisor_is_named():
    roster = Roster(
        (crisis_agent("c1", daily(0, 24)),),
        supervisors=(
            supervisor("s1", daily(0, 24), [DatedException(TOMORROW)]),
            # On call every day but 03:00-04:00 (04:00 to 03:00 the next morning).
            supervisor("s22", daily(4, 27)),
        ),
    )

    found = doctor.staffing(roster, {"general": ALWAYS}, NOW, SHANGHAI)

    assert [(f.check, f.line) for f in found] == [
        ("supervisor_on_call", "no supervisor on call 2026-12-05 03:00-04:00 Asia/Shanghai")
    ]


def test_supervisors_and_crisis_agents_round_the_clock_hold():
    roster = Roster(
        (crisis_agent("c1", daily(0, 24)),), supervisors=(supervisor("s1", daily(0, 24)),)
    )

    assert doctor.staffing(roster, {"general": ALWAYS, "family": DAYTIME}, NOW, SHANGHAI) == []


def test_open_areas_without_a_crisis_trained_agent_are_named_together():
    # The crisis-trained agent works 08:00-20:00: family and labor close at 21:00, general never.
    roster = Roster(
        (crisis_agent("c1", daily(8, 20)),), supervisors=(supervisor("s1", daily(0, 24)),)
    )
    hours = {"general": ALWAYS, "family": DAYTIME, "labor": DAYTIME}

    found = doctor.staffing(roster, hours, NOW, SHANGHAI)

    assert sorted(f.line for f in found) == [
        "no crisis-trained agent on shift 2026-12-04 20:00 to 2026-12-05 08:00 Asia/Shanghai "
        "while open: general",
        "no crisis-trained agent on shift 2026-12-04 20:00-21:00 Asia/Shanghai while open: "
        "family, labor",
    ]
    assert {f.check for f in found} == {"crisis_agent_on_shift"}


def test_the_hours_given_decide_when_a_crisis_agent_is_needed():
    roster = Roster(
        (crisis_agent("c1", daily(8, 22)),), supervisors=(supervisor("s1", daily(0, 24)),)
    )
    # An area ops opened until midnight needs a crisis-trained agent until midnight.
    late = WeeklyHours("Asia/Shanghai", tuple(Opening(day, 9 * 60, 24 * 60) for day in range(7)))

    assert doctor.staffing(roster, {"family": DAYTIME}, NOW, SHANGHAI) == []
    (found,) = doctor.staffing(roster, {"family": late}, NOW, SHANGHAI)
    assert found.line.startswith("no crisis-trained agent on shift 2026-12-04 22:00-24:00")


def test_no_roster_breaks_both_staffing_promises():
    found = doctor.staffing(None, {"general": ALWAYS}, NOW, SHANGHAI)

    assert [f.check for f in found] == ["supervisor_on_call", "crisis_agent_on_shift"]
    assert all("no roster has been imported" in f.line for f in found)


def test_a_language_without_a_crisis_number_is_named(hotline_config):
    assert doctor.crisis_numbers(hotline_config) == []

    numbers = {**hotline_config.crisis.numbers, "en": " "}
    broken = replace(hotline_config, crisis=replace(hotline_config.crisis, numbers=numbers))
    (found,) = doctor.crisis_numbers(broken)
    assert found.check == "crisis_numbers"
    assert "none for en callers (crisis.numbers.en)" in found.line

    no_fallback = replace(hotline_config, crisis=replace(hotline_config.crisis, fallback=""))
    assert "no fallback line" in doctor.crisis_numbers(no_fallback)[0].line


def test_the_carrier_is_broken_by_a_standing_condition_or_a_failed_request():
    assert doctor.carrier() == []

    (standing,) = doctor.carrier(standing="3 REST failures in a row", since=NOW)
    assert standing.standing == "carrier_unreachable"
    assert standing.line == (
        "carrier: unreachable since 2026-12-04 10:00 CST (carrier_unreachable): "
        "3 REST failures in a row"
    )
    (probe,) = doctor.carrier(probe_error="HTTP 500, code 20500")
    assert probe.standing is None and probe.broken
    assert "did not answer (HTTP 500, code 20500)" in probe.line
    # Both: the failed request is the same trouble the standing condition already pages about.
    both = doctor.carrier(standing="down", since=NOW, probe_error="ConnectionError, timeout 2 s")
    assert [f.standing for f in both] == ["carrier_unreachable", "carrier_unreachable"]


def test_no_worker_at_all_is_broken():
    (found,) = doctor.workers([], QUEUES, NOW)

    assert found.check == "workers"
    assert "no RQ worker is registered on crisis, dispatch, voicemail, default" in found.line


def test_a_fresh_heartbeat_on_every_queue_holds_and_a_stale_one_does_not():
    fresh = WorkerBeat("w1", QUEUES, NOW - timedelta(seconds=3))
    idle = WorkerBeat("w2", QUEUES, NOW - timedelta(seconds=400))

    assert doctor.workers([fresh, idle], QUEUES, NOW) == []
    (found,) = doctor.workers([idle], QUEUES, NOW)
    assert found.line == (
        "workers: no heartbeat within 120 s from any worker on crisis, dispatch, voicemail, "
        "default; the freshest was 400 s ago (a stuck or dead worker)"
    )


def test_a_queue_nobody_listens_on_is_named():
    only_default = WorkerBeat("w1", ("default",), NOW)

    (found,) = doctor.workers([only_default], QUEUES, NOW)

    assert found.line == "workers: no worker listens on crisis, dispatch, voicemail"


def test_each_queue_has_its_own_limit_for_the_oldest_job():
    waiting = [
        QueueBacklog("crisis", 2, NOW - timedelta(seconds=12)),
        QueueBacklog("voicemail", 1, NOW - timedelta(seconds=120)),
    ]

    (found,) = doctor.queue_waits(waiting, NOW)

    assert found.check == "queue_waits"
    assert found.line == "queue crisis: the oldest of 2 job(s) has waited 12 s (limit 5 s)"
    assert doctor.queue_waits([QueueBacklog("crisis", 1, NOW - timedelta(seconds=3))], NOW) == []


def test_a_scheduled_job_long_past_its_time_is_overdue():
    late = QueueBacklog("default", due=2, earliest_due=NOW - timedelta(seconds=95))
    on_time = QueueBacklog("default", due=1, earliest_due=NOW - timedelta(seconds=1))

    (found,) = doctor.queue_waits([late], NOW)

    assert found.line.startswith("queue default: 2 scheduled job(s) overdue, the first by 95 s")
    assert doctor.queue_waits([on_time], NOW) == []


def test_redis_without_persistence_is_broken_in_production_only():
    off = {"appendonly": "no", "save": ""}

    (found,) = doctor.redis_persistence(off, production=True)
    assert found.check == "redis_persistence" and found.broken
    assert doctor.redis_persistence(off, production=False) == []
    assert doctor.redis_persistence({"appendonly": "yes", "save": ""}, production=True) == []
    assert doctor.redis_persistence({"appendonly": "no", "save": "3600 1"}, production=True) == []


def test_a_redis_refusing_config_cannot_tell():
    (found,) = doctor.redis_persistence(None, production=True, refused="unknown command 'CONFIG'")

    assert found.status == UNKNOWN and not found.broken
    assert found.line.startswith("redis persistence: cannot tell, the server refused CONFIG GET")


def test_holiday_data_must_cover_the_next_90_days():
    calendar = HolidayCalendar({}, {}, (2004, 2026))

    (found,) = doctor.holiday_data(calendar, NOW, SHANGHAI)
    assert found.check == "holiday_data"
    assert "knows 2004 to 2026 only; 2027-01-01 to 2027-03-04 follow the weekly hours" in found.line
    # 90 days from 2026-10-02 is the calendar's last day.
    early_october = datetime.combine(date(2026, 10, 2), time(12), tzinfo=SHANGHAI)
    assert doctor.holiday_data(calendar, early_october, SHANGHAI) == []
    assert doctor.holiday_data(calendar, early_october + timedelta(days=1), SHANGHAI) != []


def test_the_shipped_calendar_ends_within_90_days_of_today():
    # The truth on this machine's date: chinese-calendar knows no year after 2026.
    assert china_calendar().last_year == 2026
    assert doctor.holiday_data(china_calendar(), datetime(2026, 12, 4, tzinfo=UTC), SHANGHAI)

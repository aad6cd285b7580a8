"""`hotline serve` as a real process: it answers signed webhooks, rejects unsigned ones, and
Ctrl-C stops every process it started, the embedded Redis included."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import redis as redis_lib
import requests
import yaml

from queues.agents import AgentBoard
from queues.embedded import _alive
from routing.config import load_config
from telephony.demo import DEMO_AUTH_TOKEN
from telephony.signature import SIGNATURE_HEADER, sign
from tests.e2e.harness import (
    AUTH,
    CALL_DEADLINE_S,
    REPO,
    Hotline,
    free_port,
    poll,
    ready_state,
    serve_pids,
    serving,
    shipped_config,
    write_yaml,
)

pytestmark = pytest.mark.e2e

STARTUP_DEADLINE_S = 60.0


def post(url: str, form: dict[str, str], signature: str | None) -> tuple[int, bytes]:
    """POST a form, returning status and body (errors included)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def health(base: str) -> int | None:
    """The /healthz status code, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture
def served(tmp_path: Path):
    """A running `hotline serve` in demo mode on free ports, stopped with SIGINT afterwards."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL"))
    }
    port = free_port()
    env.update(PORT=str(port), CARRIER_PORT=str(free_port()), HOTLINE_VAR_DIR=str(tmp_path / "var"))
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    state_file = tmp_path / "var" / "serve.json"
    try:
        poll(lambda: health(base) == 200, STARTUP_DEADLINE_S, "hotline serve to answer /healthz")
        state = poll(lambda: ready_state(state_file), STARTUP_DEADLINE_S, "the banner")
        yield base, process, state
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            log.close()


def scraped_lines(base: str) -> list[str]:
    """The lines of a /metrics scrape, asked from loopback."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        return response.read().decode().splitlines()


def test_serve_answers_signed_webhooks_and_stops_everything_on_ctrl_c(served, tmp_path):
    base, process, state = served
    # Counters are listed from the start, at zero, as Prometheus expects of a new process.
    assert "hotline_calls_incoming_total 0.0" in scraped_lines(base)
    form = {
        "CallSid": "CA" + "2" * 32,
        "From": "+8613812345678",
        "To": "+861012348000",
        "AccountSid": "AC" + "0" * 31 + "1",
        "CallStatus": "ringing",
    }
    status, body = post(f"{base}/voice", form, sign(DEMO_AUTH_TOKEN, f"{base}/voice", form))
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == "Response" and root.find("Gather") is not None
    assert post(f"{base}/voice", form, None)[0] == 403
    assert post(f"{base}/voice", form, "forged")[0] == 403
    # The web workers are forked from serve, which set the metrics directory before loading
    # prometheus-client: the call counted by one worker is in the sum any worker answers.
    for _ in range(4):
        scraped = scraped_lines(base)
        assert "hotline_calls_incoming_total 1.0" in scraped, scraped

    pids = list(state["children"].values())
    for pid in pids:
        # Each part leads its own process group, so what it leaves behind can be killed.
        assert os.getpgid(pid) == pid
    if not os.environ.get("REDIS_URL"):
        # Without REDIS_URL serve embeds Redis, and must stop it too.
        assert state["redis"] is not None
        pids.append(state["redis"])
    assert all(_alive(pid) for pid in pids)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    output = (tmp_path / "serve.log").read_text()
    assert process.returncode == 0, output
    assert "/voice" in output and "hotline call" in output
    for pid in pids:
        poll(lambda pid=pid: not _alive(pid), 10, f"process {pid} to stop")
    assert not (tmp_path / "var" / "serve.json").exists()


# One consultant for the general line, on shift around the clock, whose phone accepts at once
# and stays 3 s at the test's clock, so that the caller reaches the conference before the agent
# leaves it, even on a busy machine.
AGENT_PHONE = "+8613900000110"
ON_SHIFT = {
    "timezone": "Asia/Shanghai",
    "agents": [
        {
            "id": "general_one",
            "name": "general_one",
            "phone": AGENT_PHONE,
            "languages": ["zh"],
            "skills": {"general": 1},
            "crisis_trained": False,
            "shifts": [{"days": "mon-sun", "hours": "00:00-24:00"}],
        }
    ],
}
PHONES = {AGENT_PHONE: {"name": "general_one", "role": "agent", "answer_after": 1,
                        "press": ["1"], "stay": 150}}  # fmt: skip
BANNER = "Legal consultation hotline is running"


def general_line_config() -> dict:
    """The shipped config with a short wrap-up on the general line, so one agent takes each call."""
    config = shipped_config()
    config["routing"]["areas"]["general"] = {
        "steps": [{"after_s": 0, "min_level": 1}],
        "wrap_up_s": 1,
    }
    return config


def worker_pids(redis_url: str) -> set[int]:
    """The pids of the RQ workers registered on a Redis."""
    from rq import Worker

    client = redis_lib.Redis.from_url(redis_url, socket_timeout=2)
    try:
        return {worker.pid for worker in Worker.all(connection=client)}
    except redis_lib.RedisError:
        return set()
    finally:
        client.close()


def scheduler_pid(redis_url: str) -> int | None:
    """The pid of the RQ scheduler holding the default queue's scheduling lock, if any."""
    from rq.exceptions import SchedulerNotFound
    from rq.scheduler import RQScheduler

    with redis_lib.Redis.from_url(redis_url, socket_timeout=2) as client:
        try:
            owner = client.get(RQScheduler.get_locking_key("default"))
            return RQScheduler.fetch(owner.decode(), client).pid if owner else None
        except (redis_lib.RedisError, SchedulerNotFound):
            return None


def carrier_answers(url: str) -> bool:
    """Whether the carrier answers its health check."""
    try:
        return requests.get(f"{url}/carrier/health", timeout=2).ok
    except requests.RequestException:
        return False


def redis_answers(url: str) -> bool:
    """Whether a Redis answers on a URL."""
    client = redis_lib.Redis.from_url(url, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis_lib.RedisError:
        return False
    finally:
        client.close()


def story(transcript: dict) -> str:
    """A call's outcome and steps, one per line, for a failure message."""
    steps = [
        f"{e.get('t')} {e['kind']} {e.get('path') or e.get('text') or e.get('keys') or ''}"
        for e in transcript["entries"]
    ]
    return "\n".join([transcript["outcome"]["summary"], *steps])


def call_reaches_the_agent(hotline: Hotline) -> None:
    """Place a Mandarin call to the general line, check the agent takes it, and hang up."""
    call_sid = hotline.start({"press": "1"}, {"press": "0"}, hangup_after=900)

    def bridged() -> list[str]:
        transcript = hotline.transcript(call_sid)
        assert not transcript["finished"], story(transcript)
        return [b["name"] for b in transcript["outcome"]["bridged_to"]]

    assert poll(bridged, CALL_DEADLINE_S, "the agent to take the call") == ["general_one"]
    requests.post(
        f"{hotline.carrier_url}/2010-04-01/Accounts/{AUTH[0]}/Calls/{call_sid}.json",
        data={"Status": "completed"},
        auth=AUTH,
        timeout=5,
    ).raise_for_status()
    hotline.finish(call_sid)
    # The call is wound down (agent's leg ended, wrap-up over) before the next part is killed.
    policy = load_config(yaml.safe_dump(hotline.config, allow_unicode=True)).routing
    board = AgentBoard(hotline.redis(), policy)

    def wound_down() -> bool:
        agent = board.get("general_one")
        return all(c["finished"] for c in hotline.calls()) and agent is not None and agent.free

    poll(wound_down, CALL_DEADLINE_S, "the agent to be free again")


# Four parts restarted in turn, each a process that loads the app, and a call after each: on the
# shared 2-core machine this takes longer than the default test timeout.
@pytest.mark.timeout(300)
def test_each_part_killed_comes_back_and_the_next_call_reaches_an_agent(tmp_path):
    phones = write_yaml(tmp_path / "phones.yaml", PHONES)
    # Killing Redis is killing serve's own: it embeds one even when the tests use the machine's.
    with serving(
        tmp_path,
        general_line_config(),
        roster=ON_SHIFT,
        phones=phones,
        time_scale="0.02",
        embedded=True,
    ) as hotline:
        call_reaches_the_agent(hotline)
        answers = {
            "worker": lambda state: (
                state["children"].get("worker") in worker_pids(hotline.redis_url)
            ),
            "web": lambda state: health(hotline.app_url) == 200,
            "carrier": lambda state: carrier_answers(hotline.carrier_url),
            "redis": lambda state: redis_answers(hotline.redis_url),
        }
        for name, answering in answers.items():
            before = hotline.state()
            old = before["redis"] if name == "redis" else before["children"][name]
            scheduler = scheduler_pid(hotline.redis_url)
            assert scheduler is not None and _alive(scheduler)
            os.kill(old, signal.SIGKILL)

            def back(name=name, old=old, answering=answering):
                state = hotline.state()
                # Between the exit and the restart, the state lists no such process.
                new = state["redis"] if name == "redis" else state["children"].get(name)
                return new not in (None, old) and _alive(new) and answering(state) and state

            state = poll(back, STARTUP_DEADLINE_S, f"the {name} to come back")
            # The embedded Redis comes back on the same socket, so REDIS_URL stays valid.
            assert state["redis_url"] == before["redis_url"] == hotline.redis_url
            assert f"{name} exited with" in hotline.log()

            # Delayed jobs are scheduled again within seconds: a live scheduler holds the lock.
            # After a killed worker that is the new worker's (the old one's went with it), now,
            # not when the dead one's lock would have run out (a minute) and RQ tried again (ten
            # minutes); after Redis, the worker's own, reconnected or started again.
            def scheduling(name: str = name, before: int = scheduler) -> bool:
                pid = scheduler_pid(hotline.redis_url)
                fresh = name != "worker" or pid != before
                return pid is not None and fresh and _alive(pid)

            poll(scheduling, STARTUP_DEADLINE_S / 2, f"a live scheduler after the {name}")
            call_reaches_the_agent(hotline)
        assert hotline.serve is not None and hotline.serve.poll() is None
        # Each restart is said on stderr with the delay it waited.
        assert hotline.log().count("restarting in 0.5 s") >= 4, hotline.log()


def port_pair() -> int:
    """A free web port whose carrier port (50 above) is free too."""

    def pair() -> int | None:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 50))
            except OSError:
                return None
        return port if port + 50 < 65536 else None

    return poll(pair, 10, "a free pair of ports")


def serve_env(home: Path, port: int, **extra_env: str) -> dict[str, str]:
    """The environment of a demo serve on home/var with PORT alone: no carrier port, and its
    own embedded Redis as `make run` starts it."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL", "CARRIER_", "PORT", "REDIS_URL")
        )
    }
    env.update(
        PORT=str(port),
        HOTLINE_VAR_DIR=str(home / "var"),
        HOTLINE_SECRET_KEY="e2e",
        PYTHONPATH=str(REPO),
        **extra_env,
    )
    return env


def start_serve(home: Path, port: int, *options: str, **extra_env: str) -> subprocess.Popen:
    """Start `hotline serve` with PORT alone in its environment, its output in home/serve.log."""
    home.mkdir()
    with (home / "serve.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve", *options],
            cwd=home,
            env=serve_env(home, port, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_serve(process: subprocess.Popen) -> None:
    """Stop a serve as Ctrl-C does, so that it stops its children; kill it only if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def running_state(home: Path) -> dict | None:
    """Serve's state once it lists its web server, worker and Redis."""
    try:
        state = json.loads((home / "var" / "serve.json").read_text())
    except (OSError, ValueError):
        return None
    has_all = {"web", "worker"} <= set(state.get("children", {}))
    return state if has_all and state.get("redis") else None


def banner_carrier_port(home: Path, process: subprocess.Popen) -> int | None:
    """The carrier port the banner names, once the banner is printed."""
    output = (home / "serve.log").read_text()
    assert process.poll() is None, output
    if BANNER not in output:
        return None
    return int(re.search(r"local carrier\s+http://127\.0\.0\.1:(\d+)", output).group(1))


def refused(home: Path, port: int) -> str:
    """Run a serve that must be refused; return the one line it printed."""
    second = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "serve"],
        cwd=home,
        env=serve_env(home, port),
        capture_output=True,
        text=True,
        timeout=STARTUP_DEADLINE_S,
    )
    assert second.returncode != 0, second.stdout + second.stderr
    lines = [line for line in (second.stdout + second.stderr).splitlines() if line]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.timeout(300)  # two whole hotlines and two refused starts
def test_port_alone_keeps_two_hotlines_apart_and_a_third_on_a_var_dir_in_use_is_refused(
    tmp_path,
):
    hotlines: list[tuple[Path, subprocess.Popen, int]] = []
    pids: list[int] = []
    try:
        for name in ("one", "two"):
            port = port_pair()
            home = tmp_path / name
            process = start_serve(home, port)
            hotlines.append((home, process, port))
            carrier_port = poll(
                lambda home=home, process=process: banner_carrier_port(home, process),
                STARTUP_DEADLINE_S,
                f"serve {name}'s banner",
            )
            # The banner is printed only once the web app, carrier and worker all answer.
            base = f"http://127.0.0.1:{port}"
            assert health(base) == 200
            assert carrier_answers(f"http://127.0.0.1:{carrier_port}")
            state = json.loads((home / "var" / "serve.json").read_text())
            pids += serve_pids(state)
            assert state["children"]["worker"] in worker_pids(state["redis_url"])
            assert state["redis_url"] == f"unix://{home / 'var' / 'redis' / 'redis.sock'}"
            # PORT alone moves the carrier along with the web port.
            assert carrier_port == port + 50
        # A third serve on the first one's var dir is refused, on its port or another, in one
        # line naming the running one; and it touches nothing of it.
        home, process, port = hotlines[0]
        first = json.loads((home / "var" / "serve.json").read_text())
        for other_port in (port, port_pair()):
            line = refused(home, other_port)
            assert str(process.pid) in line and str(port) in line, line
            assert json.loads((home / "var" / "serve.json").read_text()) == first
            assert all(_alive(pid) for pid in serve_pids(first))
            assert redis_answers(first["redis_url"])
        for home, process, port in hotlines:
            assert process.poll() is None, (home / "serve.log").read_text()
            assert health(f"http://127.0.0.1:{port}") == 200
            assert carrier_answers(f"http://127.0.0.1:{port + 50}")
    finally:
        for _, process, _ in hotlines:
            process.send_signal(signal.SIGINT)
        for home, process, _ in hotlines:
            try:
                assert process.wait(timeout=30) == 0, (home / "serve.log").read_text()
            finally:
                process.kill()
    for pid in pids:
        poll(lambda pid=pid: not _alive(pid), 10, f"process {pid} to stop")
    assert not any((home / "var" / "serve.json").exists() for home, _, _ in hotlines)


def carrier_lines(log: Path) -> list[str]:
    """What serve said about the carrier, in order."""
    return [line for line in log.read_text().splitlines() if "hotline serve: carrier" in line]


def conditions(base: str) -> list[str]:
    """The standing conditions /healthz lists, by name."""
    try:
        return [c["name"] for c in requests.get(f"{base}/healthz", timeout=5).json()["conditions"]]
    except (requests.RequestException, ValueError, KeyError):
        return []


@pytest.mark.timeout(300)  # a part that starts and dies three times, each a fresh process
def test_a_part_that_keeps_crashing_is_restarted_loudly_and_ctrl_c_stops_during_the_wait(
    tmp_path,
):
    home = tmp_path / "serve"
    port = port_pair()
    process = start_serve(home, port, CARRIER_AGENTS=str(tmp_path / "missing.yaml"))
    log = home / "serve.log"
    state: dict = {}
    try:
        poll(lambda: "carrier keeps crashing" in log.read_text(), 2 * STARTUP_DEADLINE_S, "alarm")
        output = log.read_text()
        assert process.poll() is None, output
        assert "carrier exited with 2" in output
        for delay in ("0.5 s", "1 s", "2 s"):
            assert f"restarting in {delay}" in output, output
        # The alarm reaches /healthz (and, as a standing condition, the supervisors' pages).
        base = f"http://127.0.0.1:{port}"
        poll(lambda: "serve-carrier-crashing" in conditions(base), STARTUP_DEADLINE_S, "condition")
        # Ctrl-C just as serve starts a wait (4 s or more) before it starts the carrier again.
        said = len(carrier_lines(log))

        def waiting() -> bool:
            lines = carrier_lines(log)
            return len(lines) > said and "restarting in" in lines[-1]

        poll(waiting, STARTUP_DEADLINE_S, "a fresh backoff wait")
        attempts = log.read_text().count("hotline carrier:")
        state = json.loads((home / "var" / "serve.json").read_text())
        assert "carrier" not in state["children"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()
        # It stopped in the wait: the carrier was not started once more on the way out.
        assert log.read_text().count("hotline carrier:") == attempts, log.read_text()
        assert BANNER not in log.read_text()
    finally:
        stop_serve(process)
    for pid in serve_pids(state):
        poll(lambda pid=pid: not _alive(pid), 10, f"process {pid} to stop")
    assert not (home / "var" / "serve.json").exists()


def test_serve_gives_up_with_one_line_when_a_part_never_answers(tmp_path):
    home = tmp_path / "serve"
    process = start_serve(
        home, port_pair(), "--ready-timeout", "5", CARRIER_AGENTS=str(tmp_path / "missing.yaml")
    )
    try:
        state = poll(lambda: running_state(home), STARTUP_DEADLINE_S, "serve to start its parts")
        assert process.wait(timeout=STARTUP_DEADLINE_S) != 0
    finally:
        stop_serve(process)
    output = (home / "serve.log").read_text()
    assert BANNER not in output
    lines = [line for line in output.splitlines() if "did not come up" in line]
    assert len(lines) == 1 and "carrier" in lines[0] and "within 5 s" in lines[0], output
    # Everything it started is stopped, the embedded Redis included.
    for pid in serve_pids(state):
        poll(lambda pid=pid: not _alive(pid), 10, f"process {pid} to stop")
    assert not (home / "var" / "serve.json").exists()

"""`make scale-test`: the hotline on two web hosts and two worker hosts for real, in network
namespaces, with a Redis primary, its replica and three Sentinels, HAProxy in front and the
Twilio stand-in outside. Prints the greeting's throughput on one web host and on two, then
brings callers to every step of a call, kills the Redis primary and stops a web host, and
judges the chaos suite's promises, the crisis path and every message playing on both hosts.

    python -m tests.scale [--short] [--keep DIR]

Exits 1 when a promise fails. Needs root and HAProxy (`.ci/run` installs it).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from hotline.settings import read_hotline_config
from ivr.crisis.fallback import fallback_document
from queues.sealing import Sealer
from tests.chaos.invariants import Cell, Window
from tests.chaos.scenarios import DANGER, TO_GENERAL, Fault, Scenario, Stage, run
from tests.chaos.world import (
    AGENTS,
    TIME_SCALE,
    World,
    add_supervisor,
    chaos_config,
    serve_env,
)
from tests.e2e.harness import Hotline
from tests.scale.hosts import Cluster, Layout, Network, require_root_tools, wait_for
from tests.scale.load import CpuQuota, Throughput, greetings
from voicemail import links
from voicemail.messages import MessageStore

# Each web host's share of a core: the machine has 2 cores for both hosts, Redis, the
# workers, the stand-in and the load generator: 0.15 core each keeps the hosts the limit.
WEB_CPU = 0.15
THROUGHPUT_S = {"short": 6.0, "full": 20.0}
LOAD_THREADS = 16
WARM_UP_S = 3.0
# Paired rounds, the median deciding: with five, two rounds slowed by the machine's other work
# do not decide it (three rounds' medians of 1.82x came from single rounds of 1.78x-1.81x).
ROUNDS = 5
MIN_SCALING = 1.8
VOICEMAIL_KEY = "scale-test voicemail key"
FAILOVER_DEADLINE_S = 30.0


class ScaleWorld(World):
    """The chaos world on the hosts: the balancer's URL, and Redis wherever the primary is."""

    cluster: Cluster

    def redis(self):  # noqa: ANN201 - redis.Redis
        """A client on the current primary, asked of the Sentinels each time."""
        return self.cluster.primary()


def failover_then_host_down(cluster: Cluster, notes: list[str]):  # noqa: ANN201
    """The fault: the primary killed with callers at every step, then web1 stopped."""

    def strike(stage: Stage) -> Fault:
        stage.set()
        fault = Fault()
        old = cluster.primary_address()
        primary = next(p for p in cluster.processes if p.name == "redis" and p.host == "redis1")
        killed_at = time.time()
        primary.stop(signal.SIGKILL)
        # Callers arrive during the switch: one in the menus, one pressing the danger key.
        stage.arrive()
        new = wait_for(
            lambda: (a := cluster.primary_address()) != old and cluster.primary().ping() and a,
            FAILOVER_DEADLINE_S,
            "the Sentinels to promote the replica",
        )
        took = time.time() - killed_at
        fault.windows.append(Window(killed_at, killed_at + took, "Redis failing over"))
        notes.append(f"primary {old[0]} killed; {new[0]} promoted after {took:.1f} s")

        def healthy() -> bool:
            reply = requests.get(f"{cluster.balancer_url}/healthz", timeout=3)
            return reply.status_code == 200

        try:
            wait_for(healthy, FAILOVER_DEADLINE_S, "the web hosts to reach the new primary")
        except AssertionError as error:
            fault.recovered.fail(str(error))
        notes.append(f"web hosts healthy again {time.time() - killed_at:.1f} s after the kill")
        # A web host goes away with callers in the menus and one in danger.
        stage.place("menu", *TO_GENERAL)
        web1 = next(p for p in cluster.processes if p.name == "web" and p.host == "web1")
        web1.stop(signal.SIGTERM)
        stage.place("crisis trigger", *DANGER)
        stage.place("menu", *TO_GENERAL)
        return fault

    return strike


def crisis_path(world: World, stage: Stage) -> Cell:
    """Every caller who pressed the danger key reached a crisis taker or a crisis line."""
    cell = Cell()
    for call_sid, step in stage.callers.items():
        if not step.startswith("crisis"):
            continue
        bridged = world.transcript(call_sid)["outcome"].get("bridged_to", [])
        if not any(b.get("role") == "crisis-line" or b.get("name") == "crisis1" for b in bridged):
            cell.fail(f"{step} caller {call_sid[:8]} reached no crisis taker or line")
    return cell


def voicemail_everywhere(cluster: Cluster, world: World, stage: Stage, secret: str) -> Cell:
    """Every message the scenario's callers left plays, the same bytes, from both web hosts."""
    cell = Cell()
    callers = {sid for sid, step in stage.callers.items() if step == "voicemail"}
    store = MessageStore(world.redis(), sealer=Sealer(secret))

    def stored() -> list:
        found = [m for m in store.newest(200) if m.call_sid in callers and m.audio_sha256]
        return found if len(found) == len(callers) else []

    try:
        messages = wait_for(stored, 60, "every message to be stored")
    except AssertionError as error:
        cell.fail(str(error))
        return cell
    for message in messages:
        params = links.sign(secret, message.recording_sid, "scale", now=time.time(), minutes=5)
        bodies = {}
        for host in ("web1", "web2"):
            url = f"{cluster.web_url(host)}/voicemail/audio/{message.recording_sid}.mp3"
            reply = requests.get(url, params=params, timeout=30)
            if reply.status_code != 200 or len(reply.content) < 1000:
                cell.fail(f"{message.recording_sid[:10]} on {host}: {reply.status_code}")
            bodies[host] = reply.content
        if len(set(bodies.values())) > 1:
            cell.fail(f"{message.recording_sid[:10]}: the hosts play different audio")
        cell.notes.append(f"{message.recording_sid[:10]}: {len(bodies['web1'])} bytes on both")
    return cell


@dataclass
class Scaling:
    """The greeting's throughput on one web host and on two, measured in paired rounds."""

    one: list[Throughput]
    both: list[Throughput]
    busy_one: float
    busy_both: float

    def ratios(self) -> list[float]:
        """Each round's two-host figure over the same round's one-host figure."""
        return [b.per_s / max(o.per_s, 0.001) for o, b in zip(self.one, self.both, strict=True)]

    def ratio(self) -> float:
        """The median round's ratio: one round slowed by a neighbour does not decide it."""
        return statistics.median(self.ratios())


def measure(cluster: Cluster, seconds: float) -> Scaling:
    """The greeting's throughput through the balancer on web1 alone and on both web hosts,
    taken in turns (one, two, one, two...) so that the other work on the machine weighs on
    both alike, with the machine's CPU use during each (a share of all its cores)."""
    # Each host's first requests open its Redis connections and fill its caches: not counted.
    greetings(cluster.balancer_url, WARM_UP_S, LOAD_THREADS)
    runs: dict[str, list[Throughput]] = {"one": [], "both": []}
    busy: dict[str, list[float]] = {"one": [], "both": []}
    for _ in range(ROUNDS):
        for hosts in ("one", "both"):
            if hosts == "one":
                cluster.haproxy_command("disable server web/web2")
            try:
                before = cpu_times()
                runs[hosts].append(greetings(cluster.balancer_url, seconds, LOAD_THREADS))
                busy[hosts].append(busy_since(before))
            finally:
                cluster.haproxy_command("enable server web/web2")
    return Scaling(
        runs["one"], runs["both"], statistics.mean(busy["one"]), statistics.mean(busy["both"])
    )


def cpu_times() -> tuple[int, int]:
    """The machine's CPU time so far: all of it, and the idle part (clock ticks)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def busy_since(before: tuple[int, int]) -> float:
    """The share of the machine's cores busy since a sample."""
    total, idle = cpu_times()
    return 1 - (idle - before[1]) / max(1, total - before[0])


def without_live_audio(config_path: Path) -> None:
    """Turn live assist off in the hosts' config: the stand-in's clock runs the calls many
    times faster than real time, so every bridged call would stream audio at that pace too, and
    the web hosts' 0.15 of a core would go to the thermometer, not the webhooks this test
    measures (a live call's stream costs about 1 % of a core in real time: benchmarks.md)."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["assist"]["enabled"] = False
    config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def main() -> int:
    """Build the hosts, run the load and the failover, print the verdicts."""
    parser = argparse.ArgumentParser(prog="python -m tests.scale", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the CI form: shorter load runs")
    parser.add_argument("--keep", type=Path, help="keep logs and evidence in this folder")
    args = parser.parse_args()
    require_root_tools()
    home = args.keep or Path(tempfile.mkdtemp(prefix="scale-"))
    home.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid() % 4096:03x}"
    network = Network(tag, os.getpid() % 4000)
    env = serve_env(home, redis_url=None)
    env.update(VOICEMAIL_KEY=VOICEMAIL_KEY, PYTHONDONTWRITEBYTECODE="1")
    for name in ("HOTLINE_DEMO_ROSTER", "HOTLINE_VAR_DIR"):
        env.pop(name, None)
    cluster = Cluster(home, network, env, Layout())
    quotas = [CpuQuota(f"scale{tag}-{h}", WEB_CPU) for h in ("web1", "web2")]
    verdicts: dict[str, Cell] = {}
    notes: list[str] = []
    began = time.monotonic()
    try:
        network.build()
        cluster.start_redis()
        cluster.start_balancer()
        cluster.start_object_store()
        redis_url = cluster.sentinel_url()
        notes.append(f"app REDIS_URL {redis_url}")
        config_path = Path(env["HOTLINE_CONFIG"])
        without_live_audio(config_path)
        config = read_hotline_config(config_path)
        direct = f"redis://{network.ip('redis1')}:6379/0"
        roster = home / "roster.yaml"
        from hotline.roster_file import seed_demo_roster

        seed_demo_roster(config, direct, roster)
        fallback = home / "var" / "crisis-fallback.xml"
        fallback.parent.mkdir(parents=True, exist_ok=True)
        fallback.write_text(fallback_document(config, cluster.balancer_url), encoding="utf-8")
        for host, quota in zip(("web1", "web2"), quotas, strict=True):
            cluster.start_web(host, redis_url, tuple(quota.enter_command()))
        for host in ("work1", "work2"):
            cluster.start_worker(host, redis_url)
        cluster.start_carrier(Path(env["CARRIER_AGENTS"]), fallback, TIME_SCALE)
        cluster.wait_answering(("web1", "web2"))
        notes.append(f"hosts up in {time.monotonic() - began:.0f} s")

        seconds = THROUGHPUT_S["short" if args.short else "full"]
        measured = measure(cluster, seconds)
        one, both = Throughput.total(measured.one), Throughput.total(measured.both)
        ratio = measured.ratio()
        scaling = Cell()
        scaling.notes.append(
            f"greeting, web hosts of {WEB_CPU} core each: one host {one.text()}, "
            f"two hosts {both.text()}; rounds "
            + ", ".join(f"{r:.2f}x" for r in measured.ratios())
            + f": median {ratio:.2f}x"
        )
        scaling.notes.append(
            f"machine CPU busy (all processes, both cores): {measured.busy_one:.0%} with one "
            f"host, {measured.busy_both:.0%} with two"
        )
        if ratio < MIN_SCALING:
            scaling.fail(f"two web hosts gave {ratio:.2f}x one host's, under {MIN_SCALING}x")
        if one.errors or both.errors:
            scaling.fail(f"{one.errors + both.errors} greetings failed")
        verdicts["throughput"] = scaling

        hotline = Hotline(
            cluster.balancer_url,
            cluster.carrier_url,
            chaos_config(),
            redis_url,
            None,
            home,
            {**env, "REDIS_URL": direct},
        )
        world = ScaleWorld(
            hotline,
            token=add_supervisor(env, direct),
            phones={agent.phone: agent.id for agent in AGENTS},
        )
        world.cluster = cluster
        scenario = Scenario(
            "Redis primary killed, then a web host stopped",
            "hosts",
            failover_then_host_down(cluster, notes),
        )
        stage_box: list[Stage] = []
        original = scenario.strike

        def keep_stage(stage: Stage) -> Fault:
            stage_box.append(stage)
            return original(stage)

        scenario.strike = keep_stage
        result = run(world, scenario, home)
        notes += result.notes
        verdicts.update(result.cells)
        stage = stage_box[0]
        verdicts["crisis path"] = crisis_path(world, stage)
        # web1 comes back, as a restarted host does, and plays every message too.
        cluster.start_web("web1", redis_url, tuple(quotas[0].enter_command()))
        cluster.wait_answering(("web1", "web2"))
        verdicts["voicemail on both hosts"] = voicemail_everywhere(
            cluster, world, stage, env["HOTLINE_SECRET_KEY"]
        )
    except Exception as error:  # noqa: BLE001 - printed as a failed verdict, with the logs kept
        import traceback

        traceback.print_exc()
        verdicts["run"] = Cell(ok=False, reasons=[f"{type(error).__name__}: {error}"])
    finally:
        left = cluster.stop_all()
        network.tear_down()
        for quota in quotas:
            quota.remove()
        if left:
            verdicts["stopped"] = Cell(ok=False, reasons=[f"still running: {left}"])
    return report(verdicts, notes, home, time.monotonic() - began)


def report(verdicts: dict[str, Cell], notes: list[str], home: Path, seconds: float) -> int:
    """Print each verdict and its notes; 1 when any failed."""
    for name, cell in verdicts.items():
        print(f"{name:28} {cell.text()}")
        for reason in cell.reasons[1:]:
            print(f"{'':28}   {reason}")
        for note in cell.notes:
            print(f"{'':28}   {note}")
    for note in notes:
        print(f"  {note}")
    print(f"scale test: {seconds:.0f} s, logs in {home}")
    return 0 if all(cell.ok for cell in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

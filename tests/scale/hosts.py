"""Hosts for real on one machine: network namespaces on a bridge, each with its own address,
and the hotline's processes started in them as a two-host deployment runs them
(docs/deploying.md#two-hosts): HAProxy, two web hosts, two worker hosts, a Redis primary and
replica with three Sentinels, and the Twilio stand-in outside, on the bridge's own address.

Needs root (`ip netns`, veth pairs, a bridge) and Debian's `haproxy`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_lib
import requests
from redis.sentinel import Sentinel

from hotline.metrics_dir import prepare_multiprocess_dir
from tests.e2e.harness import AUTH
from tests.fixtures.waits import poll

WEB_PORT = 8000
HTTP_PORT = 80
REDIS_PORT = 6379
SENTINEL_PORT = 26379
CARRIER_PORT = 5050
# The S3-compatible object store (moto's server) outside the hosts, as a provider's would be.
S3_PORT = 9000
BUCKETS = ("hotline-messages", "hotline-copies")
S3_KEYS = {"HOTLINE_S3_ACCESS_KEY_ID": "scale-test", "HOTLINE_S3_SECRET_ACCESS_KEY": "scale-key"}
PRIMARY_NAME = "mymaster"
# Sentinel calls the primary down after this long without an answer; a failover follows.
DOWN_AFTER_MS = 1000
START_DEADLINE_S = 90.0

# Each host's last address byte on the bridge's /24; the stand-in is on the bridge itself (.1).
HOSTS = {
    "lb": 10,
    "web1": 11,
    "web2": 12,
    "work1": 21,
    "work2": 22,
    "redis1": 31,
    "redis2": 32,
    "sentinel3": 33,
}


def require_root_tools() -> None:
    """Fail loudly when the machine cannot build hosts: not root, or a tool missing."""
    if os.geteuid() != 0:
        raise SystemExit("make scale-test: needs root (network namespaces, veth pairs, a bridge)")
    for tool in ("ip", "haproxy", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"make scale-test: `{tool}` is missing (apt-get install haproxy)")


def run_ip(*args: str) -> None:
    """Run one `ip` command; a failure stops the run with its message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Network:
    """A bridge and one namespace per host, each joined to the bridge by a veth pair."""

    tag: str
    subnet: int
    namespaces: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"sb{self.tag}"

    @property
    def outside(self) -> str:
        """The bridge's own address: the machine outside the hosts, where the stand-in runs."""
        return self.address_of(1)

    def address_of(self, last: int) -> str:
        """An address on the hosts' network."""
        return f"10.{200 + self.subnet // 256}.{self.subnet % 256}.{last}"

    def ip(self, host: str) -> str:
        """A host's address."""
        return self.address_of(HOSTS[host])

    def ns(self, host: str) -> str:
        """A host's namespace name."""
        return f"scale{self.tag}-{host}"

    def build(self) -> None:
        """Create the bridge and every host's namespace, address and route."""
        run_ip("link", "add", self.bridge, "type", "bridge")
        run_ip("addr", "add", f"{self.outside}/24", "dev", self.bridge)
        run_ip("link", "set", self.bridge, "up")
        for index, host in enumerate(HOSTS):
            ns, inside, out = self.ns(host), f"si{self.tag}{index}", f"so{self.tag}{index}"
            run_ip("netns", "add", ns)
            self.namespaces.append(ns)
            run_ip("link", "add", out, "type", "veth", "peer", "name", inside)
            run_ip("link", "set", inside, "netns", ns)
            run_ip("link", "set", out, "master", self.bridge)
            run_ip("link", "set", out, "up")
            run_ip("-n", ns, "link", "set", "lo", "up")
            run_ip("-n", ns, "addr", "add", f"{self.ip(host)}/24", "dev", inside)
            run_ip("-n", ns, "link", "set", inside, "up")

    def tear_down(self) -> None:
        """Delete every namespace (their veth ends go with them) and the bridge."""
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


@dataclass
class Process:
    """One process started on a host, in its own process group."""

    host: str
    name: str
    popen: subprocess.Popen
    # Stopped on purpose (a killed primary, a stopped host): not a crash.
    stopped: bool = False

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, signum: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
        """Signal the process group and wait for the process; kill it after the grace."""
        self.stopped = True
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)
        try:
            self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        # Children of a killed leader (gunicorn's workers) go with their group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


@dataclass
class Layout:
    """How many web processes each web host runs: few, so a host, not the machine, is the limit."""

    web_workers: int = 1
    web_threads: int = 4


class Cluster:
    """The two-host hotline on a network: started part by part, stopped all at once."""

    def __init__(self, home: Path, network: Network, env: dict[str, str], layout: Layout):
        self.home = home
        self.net = network
        self.env = env
        self.layout = layout
        self.processes: list[Process] = []

    # Addresses

    @property
    def balancer_url(self) -> str:
        return f"http://{self.net.ip('lb')}"

    @property
    def carrier_url(self) -> str:
        return f"http://{self.net.outside}:{CARRIER_PORT}"

    @property
    def s3_url(self) -> str:
        return f"http://{self.net.outside}:{S3_PORT}"

    def web_url(self, host: str) -> str:
        return f"http://{self.net.ip(host)}:{WEB_PORT}"

    def sentinels(self) -> list[tuple[str, int]]:
        return [(self.net.ip(h), SENTINEL_PORT) for h in ("redis1", "redis2", "sentinel3")]

    def sentinel_url(self) -> str:
        """REDIS_URL naming the three Sentinels."""
        hosts = ",".join(f"{ip}:{port}" for ip, port in self.sentinels())
        return f"redis+sentinel://{hosts}/{PRIMARY_NAME}/0"

    def primary(self) -> redis_lib.Redis:
        """A client on whichever server the Sentinels call primary now."""
        sentinel = Sentinel(self.sentinels(), socket_timeout=2)
        return sentinel.master_for(PRIMARY_NAME, socket_timeout=5, socket_connect_timeout=5)

    def primary_address(self) -> tuple[str, int]:
        """The address the Sentinels give for the primary."""
        return Sentinel(self.sentinels(), socket_timeout=2).discover_master(PRIMARY_NAME)

    # Starting

    def start(
        self,
        host: str,
        name: str,
        command: list[str],
        env: dict[str, str],
        prefix: tuple[str, ...] = (),
    ) -> Process:
        """Start a command on a host, its output in a log file named after it."""
        log = (self.home / f"{host}-{name}.log").open("ab")
        popen = subprocess.Popen(
            [*prefix, "ip", "netns", "exec", self.net.ns(host), *command],
            env=env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        log.close()
        process = Process(host, name, popen)
        self.processes.append(process)
        return process

    def log(self, host: str, name: str) -> str:
        """What a process has printed."""
        path = self.home / f"{host}-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_redis(self) -> None:
        """The primary on redis1, its replica on redis2, a Sentinel on each and on sentinel3."""
        primary = self.net.ip("redis1")
        for host in ("redis1", "redis2"):
            folder = self.home / host
            folder.mkdir(exist_ok=True)
            command = [
                "redis-server", "--bind", self.net.ip(host), "--port", str(REDIS_PORT),
                "--dir", str(folder), "--appendonly", "yes", "--appendfsync", "everysec",
                "--save", "", "--protected-mode", "no",
            ]  # fmt: skip
            if host == "redis2":
                command += ["--replicaof", primary, str(REDIS_PORT)]
            self.start(host, "redis", command, self.env)
        for host in ("redis1", "redis2", "sentinel3"):
            conf = self.home / f"{host}-sentinel.conf"
            conf.write_text(
                f"bind {self.net.ip(host)}\nport {SENTINEL_PORT}\nprotected-mode no\n"
                f"dir {self.home}\n"
                f"sentinel monitor {PRIMARY_NAME} {primary} {REDIS_PORT} 2\n"
                f"sentinel down-after-milliseconds {PRIMARY_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {PRIMARY_NAME} 10000\n"
                f"sentinel parallel-syncs {PRIMARY_NAME} 1\n"
            )
            self.start(host, "sentinel", ["redis-server", str(conf), "--sentinel"], self.env)

        def replicating() -> bool:
            try:
                info = redis_lib.Redis(primary, REDIS_PORT, socket_timeout=2).info("replication")
                sentinel = redis_lib.Redis(primary, SENTINEL_PORT, socket_timeout=2)
                sentinels = sentinel.execute_command("SENTINEL", "SENTINELS", PRIMARY_NAME)
            except redis_lib.RedisError:
                return False
            return info.get("connected_slaves") == 1 and len(sentinels) == 2

        poll(replicating, START_DEADLINE_S, "the replica and three Sentinels")

    def start_balancer(self) -> None:
        """HAProxy on lb: webhooks to the web hosts, the least busy first."""
        conf = self.home / "haproxy.cfg"
        conf.write_text(haproxy_config(self))
        self.start("lb", "haproxy", ["haproxy", "-db", "-f", str(conf)], self.env)

    def host_env(self, host: str, app_redis_url: str) -> dict[str, str]:
        """A hotline process's environment on a host: the shared settings and its own folder."""
        var = self.home / host / "var"
        var.mkdir(parents=True, exist_ok=True)
        metrics = prepare_multiprocess_dir(var / "prometheus")
        return {
            **self.env,
            "REDIS_URL": app_redis_url,
            "HOTLINE_VAR_DIR": str(var),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            # Both copies of every message in buckets every host reaches.
            "HOTLINE_STORAGE": f"s3://{BUCKETS[0]}/voicemail",
            "HOTLINE_STORAGE_COPY": f"s3://{BUCKETS[1]}/voicemail",
            "HOTLINE_S3_ENDPOINT_URL": self.s3_url,
            "HOTLINE_S3_ADDRESSING": "path",
            "HOTLINE_S3_REGION": "us-east-1",
            **S3_KEYS,
            "TWILIO_API_BASE_URL": self.carrier_url,
            "HOTLINE_APP_URL": self.balancer_url,
        }

    def start_web(self, host: str, app_redis_url: str, prefix: tuple[str, ...] = ()) -> Process:
        """gunicorn on a web host, as the Procfile's `web` line runs it."""
        command = [
            sys.executable, "-m", "gunicorn", "--bind", f"{self.net.ip(host)}:{WEB_PORT}",
            "--workers", str(self.layout.web_workers), "--threads", str(self.layout.web_threads),
            "--worker-class", "gthread", "--graceful-timeout", "5", "--preload",
            "--log-level", "warning", "hotline.app:create_app()",
        ]  # fmt: skip
        return self.start(host, "web", command, self.host_env(host, app_redis_url), prefix)

    def start_worker(self, host: str, app_redis_url: str) -> Process:
        """`hotline worker` on a worker host, as the Procfile's `worker` line runs it."""
        command = [sys.executable, "-m", "hotline.cli", "worker"]
        return self.start(host, "worker", command, self.host_env(host, app_redis_url))

    def start_object_store(self) -> None:
        """moto's S3 server outside the hosts, with the two buckets made private."""
        import boto3

        command = [
            sys.executable, "-m", "moto.server", "-H", self.net.outside, "-p", str(S3_PORT),
        ]  # fmt: skip
        log = (self.home / "outside-s3.log").open("ab")
        popen = subprocess.Popen(
            command, env=self.env, cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
            process_group=0,
        )  # fmt: skip
        log.close()
        self.processes.append(Process("outside", "s3", popen))
        client = boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id=S3_KEYS["HOTLINE_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["HOTLINE_S3_SECRET_ACCESS_KEY"],
        )

        def up() -> bool:
            try:
                return requests.get(self.s3_url, timeout=2).status_code < 500
            except requests.RequestException:
                return False

        poll(up, START_DEADLINE_S, "the object store")
        for bucket in BUCKETS:
            client.create_bucket(Bucket=bucket)

    def start_carrier(self, agents: Path, fallback: Path, time_scale: float) -> Process:
        """The stand-in outside the hosts, sending webhooks to the balancer."""
        command = [
            sys.executable, "-m", "hotline.cli", "carrier", "--host", self.net.outside,
            "--port", str(CARRIER_PORT), "--app-url", self.balancer_url,
            "--agents", str(agents), "--time-scale", str(time_scale),
            "--fallback-twiml", str(fallback),
        ]  # fmt: skip
        log = (self.home / "outside-carrier.log").open("ab")
        popen = subprocess.Popen(
            command,
            env={**self.env, "CARRIER_TIME_SCALE": str(time_scale)},
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        log.close()
        process = Process("outside", "carrier", popen)
        self.processes.append(process)
        return process

    def wait_answering(self, hosts: tuple[str, ...]) -> None:
        """Wait until each web host, the balancer and the stand-in answer."""

        def up() -> bool:
            for process in self.processes:
                if not (process.stopped or process.alive()):
                    output = self.log(process.host, process.name)[-3000:]
                    raise AssertionError(f"{process.host} {process.name} exited:\n{output}")
            try:
                urls = [f"{self.web_url(h)}/healthz" for h in hosts]
                urls.append(f"{self.balancer_url}/healthz")
                if not all(requests.get(url, timeout=3).status_code == 200 for url in urls):
                    return False
                return requests.get(f"{self.carrier_url}/carrier/health", auth=AUTH, timeout=3).ok
            except requests.RequestException:
                return False

        poll(up, START_DEADLINE_S, "the web hosts, the balancer and the stand-in")

    def haproxy_command(self, line: str) -> str:
        """Send one command to HAProxy's admin socket (`disable server web/web2`)."""
        import socket

        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.home / "haproxy.sock"))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stop_all(self) -> list[str]:
        """Stop every process, the stand-in last; name any that would not stop."""
        for process in reversed(self.processes):
            process.stop(grace_s=10)
        return [f"{p.host} {p.name}" for p in self.processes if p.alive()]


def haproxy_config(cluster: Cluster) -> str:
    """The balancer: each webhook to the web host with the fewest in hand, checked on /healthz.

    A web host is taken out when it stops answering `/healthz` at all; a 503 there (Redis
    unreachable) keeps it in: during a Redis failover every host says 503, and a balancer with
    no host left would answer Twilio with its own 503 instead of the app's TwiML.
    """
    net = cluster.net
    webs = "\n".join(f"    server {h} {net.ip(h)}:{WEB_PORT} check" for h in ("web1", "web2"))
    return f"""global
    maxconn 4096
    stats socket {cluster.home / "haproxy.sock"} mode 600 level admin

defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3

frontend webhooks
    mode http
    bind {net.ip("lb")}:{HTTP_PORT}
    option forwardfor
    default_backend web

backend web
    mode http
    # The fewest requests in hand, not turns: a host slowed for a moment (a collection, a
    # busy neighbour on its VM) gets fewer webhooks instead of holding up every other one.
    balance leastconn
    # A host going away closes its idle keep-alive connections and answers nothing more: the
    # request is sent again to the other host instead of Twilio getting the balancer's 502.
    # Webhooks are safe to repeat (Twilio itself repeats status callbacks).
    retry-on conn-failure empty-response response-timeout
    option redispatch 1
    option httpchk GET /healthz
    http-check expect rstatus ^(200|503)$
    # A busy host's /healthz may take over the half second between checks: it stays in, as the
    # last host out would leave the balancer answering Twilio with its own 503.
    timeout check 2s
    default-server inter 500ms fall 2 rise 2
{webs}
"""


def wait_for(check, deadline_s: float, what: str):  # noqa: ANN001, ANN201 - poll's shape
    """Poll a check that may raise a connection error meanwhile."""

    def quiet():  # noqa: ANN202
        try:
            return check()
        except (redis_lib.RedisError, OSError, requests.RequestException):
            return None

    return poll(quiet, deadline_s, what)

"""Greeting throughput through the balancer: signed `POST /voice` requests from many threads
for a fixed stretch, counted; and each web host's CPU quota, so that a host, not the machine,
is what limits it."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator

from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, DEMO_HOTLINE_NUMBER

CGROUP_V1 = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


@dataclass
class Throughput:
    """How many greetings were answered in how long, and how many went wrong."""

    answered: int
    errors: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.answered / self.seconds

    @classmethod
    def total(cls, runs: list[Throughput]) -> Throughput:
        """Several runs counted as one."""
        return cls(
            sum(r.answered for r in runs), sum(r.errors for r in runs), sum(r.seconds for r in runs)
        )

    def text(self) -> str:
        return f"{self.per_s:.0f}/s ({self.answered} in {self.seconds:.1f} s, {self.errors} errors)"


def greetings(base_url: str, seconds: float, threads: int) -> Throughput:
    """Drive signed incoming-call webhooks at the balancer from many threads for a while."""
    validator = RequestValidator(DEMO_AUTH_TOKEN)
    url = f"{base_url}/voice"
    serial = itertools.count()
    counts = {"answered": 0, "errors": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def caller(index: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop_at:
            n = next(serial)
            params = {
                "AccountSid": DEMO_ACCOUNT_SID,
                "CallSid": f"CA{os.getpid():08x}{index:04x}{n:020x}"[:34],
                "From": f"+8613{n % 10**9:09d}",
                "To": DEMO_HOTLINE_NUMBER,
                "CallStatus": "ringing",
                "Direction": "inbound",
            }
            headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
            try:
                reply = session.post(url, data=params, headers=headers, timeout=10)
                ok = reply.status_code == 200 and b"<Response" in reply.content
            except requests.RequestException:
                ok = False
            with lock:
                counts["answered" if ok else "errors"] += 1

    began = time.monotonic()
    workers = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 15)
    return Throughput(counts["answered"], counts["errors"], time.monotonic() - began)


class CpuQuota:
    """A cgroup holding one host's processes to a share of one core, as a small VM would be."""

    def __init__(self, name: str, cores: float):
        self.cores = cores
        if CGROUP_V1.is_dir() and (CGROUP_V1 / "cpu.cfs_quota_us").exists():
            self.path = CGROUP_V1 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(int(PERIOD_US * cores)))
        elif "cpu" in (CGROUP_V2 / "cgroup.controllers").read_text(errors="ignore").split():
            self.path = CGROUP_V2 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{int(PERIOD_US * cores)} {PERIOD_US}")
        else:
            raise SystemExit("make scale-test: no cgroup cpu controller to give a host its share")

    def enter_command(self) -> list[str]:
        """A prefix that moves the command into this cgroup before it starts."""
        return ["sh", "-c", f'echo $$ > {self.path / "cgroup.procs"} && exec "$@"', "quota"]

    def remove(self) -> None:
        """Remove the cgroup once its processes have gone."""
        with contextlib.suppress(OSError):
            self.path.rmdir()

"""GET /metrics: the hotline's metrics in Prometheus' text format, never shown to the public.

Allowed from loopback (a Prometheus or an agent on the same machine), and from anywhere with
`Authorization: Bearer <METRICS_TOKEN>`; every other request gets the same 404 as an unknown
page, so a scanner learns nothing (a wrong token too). A request carrying a proxy's forwarding
headers is not loopback: it came through a proxy from somewhere else.

Under gunicorn each worker keeps its own counters; with PROMETHEUS_MULTIPROC_DIR set (`hotline
serve` sets it under the var dir) every process writes its values there and a scrape sums
them, whichever worker answers. The gauges are read from Redis at each scrape
(`queues.metrics.HotlineCollector`). Metrics are described in docs/observability.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hotline.metrics_dir import MULTIPROC_ENV
from queues import runtime
from queues.metrics import HotlineCollector

log = logging.getLogger(__name__)

TOKEN_ENV = "METRICS_TOKEN"
# Headers a reverse proxy adds: a request with one came from beyond the machine.
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")

bp = Blueprint("metrics", __name__)


class Scrape:
    """One scrape's collectors, read in turn (what generate_latest needs of a registry)."""

    def __init__(self, collectors: Iterable[Collector]):
        self.collectors = list(collectors)

    def collect(self) -> Iterator:
        """Every metric of every collector."""
        for collector in self.collectors:
            yield from collector.collect()


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics, for loopback or the bearer of METRICS_TOKEN; 404 for anyone else."""
    if not allowed():
        abort(404)
    return Response(generate_latest(scrape()), headers={"Content-Type": CONTENT_TYPE_LATEST})


def allowed() -> bool:
    """Whether this request may read the metrics: the right bearer token, or plain loopback."""
    token = os.environ.get(TOKEN_ENV, "")
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer "):
        # Constant time: how much of a guess matched must not show in the answer's timing.
        return hmac.compare_digest(given[len("Bearer ") :].encode(), token.encode())
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def scrape() -> Scrape:
    """This scrape's collectors: the processes' counters and histograms, then Redis's gauges."""
    directory = os.environ.get(MULTIPROC_ENV)
    # Multiprocess: every process's files, summed (the default registry holds only this one's).
    processes = MultiProcessCollector(None, path=directory) if directory else REGISTRY
    collectors: list[Collector] = [processes]
    try:
        shared = runtime.serving()
    except RuntimeError as error:
        # No Redis configured: the processes' own metrics are still worth reading.
        log.warning("metrics without Redis gauges: %s", error)
    else:
        collectors.append(HotlineCollector(shared.redis, current_app.config["HOTLINE"]))
    return Scrape(collectors)

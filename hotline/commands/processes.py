"""`hotline serve` (every part of the hotline, kept running) and `hotline worker` (one worker)."""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

from hotline.commands import CommandError, Commands, load_config, redis_url, settings
from telephony.demo import DEMO_CARRIER_PORT_OFFSET

# How long serve waits for a given REDIS_URL to answer before refusing to start.
REDIS_CHECK_TIMEOUT_S = 3.0


def register(commands: Commands) -> None:
    """Add `serve` and `worker`."""
    serve = commands.add(
        "serve",
        "set-up",
        "run the web server, worker (and demo carrier), restarting any that dies",
        description="Run Redis (embedded unless REDIS_URL), the web server, the RQ worker and, "
        "in demo mode, the local carrier; restart any that dies (with backoff, loudly when it "
        "keeps dying) and stop them all on Ctrl-C. One serve per var dir (HOTLINE_VAR_DIR, "
        "default ./var); the banner is printed once every part answers. In production mode "
        "(TWILIO_ACCOUNT_SID set) it refuses to start without the secrets it needs.",
    )
    serve.add_argument(
        "--host", default=os.environ.get("HOST", "127.0.0.1"), help="web address (default: HOST)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "5000")),
        help="web port (default: PORT or 5000)",
    )
    serve.add_argument(
        "--web-workers",
        type=int,
        default=None,
        help="web server (gunicorn) worker processes (default 2)",
    )
    serve.add_argument(
        "--carrier-port",
        type=int,
        default=int(os.environ["CARRIER_PORT"]) if os.environ.get("CARRIER_PORT") else None,
        help="demo carrier's port (default: CARRIER_PORT, else the web port + "
        f"{DEMO_CARRIER_PORT_OFFSET}, else a free port when that one is taken)",
    )
    serve.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds every part gets to answer before serve stops and says which did not",
    )
    serve.set_defaults(func=_serve)

    worker = commands.add(
        "worker",
        "set-up",
        "run one RQ worker with the scheduler (hotline serve runs one for you)",
        description="Run an RQ worker on REDIS_URL with the app's runtime: it rings agents, "
        "pages supervisors, processes voicemail and runs the routing sweep and self-check.",
    )
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(func=_worker)


def _serve(args: argparse.Namespace) -> int:
    """Start Redis (embedded unless REDIS_URL), web server, worker and, in demo, the carrier."""
    from hotline.metrics_dir import MULTIPROC_ENV, prepare_multiprocess_dir
    from hotline.serve import Supervisor

    current = settings()
    # Refused here, before any child starts: a child would only crash on it, again and again.
    problems = current.problems() + current.missing_secrets()
    if problems:
        raise CommandError("cannot start: " + "; ".join(problems), code=2)
    supervisor = Supervisor(
        current,
        args.host,
        args.port,
        args.web_workers,
        args.carrier_port,
        ready_deadline_s=args.ready_timeout,
    )
    # A second serve on the same var dir stops here, before it reads or prints anything else.
    if not supervisor.take_var_dir():
        return 1
    # Every part writes its metrics in one directory and /metrics sums them; an earlier run's
    # go. The parts are forked from serve, and prometheus-client picks its multiprocess mode as
    # it is imported: the directory is in serve's environment before anything imports it.
    metrics_dir = Path(os.environ.setdefault(MULTIPROC_ENV, str(current.var_dir / "prometheus")))
    try:
        prepare_multiprocess_dir(metrics_dir)
    except OSError as error:
        raise CommandError(f"cannot prepare the metrics directory {metrics_dir}: {error}") from None
    load_config()
    if current.redis_url:
        _check_redis(current.redis_url)
    # What is loaded now lasts as long as serve: frozen out of the collector, it is not walked
    # again and again while serve watches its parts, nor once more as it exits.
    gc.freeze()
    return supervisor.run()


def _check_redis(url: str) -> None:
    """Make sure a given REDIS_URL answers; redis-py's error says why not."""
    from queues.connection import redis_client

    client = redis_client(
        url, socket_timeout=REDIS_CHECK_TIMEOUT_S, socket_connect_timeout=REDIS_CHECK_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


def _worker(args: argparse.Namespace) -> int:
    """Run the RQ worker against REDIS_URL, with the app's runtime and the routing sweep."""
    from hotline.app import create_app
    from queues import runtime, sealing, worker
    from queues.carrier_setup import schedule_queue_setup
    from queues.dispatch import SWEEP_JOB_ID, schedule_sweep
    from queues.doctor import SELF_CHECK_JOB_ID, schedule_self_check
    from queues.records import jobs as records_jobs
    from voicemail.jobs import periodic_chains as voicemail_chains
    from voicemail.jobs import schedule_periodic as schedule_voicemail_jobs

    url = redis_url()
    # An unreachable Redis is said before the app is built (which, in demo, makes secrets).
    _check_redis(url)
    app = create_app()
    rt = runtime.of(app)
    # A secret that changed since Redis was sealed says so at once, not call by call.
    sealing.KeyCheck(rt.redis, sealing.current()).run(rt.now())
    schedule_sweep(rt.redis, delay_s=1)
    schedule_self_check(rt.redis, delay_s=5)
    schedule_voicemail_jobs(rt.redis)
    # The worker writes the call records: their schema is brought up to date before any job.
    records_jobs.store()
    records_jobs.schedule_upkeep(rt.redis, delay_s=10)
    # Twilio's queues are set up by a job behind any work already waiting, never before the
    # first job: crisis pages and rings queued while no worker ran go out first.
    schedule_queue_setup(rt.redis)
    # The sweep, the self-check, the records' upkeep and voicemail's and recordings' retention
    # and sweeps schedule their own next run; the worker schedules one again if a Redis
    # failover lost it.
    chains = (
        worker.Chain("default", SWEEP_JOB_ID, schedule_sweep),
        worker.Chain("default", SELF_CHECK_JOB_ID, schedule_self_check),
        worker.Chain("default", records_jobs.UPKEEP_JOB_ID, records_jobs.schedule_upkeep),
        *voicemail_chains(),
    )
    # The app, config and modules live as long as the worker: frozen, the collector no longer
    # walks them, and the scheduler RQ forks does not copy and walk them again as it exits
    # (about 0.2 s of CPU a fork otherwise).
    gc.freeze()
    worker.run(url, burst=args.burst, chains=chains)
    return 0

"""The `hotline` command: serve, worker, config check, classify, and the carrier's commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from dotenv import load_dotenv

from hotline.settings import Settings, StartupError, read_hotline_config, secret
from queues import sealing
from queues.connection import configured_url, from_environment
from queues.sealing import Sealer
from routing.classifier import Lexicon, classify, crisis_features, with_crisis_model
from routing.config import check_config
from routing.problems import ProblemsError
from telephony.demo import DEMO_CARRIER_PORT_OFFSET


def main(argv: list[str] | None = None) -> int:
    """Run the hotline command line; returns the exit code."""
    load_dotenv(Path.cwd() / ".env", override=False)
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    # Commands that read callers' sealed data (incidents, voicemail) open it with the hotline's
    # secret, read on first use only; a command that builds the app installs the app's own.
    sealing.install(lambda: Sealer(secret("HOTLINE_SECRET_KEY", Settings.from_env())))
    return int(args.func(args) or 0)


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser(
        "serve",
        help="run the web server, worker (and demo carrier), restarting any that dies",
        description="Run Redis (embedded unless REDIS_URL), the web server, the RQ worker and, "
        "in demo mode, the local carrier; restart any that dies (with backoff, loudly when it "
        "keeps dying) and stop them all on Ctrl-C. One serve per var dir (HOTLINE_VAR_DIR, "
        "default ./var); the banner is printed once every part answers.",
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
    serve.add_argument("--web-workers", type=int, default=2)
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

    worker = commands.add_parser("worker", help="run an RQ worker with the scheduler")
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(func=_worker)

    config = commands.add_parser("config", help="work with the hotline configuration")
    config_commands = config.add_subparsers(title="config commands")
    check = config_commands.add_parser("check", help="report every problem in a config file")
    check.add_argument("file", nargs="?", help="YAML file (default: HOTLINE_CONFIG or shipped)")
    check.set_defaults(func=_config_check)

    classify_cmd = commands.add_parser("classify", help="sort a sentence into a legal area")
    classify_cmd.add_argument("--lang", choices=("zh", "en"), default=None)
    classify_cmd.add_argument("text")
    classify_cmd.set_defaults(func=_classify)

    roster = commands.add_parser("roster", help="agents and their shifts")
    roster_commands = roster.add_subparsers(title="roster commands")
    roster_import = roster_commands.add_parser(
        "import", help="replace the roster with a YAML or CSV file (checked whole first)"
    )
    roster_import.add_argument("file")
    roster_import.add_argument(
        "--presence",
        choices=("offline", "available", "on_break"),
        default="offline",
        help="presence of agents new to the roster (default offline)",
    )
    roster_import.add_argument(
        "--force",
        action="store_true",
        help="apply it even if some hour of the next 14 days has no supervisor on call or an "
        "open area no crisis-trained agent (audited as forced, with the gaps)",
    )
    roster_import.add_argument(
        "--by", metavar="NAME", help="who the audit log names (default: the OS user)"
    )
    roster_import.set_defaults(func=_roster_import)
    roster_export = roster_commands.add_parser("export", help="print the current roster")
    roster_export.add_argument("--format", choices=("yaml", "csv"), default="yaml")
    roster_export.set_defaults(func=_roster_export)

    bench = commands.add_parser("bench", help="measure the hotline (prints figures)")
    bench.add_argument("part", choices=("routing", "voicemail", "crisis", "classifier"))
    bench.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="an empty Redis database the routing bench may fill and flush",
    )
    bench.set_defaults(func=_bench)

    fallback = commands.add_parser(
        "fallback-twiml", help="print the static TwiML for the number's Voice Fallback URL"
    )
    fallback.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from it")
    fallback.set_defaults(func=_fallback_twiml)

    incidents = commands.add_parser("incidents", help="crisis incident records")
    incident_commands = incidents.add_subparsers(title="incident commands")
    export = incident_commands.add_parser("export", help="export incidents as CSV or JSON")
    export.add_argument("--from", dest="start", required=True, help="date or time, UTC (ISO)")
    export.add_argument("--to", dest="end", required=True, help="date or time, UTC (ISO)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.set_defaults(func=_incidents_export)

    storage = commands.add_parser("storage", help="what Redis keeps about callers")
    storage_commands = storage.add_subparsers(title="storage commands")
    accept_key = storage_commands.add_parser(
        "accept-key",
        help="go on with a new HOTLINE_SECRET_KEY: what was sealed before stays unreadable",
    )
    accept_key.set_defaults(func=_storage_accept_key)

    from carrier import commands as carrier_commands

    carrier_commands.register(commands)
    from voicemail import commands as voicemail_commands

    voicemail_commands.register(commands, load_vault=_voicemail_vault)
    from ops import commands as ops_commands

    ops_commands.register(commands, load_config=lambda: _load_or_report(Settings.from_env()))
    from hotline import doctor

    doctor.register(commands, load_config=lambda: _load_or_report(Settings.from_env()))
    return parser


def _config_check(args: argparse.Namespace) -> int:
    """Print every problem of a config file with its line; exit 1 when there are any."""
    path = Path(args.file) if args.file else Settings.from_env().config_path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
        return 1
    problems = check_config(text, str(path))
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    print(f"{path}: ok")
    return 0


def _classify(args: argparse.Namespace) -> int:
    """Print one JSON object: the area, crisis yes/no and confidence for a sentence."""
    config = _load_or_report(Settings.from_env())
    if config is None:
        return 1
    result = classify(args.text, config.lexicon, args.lang)
    print(
        json.dumps(
            {
                "area": result.area or config.general_area,
                "crisis": result.crisis,
                "confidence": round(result.confidence, 3),
                "matched_area": result.area is not None,
                "language": result.language,
                "phrases": list(result.matched),
                **_crisis_model_view(args.text, config.lexicon, args.lang, result.crisis_score),
            },
            ensure_ascii=False,
        )
    )
    return 0


def _crisis_model_view(
    text: str, lexicon: Lexicon, language: str | None, score: float | None
) -> dict[str, object]:
    """Say what the crisis model heard: its probability, threshold and strongest n-grams."""
    model = lexicon.crisis_model
    if model is None or score is None:
        return {"crisis_score": None}
    features = crisis_features(text, lexicon, model, language)
    masked = crisis_features(text, lexicon, model, language, masked=True)
    heard_by = []
    if classify(text, with_crisis_model(lexicon, None), language).crisis:
        heard_by.append("lexicon")
    # The model decides alone only if it still hears a crisis with its vetoes' spans masked.
    if min(model.probability(features), model.probability(masked)) >= model.threshold:
        heard_by.append("model")
    evidence = model.evidence(features)
    return {
        "crisis_score": score,
        "crisis_threshold": model.threshold,
        "crisis_by": heard_by,
        "crisis_evidence": [feature.split(":", 1)[1] for feature, _ in evidence],
    }


def _load_or_report(settings: Settings):
    """Load the hotline config, printing its problems instead of a traceback."""
    try:
        return read_hotline_config(settings.config_path)
    except (ProblemsError, StartupError) as error:
        print(str(error), file=sys.stderr)
        return None


def _roster_import(args: argparse.Namespace) -> int:
    """Check a roster file whole and for cover, apply and audit it; print every problem or gap."""
    from hotline.roster_file import import_roster_file
    from queues.audit import command_line_actor
    from queues.rostering import UncoveredRoster

    config = _load_or_report(Settings.from_env())
    url = configured_url() if config is not None else None
    if config is None or url is None:
        return 2
    # --by names who asked; the OS user stays beside it, so the log never loses who ran it.
    actor = f"{args.by} ({command_line_actor()})" if args.by else command_line_actor()
    try:
        done = import_roster_file(
            Path(args.file), config, url, actor=actor, presence=args.presence, force=args.force
        )
    except (ProblemsError, OSError) as error:
        print(str(error), file=sys.stderr)
        return 1
    except UncoveredRoster as refused:
        print(f"{args.file}: {refused}:", file=sys.stderr)
        for gap in refused.gaps:
            print(f"  {gap.describe()}", file=sys.stderr)
        print("import it with --force to apply it anyway (audited as forced)", file=sys.stderr)
        return 1
    report = done.report
    print(
        f"{args.file}: {report.total} agents ({len(report.added)} added, "
        f"{len(report.removed)} removed), {done.supervisors} supervisors"
    )
    if done.forced:
        print(
            f"forced: {len(done.gaps)} uncovered stretch(es) in the next 14 days (audited):",
            file=sys.stderr,
        )
        for gap in done.gaps:
            print(f"  {gap.describe()}", file=sys.stderr)
    return 0


def _roster_export(args: argparse.Namespace) -> int:
    """Print the roster as last imported, as YAML or CSV."""
    from queues.agents import AgentBoard
    from routing.roster import export_roster_csv, parse_roster

    config = _load_or_report(Settings.from_env())
    redis = from_environment() if config is not None else None
    if config is None or redis is None:
        return 2
    text = AgentBoard(redis, config.routing).roster_text()
    if text is None:
        print("no roster has been imported", file=sys.stderr)
        return 1
    if args.format == "csv":
        roster = parse_roster(
            text, source="roster.yaml", area_ids=config.areas, languages=config.languages
        )
        text = export_roster_csv(roster)
    sys.stdout.write(text)
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Run one benchmark from the checkout's tools/ folder and print its figures."""
    import importlib

    # The benchmarks live in the repository, not the installed packages; the editable install
    # maps the packages only, so the checkout's root goes on sys.path for tools/ to import.
    root = Path(__file__).resolve().parents[1]
    if not (root / "tools" / f"bench_{args.part}.py").is_file():
        print(
            "hotline bench needs a clone of the repository: tools/ is not installed",
            file=sys.stderr,
        )
        return 2
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    tool = importlib.import_module(f"tools.bench_{args.part}")
    if args.part == "routing":
        tool.run(args.redis_url)
    else:
        tool.run()
    return 0


def _fallback_twiml(args: argparse.Namespace) -> int:
    """Print the static fallback TwiML built from the config, or check a file against it."""
    from ivr.callers.menu_twiml import static_fallback

    config = _load_or_report(Settings.from_env())
    if config is None:
        return 1
    document = static_fallback(config).to_xml(xml_declaration=True) + "\n"
    if not args.check:
        sys.stdout.write(document)
        return 0
    if Path(args.check).read_text(encoding="utf-8") != document:
        print(
            f"{args.check} is out of date: hotline fallback-twiml > {args.check}", file=sys.stderr
        )
        return 1
    print(f"{args.check}: up to date")
    return 0


def _incidents_export(args: argparse.Namespace) -> int:
    """Print the crisis incidents opened between two times."""
    from queues.incidents import IncidentLog, export

    redis = from_environment()
    if redis is None:
        return 2
    try:
        start, end = _utc_epoch(args.start), _utc_epoch(args.end)
    except ValueError as error:
        print(f"bad time: {error}", file=sys.stderr)
        return 2
    incidents = IncidentLog(redis).between(start, end)
    sys.stdout.write(export(incidents, args.format))
    return 0


def _storage_accept_key(args: argparse.Namespace) -> int:
    """Take the secret in use as the one Redis is sealed under, clearing the key condition."""
    redis = from_environment()
    if redis is None:
        return 2
    sealing.KeyCheck(redis, sealing.current()).accept(datetime.now(UTC).timestamp())
    print("Redis is now sealed under this HOTLINE_SECRET_KEY; values sealed before stay unreadable")
    return 0


def _utc_epoch(text: str) -> float:
    """Read an ISO date or date-time (UTC unless it says otherwise) as epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _worker(args: argparse.Namespace) -> int:
    """Run the RQ worker against REDIS_URL, with the app's runtime and the routing sweep."""
    from hotline.app import create_app
    from ivr.state import app_runtime
    from queues import worker
    from queues.carrier_setup import schedule_queue_setup
    from queues.dispatch import schedule_sweep
    from queues.doctor import schedule_self_check
    from voicemail.jobs import schedule_periodic as schedule_voicemail_jobs

    url = os.environ.get("REDIS_URL")
    if not url:
        print("REDIS_URL is not set (hotline serve sets it for its worker)", file=sys.stderr)
        return 2
    app = create_app()
    rt = app_runtime(app)
    # A secret that changed since Redis was sealed says so at once, not call by call.
    sealing.KeyCheck(rt.redis, sealing.current()).run(rt.now())
    schedule_sweep(rt.redis, delay_s=1)
    schedule_self_check(rt.redis, delay_s=5)
    schedule_voicemail_jobs(rt.redis)
    # Twilio's queues are set up by a job behind any work already waiting, never before the
    # first job: crisis pages and rings queued while no worker ran go out first.
    schedule_queue_setup(rt.redis)
    worker.run(url, burst=args.burst)
    return 0


def _voicemail_vault():
    """The voicemail vault from VOICEMAIL_KEY and VOICEMAIL_DIR (or var/voicemail)."""
    from hotline.settings import secret
    from voicemail.runtime import open_vault

    settings = Settings.from_env()
    return open_vault(secret("VOICEMAIL_KEY", settings), settings.var_dir)


def _serve(args: argparse.Namespace) -> int:
    """Start Redis (embedded unless REDIS_URL), web server, worker and, in demo, the carrier."""
    from hotline.serve import Supervisor

    settings = Settings.from_env()
    problems = settings.problems()
    if problems:
        print("cannot start: " + "; ".join(problems), file=sys.stderr)
        return 2
    supervisor = Supervisor(
        settings,
        args.host,
        args.port,
        args.web_workers,
        args.carrier_port,
        ready_deadline_s=args.ready_timeout,
    )
    # A second serve on the same var dir stops here, before it reads or prints anything else.
    if not supervisor.take_var_dir():
        return 1
    if _load_or_report(settings) is None:
        return 2
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())

"""`hotline carrier` (the local Twilio stand-in) and `hotline call` (one simulated caller)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import time
from typing import Any

from hotline.commands import CommandError, Commands, settings
from hotline.running import carrier_url as running_carrier_url
from telephony.demo import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_CARRIER_PORT,
    DEMO_HOTLINE_NUMBER,
)

DEFAULT_TIME_SCALE = 0.05
DEFAULT_CALLER = "+8613800138000"


def register(commands: Commands) -> None:
    """Add the `carrier` and `call` commands."""
    carrier = commands.add(
        "carrier",
        "caller simulation",
        "run the local Twilio stand-in (REST API and call driver) on its own",
        description="Run the local Twilio stand-in: Twilio's REST subset plus a call driver "
        "that runs the hotline's TwiML. Reads TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
        "HOTLINE_NUMBER (demo values when unset). `hotline serve` runs one in demo mode.",
    )
    carrier.add_argument("--host", default="127.0.0.1", help="address to listen on")
    carrier.add_argument(
        "--port", type=int, default=DEMO_CARRIER_PORT, help=f"port ({DEMO_CARRIER_PORT})"
    )
    carrier.add_argument("--app-url", default="http://127.0.0.1:5000", help="the hotline app")
    carrier.add_argument("--voice-path", default="/voice", help="incoming-call webhook path")
    carrier.add_argument("--status-path", default="/voice/status", help="status callback path")
    fallback = carrier.add_mutually_exclusive_group()
    fallback.add_argument(
        "--fallback-path", default="/voice/fallback", help="the app's fallback path"
    )
    fallback.add_argument(
        "--fallback-twiml",
        metavar="FILE",
        help="static TwiML the carrier hosts itself (a TwiML Bin) as the number's fallback, as "
        "production hosts ivr/static/crisis-fallback.xml apart from the app",
    )
    carrier.add_argument("--public-url", help="the carrier's own URL as the app reaches it")
    carrier.add_argument("--agents", help="YAML of agent phones by number (default: demo phones)")
    carrier.add_argument(
        "--time-scale",
        type=float,
        default=os.environ.get("CARRIER_TIME_SCALE") or DEFAULT_TIME_SCALE,
        help="real seconds per call second (default: CARRIER_TIME_SCALE or "
        f"{DEFAULT_TIME_SCALE}; 1 is real time)",
    )
    carrier.add_argument(
        "--faults",
        default=os.environ.get("CARRIER_FAULTS"),
        help="fault plan: inline JSON or a JSON/YAML file (default: CARRIER_FAULTS)",
    )
    carrier.add_argument("--play-seconds", type=float, default=10.0, help="length of one <Play>")
    carrier.add_argument(
        "--webhook-timeout", type=float, default=15.0, help="real seconds to wait for the app"
    )
    carrier.set_defaults(func=run_carrier)

    call = commands.add(
        "call",
        "caller simulation",
        "place one simulated call to the hotline and print its transcript",
        description="Place one simulated call through the running carrier. --press, --say "
        "and --wait answer the prompts that wait for input, in the order given.",
    )
    call.add_argument("--from", dest="caller", default=DEFAULT_CALLER, help="caller's number")
    call.add_argument("--to", help="number called (default: the hotline number)")
    call.add_argument(
        "--press", action=_StepAction, kind="press", metavar="KEYS", help="press keys at a prompt"
    )
    call.add_argument(
        "--say", action=_StepAction, kind="say", metavar="TEXT", help="say words at a prompt"
    )
    call.add_argument("--wait", action=_StepAction, kind="wait", nargs=0, help="stay silent once")
    call.add_argument("--hangup-after", type=float, metavar="S", help="hang up after S seconds")
    call.add_argument(
        "--voicemail", metavar="FILE", help='what to say when recorded: a WAV, "speech", "silence"'
    )
    call.add_argument("--json", action="store_true", help="print the transcript as JSON")
    call.add_argument(
        "--carrier",
        help="carrier URL (default: TWILIO_API_BASE_URL, else the carrier of the hotline serve "
        f"running on HOTLINE_VAR_DIR, else port {DEMO_CARRIER_PORT})",
    )
    call.add_argument("--timeout", type=float, default=300.0, help="real seconds to wait")
    call.set_defaults(func=run_call, steps=None)


class _StepAction(argparse.Action):
    """Collect --press/--say/--wait into one ordered list of steps."""

    def __init__(self, option_strings: list[str], dest: str, kind: str, **kwargs: Any):
        self.kind = kind
        super().__init__(option_strings, "steps", **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from carrier.parties import Step

        steps = list(getattr(namespace, "steps", None) or [])
        try:
            steps.append(Step.parse({self.kind: values if self.kind != "wait" else True}))
        except ValueError as error:
            parser.error(str(error))
        namespace.steps = steps


def credentials() -> tuple[str, str, str]:
    """Return the account SID, auth token and hotline number, with demo values for unset ones."""
    return (
        os.environ.get("TWILIO_ACCOUNT_SID") or DEMO_ACCOUNT_SID,
        os.environ.get("TWILIO_AUTH_TOKEN") or DEMO_AUTH_TOKEN,
        os.environ.get("HOTLINE_NUMBER") or DEMO_HOTLINE_NUMBER,
    )


class _MaskNumbers(logging.Filter):
    """Mask phone numbers in log lines (request logs carry them in query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from carrier.transcript import mask_text

        record.msg = mask_text(record.getMessage())
        record.args = ()
        return True


def run_carrier(args: argparse.Namespace) -> int:
    """Run the carrier in the foreground until SIGTERM or SIGINT."""
    # The stand-in loads when run, so the rest of the command line does not wait for it.
    from carrier import bins, demo_agents_path
    from carrier.driver import Settings
    from carrier.faults import FaultPlan
    from carrier.parties import Directory
    from carrier.server import Carrier, Server
    from carrier.transcript import mask_text
    from hotline.running import port_taken

    account_sid, auth_token, hotline_number = credentials()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s carrier %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_MaskNumbers())
    try:
        plan = FaultPlan.from_spec(args.faults)
        directory = Directory.load(args.agents or demo_agents_path())
        fallback_twiml = bins.read_twiml(args.fallback_twiml) if args.fallback_twiml else None
        if args.time_scale <= 0:
            raise ValueError("--time-scale must be positive")
    except (OSError, ValueError) as error:
        raise CommandError(f"carrier: {' '.join(str(error).split())}", code=2) from None
    app_url = args.app_url.rstrip("/")
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    carrier_settings = Settings(
        account_sid=account_sid,
        auth_token=auth_token,
        hotline_number=hotline_number,
        voice_url=app_url + args.voice_path,
        status_url=app_url + args.status_path if args.status_path else None,
        fallback_url=app_url + args.fallback_path if args.fallback_path else None,
        public_url=public_url,
        play_seconds=args.play_seconds,
    )
    if fallback_twiml is not None:
        bins.host_fallback(carrier_settings, fallback_twiml)
    hub = Carrier.build(
        carrier_settings,
        directory=directory,
        time_scale=args.time_scale,
        faults=plan,
        webhook_timeout=args.webhook_timeout,
    )
    # Asked first: werkzeug prints its own two lines and exits when the port is taken.
    if port_taken(args.host, args.port):
        raise CommandError(
            f"carrier: cannot listen on {args.host}:{args.port}, something else does: "
            "stop it, or give --port"
        )
    try:
        server = Server(hub, args.host, args.port)
    except OSError as error:
        raise CommandError(
            f"carrier: cannot listen on {args.host}:{args.port} ({error.strerror}): "
            "stop what uses it, or give --port"
        ) from None
    print(
        mask_text(
            f"carrier on {public_url} for {hotline_number}, app at {app_url}, "
            f"{len(directory.phones)} phones, time scale {args.time_scale}, "
            f"fallback {carrier_settings.fallback_url or 'none'}"
        ),
        flush=True,
    )
    # The stand-in's modules and settings last as long as it: frozen out of the collector, they
    # are not walked in each collection, nor once more as it exits.
    gc.freeze()
    server.run_until_signal()
    return 0


def carrier_url(explicit: str | None) -> str:
    """Where `hotline call` finds the carrier: as given, the configured one, or serve's own."""
    return (
        explicit or os.environ.get("TWILIO_API_BASE_URL") or running_carrier_url(settings().var_dir)
    ).rstrip("/")


def run_call(args: argparse.Namespace) -> int:
    """Place one simulated call, wait for it to end, and print its transcript."""
    import requests

    from carrier.parties import Script
    from carrier.transcript import render

    account_sid, auth_token, _ = credentials()
    base = carrier_url(args.carrier)
    script = Script(
        steps=tuple(args.steps or ()),
        hangup_after=args.hangup_after,
        voicemail=args.voicemail,
    )
    auth = (account_sid, auth_token)
    body: dict[str, Any] = {"from": args.caller, "script": script.to_dict()}
    if args.to:
        body["to"] = args.to
    try:
        placed = requests.post(f"{base}/carrier/calls", json=body, auth=auth, timeout=10)
        if placed.status_code != 201:
            refusal = " ".join(placed.text.split())
            raise CommandError(f"call: the carrier refused the call: {refusal}")
        call_sid = placed.json()["call_sid"]
        deadline = time.monotonic() + args.timeout
        while True:
            remaining = deadline - time.monotonic()
            reply = requests.get(
                f"{base}/carrier/calls/{call_sid}/wait",
                params={"timeout": max(min(remaining, 30.0), 0.0)},
                auth=auth,
                timeout=40,
            )
            if reply.status_code == 200 or remaining <= 0:
                break
    except requests.RequestException as error:
        raise CommandError(
            f"call: cannot reach the carrier at {base} ({type(error).__name__}): is hotline "
            "serve running in demo mode? (or give --carrier URL)"
        ) from None
    data = reply.json()
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else render(data))
    if reply.status_code != 200:
        raise CommandError("call: the call had not ended when the wait ran out (--timeout)")
    return 0

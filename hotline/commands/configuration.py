"""`hotline config check`, `hotline classify` and `hotline fallback-twiml`: what the config says."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.commands import CommandError, Commands, load_config, settings

if TYPE_CHECKING:
    from routing.classifier import Lexicon


def register(commands: Commands) -> None:
    """Add `config check`, `classify` and `fallback-twiml`."""
    config = commands.add("config", "set-up", "work with the hotline configuration file")
    config_commands = config.add_subparsers(title="config commands", metavar="CONFIG_COMMAND")
    check = config_commands.add_parser("check", help="report every problem in a config file")
    check.add_argument("file", nargs="?", help="YAML file (default: HOTLINE_CONFIG or shipped)")
    check.set_defaults(func=_config_check)

    classify_command = commands.add(
        "classify",
        "caller simulation",
        "sort a sentence into a legal area, as the menu hears a caller",
        description="Print one JSON object: the legal area a caller's sentence is sorted into, "
        "whether it is heard as a crisis, the confidence and the phrases and n-grams that "
        "decided it.",
    )
    classify_command.add_argument(
        "--lang", choices=("zh", "en"), default=None, help="the caller's language (default: guess)"
    )
    classify_command.add_argument("text", help="what the caller said")
    classify_command.set_defaults(func=_classify)

    fallback = commands.add(
        "fallback-twiml", "set-up", "print the static TwiML for the number's Voice Fallback URL"
    )
    fallback.add_argument(
        "--base-url",
        metavar="URL",
        default=None,
        help="the app's public base URL: each crisis line reports to it, so the supervisors "
        "are alerted (default: PUBLIC_BASE_URL; '' for none, as the shipped file)",
    )
    fallback.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from it")
    fallback.set_defaults(func=_fallback_twiml)


def _config_check(args: argparse.Namespace) -> int:
    """Print every problem of a config file with its line; exit 1 when there are any."""
    from routing.config import check_config

    path = Path(args.file) if args.file else settings().config_path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror}") from None
    problems = check_config(text, str(path))
    # The one command that lists every problem: finding them all at once is its purpose.
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    print(f"{path}: ok")
    return 0


def _classify(args: argparse.Namespace) -> int:
    """Print one JSON object: the area, crisis yes/no and confidence for a sentence."""
    from routing.classifier import classify

    config = load_config()
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
    from routing.classifier import classify, crisis_features, with_crisis_model

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


def _fallback_twiml(args: argparse.Namespace) -> int:
    """Print the static fallback TwiML built from the config, or check a file against it."""
    from ivr.crisis.fallback import fallback_document

    base_url = settings().public_base_url if args.base_url is None else args.base_url
    if base_url and not base_url.startswith(("https://", "http://")):
        raise CommandError(f"--base-url {base_url}: not an http(s) URL", code=2)
    document = fallback_document(load_config(), base_url or None)
    if not args.check:
        sys.stdout.write(document)
        return 0
    try:
        current = Path(args.check).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"{args.check}: cannot read: {error.strerror}") from None
    if current != document:
        raise CommandError(
            f"{args.check} is out of date: hotline fallback-twiml > {args.check}", code=1
        )
    print(f"{args.check}: up to date")
    return 0

"""The Flask app: create_app(), config, the CLI, and the phone menu's Twilio webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from hotline import edge, logs
from hotline.settings import Settings, StartupError, read_hotline_config, secret


def utc_now() -> datetime:
    """The real clock; tests replace it through the CLOCK setting."""
    return datetime.now(UTC)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the hotline app; refuses to start on a broken config or missing secret."""
    app = Flask(__name__)
    settings = Settings.from_env()
    problems = settings.problems()
    if problems:
        raise StartupError("; ".join(problems))
    app.config.from_mapping(
        SETTINGS=settings,
        CLOCK=utc_now,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env("HOTLINE")
    if test_config:
        app.config.from_mapping(test_config)
    settings = app.config["SETTINGS"]
    # Greetings answer from the process's copy of the screening data and write the call's start
    # behind (ivr/callers/screening.py); tests that build an app turn it on where they test it.
    app.config.setdefault("GREETING_FROM_MEMORY", not app.config.get("TESTING"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret("HOTLINE_SECRET_KEY", settings)
    if "HOTLINE" not in app.config:
        app.config["HOTLINE"] = read_hotline_config(settings.config_path)
    logs.configure()
    edge.install(app)

    from hotline import demo_phone, health, metrics
    from hotline import runtime as hotline_runtime
    from ivr.agents import bridge
    from ivr.agents import keypad_line as agent_line
    from ivr.agents import legs as agent_calls
    from ivr.callers import live_audio, survey
    from ivr.callers import webhooks as voice
    from ivr.callers.live_transcript import bp as live_transcript_bp
    from ivr.crisis import fallback as crisis_fallback
    from ivr.crisis import webhooks as crisis
    from ivr.supervisors import listen_in as listen_in_legs

    hotline_runtime.init_app(app)
    app.register_blueprint(voice.bp)
    app.register_blueprint(crisis.bp)
    app.register_blueprint(crisis_fallback.bp)
    app.register_blueprint(agent_calls.bp)
    app.register_blueprint(bridge.bp)
    app.register_blueprint(survey.bp)
    app.register_blueprint(agent_line.bp)
    app.register_blueprint(listen_in_legs.bp)
    app.register_blueprint(live_transcript_bp)
    # The bridged caller's audio stream (a WebSocket on the same app and gunicorn threads).
    live_audio.init_app(app)
    app.register_blueprint(demo_phone.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    from voicemail import playback, webhooks
    from voicemail import runtime as voicemail_runtime

    voicemail_runtime.init_app(app, key=secret("VOICEMAIL_KEY", settings))
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(playback.bp)
    from ops import (
        accounts,
        api,
        console,
        desk,
        escalation,
        feeds,
        followups,
        inbox,
        listen_in,
        monitoring,
        opening,
        planning,
        reports,
        safety,
        staffing,
    )

    # The console's shell and the API's document, then one blueprint per feature (pages and API).
    for blueprint in (
        console.bp,
        api.bp,
        staffing.bp,
        opening.bp,
        planning.bp,
        reports.bp,
        monitoring.bp,
        listen_in.bp,
        accounts.bp,
        desk.bp,
        escalation.bp,
        safety.bp,
        inbox.bp,
        followups.bp,
        feeds.bp,
    ):
        app.register_blueprint(blueprint)
    # A person's data (export, erasure) and the legal hold on incidents, for supervisors.
    from ops import person_data

    app.register_blueprint(person_data.bp)
    # Recorded consultations, for supervisors (signed, audited links to each recording).
    from ops import recordings

    app.register_blueprint(recordings.bp)
    # The statutes knowledge base: its page and API, supervisors' edits, the desk's panel.
    from pathlib import Path

    from ops import statutes

    app.config.setdefault("STATUTES_FILE", str(Path(__file__).with_name("statutes.yaml")))
    app.register_blueprint(statutes.bp)
    # Live assist on the agent's desk: the call's feed as server-sent events, the facts said.
    from ops import live_desk

    app.register_blueprint(live_desk.bp)
    return app


Clock = Callable[[], datetime]

"""The voicemail runtime of a process, built on the app's runtime: Twilio's copies, the vault.

`init_app` is called by the app factory, so the web process (webhooks, playback) and the worker
(which builds the app before it starts) get the same runtime. Jobs and webhooks build it on
first use. Urgent and crisis messages page the on-call supervisor through the crisis alerts.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from flask import Flask

from queues import alerts, events
from queues import runtime as routing_runtime
from routing.config import HotlineConfig
from voicemail import callbacks, jobs
from voicemail.messages import Message
from voicemail.mirror import MirroredVault
from voicemail.object_store import (
    ObjectStoreSettings,
    bucket_trouble,
    is_object_location,
    open_target,
)
from voicemail.processing import TWILIO_API, Notify, Options
from voicemail.recordings import GatewaySource
from voicemail.retention import RetentionRules
from voicemail.vault import Vault

log = logging.getLogger(__name__)

EXTENSION = "voicemail"


def init_app(app: Flask, *, key: str) -> None:
    """Install the voicemail runtime of this process (web or worker), built on first use."""
    app.extensions[EXTENSION] = None
    app.extensions["voicemail_key"] = key
    jobs.use_runtime(lambda: build(app))


def folder(app: Flask) -> Path:
    """Where the app keeps encrypted messages: VOICEMAIL_DIR, else var/voicemail."""
    return vault_folder(app.config["SETTINGS"].var_dir, app.config.get("VOICEMAIL_DIR"))


def vault_folder(var_dir: Path, chosen: str | None = None) -> Path:
    """Where encrypted messages are kept: the given folder, VOICEMAIL_DIR, else var/voicemail."""
    chosen = chosen or os.environ.get("VOICEMAIL_DIR")
    return Path(chosen) if chosen else var_dir / "voicemail"


def copy_folder(app: Flask) -> Path:
    """The second storage target: HOTLINE_VAULT_COPY_DIR, VAULT_COPY_DIR, else var/vault-copy."""
    chosen = app.config.get("VAULT_COPY_DIR") or os.environ.get("VAULT_COPY_DIR")
    return Path(chosen) if chosen else app.config["SETTINGS"].var_dir / "vault-copy"


def storage_target(app: Flask) -> str | Path:
    """The first storage target: HOTLINE_STORAGE (a folder or s3://bucket/prefix), else folder."""
    return app.config["SETTINGS"].storage or folder(app)


def copy_target(app: Flask) -> str | Path:
    """The second storage target: HOTLINE_STORAGE_COPY (a folder or s3://...), else the folder."""
    return app.config["SETTINGS"].storage_copy or copy_folder(app)


def open_vault(key: str, var_dir: Path) -> Vault:
    """The first target's vault outside an app (the inbox commands)."""
    chosen = os.environ.get("HOTLINE_STORAGE")
    if chosen:
        return open_target(chosen, key, settings=object_store_settings(chosen))
    return Vault(vault_folder(var_dir), key)


def storage_trouble(storage: str | None, storage_copy: str | None) -> list[str]:
    """Why each bucket among the storage targets cannot be used now (`hotline doctor`)."""
    buckets = [target for target in (storage, storage_copy) if is_object_location(target)]
    reach = object_store_settings(*buckets)
    found = [bucket_trouble(target, reach) for target in buckets if reach is not None]
    return [line for line in found if line]


def object_store_settings(*targets: str | Path) -> ObjectStoreSettings | None:
    """How to reach the object storage when a target is a bucket (HOTLINE_S3_*, AWS_*)."""
    if not any(is_object_location(target) for target in targets):
        return None
    return ObjectStoreSettings.from_env(os.environ)


def vault(app: Flask) -> Vault:
    """The app's vault of encrypted messages."""
    return build(app).vault


def build(app: Flask) -> jobs.Runtime:
    """The voicemail runtime of an app, built once from its settings and the app's runtime."""
    built = app.extensions.get(EXTENSION)
    if built is not None:
        return built
    shared = routing_runtime.of(app)
    settings = app.config["SETTINGS"]
    config: HotlineConfig = app.config["HOTLINE"]
    key = app.extensions["voicemail_key"]
    first, second = storage_target(app), copy_target(app)
    reach = object_store_settings(first, second)
    copy = open_target(second, key, settings=reach)
    built = jobs.Runtime(
        redis=shared.redis,
        source=GatewaySource(shared.gateway),
        # Every message is kept twice (a folder or a bucket each), both checked.
        vault=MirroredVault.of(open_target(first, key, settings=reach), copy),
        # Credentials only ever go to the API host the gateway is configured for.
        options=Options(allowed_origins=(settings.api_base_url or TWILIO_API,)),
        retention=RetentionRules(
            keep_days=config.voicemail.keep_days,
            empty_keep_days=config.voicemail.empty_keep_days,
        ),
        lexicon=config.lexicon,
        notify=pager(shared),
        clock=shared.clock,
        on_ready=lambda message: callbacks.schedule(shared, message),
        copy_vault=copy,
    )
    app.extensions[EXTENSION] = built
    return built


def pager(shared: routing_runtime.Runtime) -> Notify:
    """Page the on-call supervisor for an urgent or crisis message, or a full disk."""

    def notify(kind: str, message: Message) -> None:
        now = shared.clock()
        language = message.language or shared.config.default_language
        call = message.call_sid or f"voicemail-{message.recording_sid}"
        if kind == "crisis":
            # Crisis words in a message start the crisis path's alerting, like a live call.
            alerts.open_crisis(
                shared.redis, call, trigger="voicemail", language=language, now=now.timestamp()
            )
        elif kind == "urgent":
            alerts.raise_alert(
                shared.redis,
                call,
                trigger="voicemail-urgent",
                language=language,
                now=now.timestamp(),
            )
        else:
            # One page a day for a full disk is enough: every new message would repeat it.
            alerts.raise_alert(
                shared.redis,
                f"voicemail-{kind}-{_day(now)}",
                trigger=f"voicemail-{kind}",
                language=language,
                now=now.timestamp(),
            )
        events.append(shared.redis, "voicemail_paged", recording=message.recording_sid, reason=kind)
        log.warning("voicemail %s: supervisor paged (%s)", message.recording_sid, kind)

    return notify


def _day(now: datetime) -> str:
    """The date of a time, for one alert a day."""
    return now.strftime("%Y%m%d")

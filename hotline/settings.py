"""The config contract: settings from the environment (and .env), secrets, the hotline config."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from queues.connection import RedisUrlError, check_url
from routing.classifier import with_crisis_model
from routing.config import HotlineConfig, load_config
from routing.crisis_model import CrisisModel, CrisisModelError, model_from_data
from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, DEMO_HOTLINE_NUMBER
from voicemail.object_store import Location

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).with_name("hotline.yaml")
# The learned crisis scorer's weights, looked for next to the config file.
CRISIS_MODEL_NAME = "crisis_model.json"
# The secrets production mode must be given (demo mode makes its own under var/secrets/).
PRODUCTION_SECRETS = ("HOTLINE_SECRET_KEY", "VOICEMAIL_KEY")


class StartupError(RuntimeError):
    """A setting that must be fixed before the hotline can take calls."""


@dataclass(frozen=True)
class Settings:
    """Everything the environment decides; read once at start-up."""

    redis_url: str | None
    account_sid: str
    auth_token: str
    api_base_url: str | None
    hotline_number: str
    public_base_url: str | None
    config_path: Path
    var_dir: Path
    demo: bool
    # The voicemail storage targets as given: a folder or s3://bucket/prefix (None: the folders).
    storage: str | None = None
    storage_copy: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the settings; demo mode when no Twilio account is configured."""
        env = os.environ if environ is None else environ
        demo = not env.get("TWILIO_ACCOUNT_SID")
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            account_sid=env.get("TWILIO_ACCOUNT_SID") or DEMO_ACCOUNT_SID,
            # A token given in demo mode still signs and checks the webhooks.
            auth_token=env.get("TWILIO_AUTH_TOKEN") or (DEMO_AUTH_TOKEN if demo else ""),
            api_base_url=env.get("TWILIO_API_BASE_URL") or None,
            hotline_number=env.get("HOTLINE_NUMBER") or DEMO_HOTLINE_NUMBER,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            config_path=Path(env.get("HOTLINE_CONFIG") or DEFAULT_CONFIG),
            var_dir=Path(env.get("HOTLINE_VAR_DIR") or Path.cwd() / "var"),
            demo=demo,
            storage=env.get("HOTLINE_STORAGE") or None,
            storage_copy=env.get("HOTLINE_STORAGE_COPY") or None,
        )

    def problems(self) -> list[str]:
        """List settings that stop a start: an unreadable REDIS_URL, a token-less account."""
        found = []
        if self.redis_url:
            try:
                check_url(self.redis_url)
            except RedisUrlError as error:
                found.append(str(error))
        for name, target in (
            ("HOTLINE_STORAGE", self.storage),
            ("HOTLINE_STORAGE_COPY", self.storage_copy),
        ):
            # A URL names object storage: only s3:// is spoken, and it must name a bucket.
            if target and "://" in target:
                try:
                    Location.parse(target)
                except ValueError as error:
                    found.append(f"{name}: {error}")
        if not self.demo and not self.auth_token:
            found.append(
                "TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID (it signs webhooks)"
            )
        return found

    def missing_secrets(self, environ: dict[str, str] | None = None) -> list[str]:
        """Say which secrets production mode needs and the environment lacks (none in demo)."""
        env = os.environ if environ is None else environ
        missing = [name for name in PRODUCTION_SECRETS if not env.get(name)]
        if self.demo or not missing:
            return []
        return [
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: production "
            "mode (TWILIO_ACCOUNT_SID is set) needs every secret given (see README, Config)"
        ]


# Configs this process built, by the text of the config and of its crisis model: `hotline serve`
# reads the config three times as it starts, and compiling the lexicon is most of a read.
_built: dict[tuple[str, str, str, bytes | None], HotlineConfig] = {}


def read_hotline_config(path: Path) -> HotlineConfig:
    """Load and check the hotline config file; raises ProblemsError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise StartupError(f"cannot read HOTLINE_CONFIG {path}: {error.strerror}") from None
    key = (str(path), text, *_model_source(path))
    if key in _built:
        return _built[key]
    config = load_config(text, str(path))
    model = read_crisis_model(path)
    if model is not None:
        config = replace(config, lexicon=with_crisis_model(config.lexicon, model))
    _built.clear()
    _built[key] = config
    return config


def _model_source(config_path: Path) -> tuple[str, bytes | None]:
    """The crisis model setting and the bytes of the file it names (None when unreadable)."""
    setting, path = _crisis_model_path(config_path, os.environ)
    if path is None:
        return setting, None
    try:
        return setting, path.read_bytes()
    except OSError:
        return setting, None


def _crisis_model_path(config_path: Path, env: Mapping[str, str]) -> tuple[str, Path | None]:
    """HOTLINE_CRISIS_MODEL as set, and the model file it means (None when it is "off")."""
    setting = (env.get("HOTLINE_CRISIS_MODEL") or "").strip()
    if setting.lower() == "off":
        return setting, None
    return setting, Path(setting) if setting else config_path.with_name(CRISIS_MODEL_NAME)


def read_crisis_model(
    config_path: Path, environ: dict[str, str] | None = None
) -> CrisisModel | None:
    """Load the crisis model: HOTLINE_CRISIS_MODEL (a path, or "off"), else the one by the config.

    Without the setting and without crisis_model.json next to the config, crisis words are
    heard by the lexicon alone; a model file that is named or present but unreadable or
    malformed stops the start.
    """
    setting, path = _crisis_model_path(config_path, os.environ if environ is None else environ)
    if path is None:
        return None
    if not setting and not path.exists():
        log.warning("no crisis model at %s: crisis words are heard by the lexicon alone", path)
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise StartupError(f"cannot read the crisis model {path}: {error.strerror}") from None
    except ValueError as error:
        raise StartupError(f"crisis model {path} is not valid JSON: {error}") from None
    try:
        return model_from_data(data, f"crisis model {path}")
    except CrisisModelError as error:
        raise StartupError(str(error)) from None


def secret(name: str, settings: Settings, environ: dict[str, str] | None = None) -> str:
    """Return a secret from the environment; in demo mode make one under var/ on first use."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    if not settings.demo:
        raise StartupError(
            f"{name} is not set; production mode (TWILIO_ACCOUNT_SID is set) needs it "
            "(see README, Config)"
        )
    path = settings.var_dir / "secrets" / name.lower()
    # The folder and every secret in it are the owner's alone, those an older version left too.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    # Written whole to a private temporary file, then linked into place: no other user can read
    # it at any moment, and no other process of this hotline reads it half-written.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(value)
    try:
        os.link(temporary, path)
    except FileExistsError:
        # Another process made it first: theirs is the one every process of the hotline uses.
        return path.read_text().strip()
    finally:
        temporary.unlink()
    log.warning("%s was not set: generated one in %s (demo mode only)", name, path)
    return value

"""Console users in Redis: roles, hashed passwords, console sessions and hashed API tokens.

Passwords are hashed with scrypt. API tokens are shown once and kept only as a plain SHA-256
digest: a token is 256 random bits, so no dictionary or brute force can reverse its digest, and a
slow hash or an HMAC would add latency to every request and nothing else. Every token expires
(90 days unless set at creation); one stored before tokens expired gets 90 days from its first
use after the upgrade, with a warning in the log, so no automation is locked out unannounced.

Each user has a `generation`, a random id made when the user is created and made anew when the
password or the role changes or the user signs out everywhere. A console session is a record in
Redis that names the generation it was started in; a session whose record is gone (signed out)
or whose generation is no longer the user's (changed, removed, or removed and made again under
the same name) is over, whatever cookie the browser still holds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from redis import Redis
from werkzeug.security import check_password_hash, generate_password_hash

from queues import keys
from queues.ratelimit import announce_lockout

log = logging.getLogger(__name__)

ROLES = ("ops", "supervisor", "agent")
TOKEN_PREFIX = "hl_"
MIN_PASSWORD = 10
# A token's life in days: the default, and the longest one may ask for.
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
MAX_TOKEN_NAME = 80
# Tokens expired this long ago drop off the list when the user next makes one.
EXPIRED_KEPT_S = 30 * 86400
# A token's last use is written at most this often, so checking a token stays a read.
LAST_USE_EVERY_S = 60
# Unknown tokens accepted from one address in a window before it is held.
BAD_TOKENS_PER_SOURCE = 20
BAD_TOKEN_WINDOW_S = 900
DAY_S = 86400
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@cache
def _dummy_hash() -> str:
    """A real hash to check against when the user does not exist, so timing does not tell.

    Made on first use, not at import: scrypt takes a sizeable fraction of a second, and most
    processes importing this module (the worker, the CLI) never check a password.
    """
    return generate_password_hash("not-a-password", method="scrypt")


@dataclass(frozen=True)
class User:
    """A console user: name, role and, for agents, the roster agent they are."""

    name: str
    role: str
    agent_id: str
    created_at: float

    def public(self) -> dict[str, object]:
        """The user as the API shows it (no hash)."""
        return {
            "name": self.name,
            "role": self.role,
            "agent_id": self.agent_id or None,
            "created_at": self.created_at,
        }


class UserError(ValueError):
    """A user field that cannot be accepted; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UserExists(UserError):
    """A user of that name already exists."""


def check_user_fields(name: str, role: str, agent_id: str | None, password: str) -> None:
    """Raise UserError naming the first field that is not acceptable."""
    if not _NAME.match(name or ""):
        raise UserError("name", "use letters, digits, '.', '_', '@' or '-' (at most 64)")
    check_role(role, agent_id)
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password", f"at least {MIN_PASSWORD} characters")


def check_role(role: str, agent_id: str | None) -> None:
    """Raise UserError unless the role is known and only agents are linked to an agent."""
    if role not in ROLES:
        raise UserError("role", f"expected one of {', '.join(ROLES)}")
    if role == "agent" and not agent_id:
        raise UserError("agent_id", "an agent user must be linked to a roster agent id")
    if role != "agent" and agent_id:
        raise UserError("agent_id", "only agent users are linked to a roster agent")


def token_digest(token: str) -> str:
    """The digest a token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(digest: str) -> str:
    """The short id a token is listed and revoked by: the head of its digest, not the token."""
    return digest[:16]


def check_token_fields(label: object, days: object) -> None:
    """Raise UserError naming a token field that is not acceptable."""
    if not isinstance(label, str) or len(label) > MAX_TOKEN_NAME:
        raise UserError("name", f"a name of at most {MAX_TOKEN_NAME} characters")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise UserError("days", f"a whole number of days from 1 to {MAX_TOKEN_DAYS}")


@dataclass(frozen=True)
class TokenInfo:
    """An API token as its owner sees it: never the token itself, only what it is called."""

    id: str
    user: str
    name: str
    created_at: float
    expires_at: float
    last_used_at: float | None
    last_used_from: str

    def public(self, now: float) -> dict[str, Any]:
        """The token as the API shows it."""
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "expired": now >= self.expires_at,
            "last_used_at": self.last_used_at,
            "last_used_from": self.last_used_from or None,
        }


@dataclass(frozen=True)
class TokenCheck:
    """What a presented bearer token turned out to be: whose, or why not."""

    user: User | None
    # "" (good), "unknown" (no such token), "expired", or "held" (too many unknown tokens from
    # this address: nothing is looked up until retry_after seconds have passed).
    problem: str = ""
    token: TokenInfo | None = None
    retry_after: int = 0


def _token_info(digest: str, fields: dict[str, str]) -> TokenInfo:
    """A token's stored fields as a TokenInfo."""
    last = fields.get("last_used_at")
    return TokenInfo(
        id=token_id(digest),
        user=fields.get("user", ""),
        name=fields.get("name", ""),
        created_at=float(fields.get("created_at", 0)),
        expires_at=float(fields.get("expires_at", 0)),
        last_used_at=float(last) if last else None,
        last_used_from=fields.get("last_used_from", ""),
    )


def _day(epoch: float) -> str:
    """An epoch time as a UTC date and time for log lines."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


# Starts a session in the user's current generation, giving a user from before generations one
# first. KEYS: the user, the session. ARGV: a fresh generation, name, start, lifetime. Nothing
# (nil) when the user is gone.
_START_SESSION = """
if redis.call('HEXISTS', KEYS[1], 'password') == 0 then return false end
redis.call('HSETNX', KEYS[1], 'generation', ARGV[1])
local generation = redis.call('HGET', KEYS[1], 'generation')
redis.call('HSET', KEYS[2], 'user', ARGV[2], 'generation', generation, 'started_at', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return generation
"""
# Looks a bearer token up and counts an unknown one against the address it came from, in one
# step: no burst of requests can slip between reading the count and raising it. KEYS: the token,
# the address's counter. ARGV: the limit, the window, the expiry for a token stored without one.
_CHECK_TOKEN = """
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[1]) then
  return {'held', redis.call('TTL', KEYS[2])}
end
if redis.call('HEXISTS', KEYS[1], 'user') == 0 then
  local count = redis.call('INCR', KEYS[2])
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
  return {'unknown', count}
end
local given = redis.call('HSETNX', KEYS[1], 'expires_at', ARGV[3])
return {'known', given, unpack(redis.call('HGETALL', KEYS[1]))}
"""


class UserStore:
    """Reads and writes console users and tokens; the only owner of their keys."""

    def __init__(
        self,
        redis: Redis,
        *,
        password_method: str = "scrypt",
        bad_tokens_per_source: int = BAD_TOKENS_PER_SOURCE,
        bad_token_window_s: int = BAD_TOKEN_WINDOW_S,
    ):
        self.redis = redis
        self.password_method = password_method
        self.bad_tokens_per_source = bad_tokens_per_source
        self.bad_token_window_s = bad_token_window_s
        self._start_session = redis.register_script(_START_SESSION)
        self._check_token = redis.register_script(_CHECK_TOKEN)

    def add(
        self, name: str, role: str, password: str, now: float, *, agent_id: str | None = None
    ) -> User:
        """Create a user; raises UserExists or UserError."""
        check_user_fields(name, role, agent_id, password)
        fields = {
            "role": role,
            "agent_id": agent_id or "",
            "password": generate_password_hash(password, method=self.password_method),
            "created_at": repr(now),
            # New for every user made, so a name used again does not revive old sessions.
            "generation": _generation(),
        }
        # HSETNX on the role claims the name atomically; the rest follows in one step.
        if not self.redis.hsetnx(keys.user(name), "role", role):
            raise UserExists("name", f"user {name!r} already exists")
        pipe = self.redis.pipeline()
        pipe.hset(keys.user(name), mapping=fields)
        pipe.sadd(keys.users(), name)
        pipe.execute()
        return User(name, role, agent_id or "", now)

    def get(self, name: str) -> User | None:
        """Return a user, or None."""
        raw = self.redis.hgetall(keys.user(name))
        if not raw or b"password" not in raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return User(name, data["role"], data.get("agent_id", ""), float(data["created_at"]))

    def all(self) -> list[User]:
        """Every user, by name."""
        found = (self.get(name.decode()) for name in sorted(self.redis.smembers(keys.users())))
        return [user for user in found if user is not None]

    def check_password(self, name: str, password: str) -> User | None:
        """Return the user when the password is right, else None (same work either way)."""
        stored = self.redis.hget(keys.user(name), "password")
        hashed = stored.decode() if stored else _dummy_hash()
        if not check_password_hash(hashed, password) or stored is None:
            return None
        return self.get(name)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password, which ends every console session of theirs."""
        if len(password or "") < MIN_PASSWORD:
            raise UserError("password", f"at least {MIN_PASSWORD} characters")
        if self.get(name) is None:
            raise UserError("name", f"no user {name!r}")
        hashed = generate_password_hash(password, method=self.password_method)
        self.redis.hset(keys.user(name), mapping={"password": hashed, "generation": _generation()})

    def set_role(self, name: str, role: str, *, agent_id: str | None = None) -> User:
        """Change a user's role (and linked agent), which ends every console session of theirs."""
        user = self.get(name)
        if user is None:
            raise UserError("name", f"no user {name!r}")
        check_role(role, agent_id)
        fields = {"role": role, "agent_id": agent_id or "", "generation": _generation()}
        self.redis.hset(keys.user(name), mapping=fields)
        return User(name, role, agent_id or "", user.created_at)

    def end_sessions(self, name: str) -> bool:
        """Sign a user out everywhere (a new generation); False when there is no such user."""
        if self.get(name) is None:
            return False
        self.redis.hset(keys.user(name), "generation", _generation())
        return True

    def start_session(self, name: str, now: float, *, lifetime_s: int) -> str | None:
        """Start a console session and return its id (None if the user is gone meanwhile)."""
        session_id = secrets.token_urlsafe(32)
        # Redis forgets the record after the longest lifetime; the app's clock ends it sooner.
        started = self._start_session(
            keys=[keys.user(name), keys.console_session(token_digest(session_id))],
            args=[_generation(), name, repr(now), max(1, int(lifetime_s))],
        )
        return session_id if started else None

    def session_user(self, session_id: str, name: str) -> User | None:
        """The user of a live session: its record is there and in the user's generation."""
        pipe = self.redis.pipeline()
        pipe.hmget(keys.console_session(token_digest(session_id)), ["user", "generation"])
        pipe.hget(keys.user(name), "generation")
        (owner, generation), current = pipe.execute()
        if owner is None or owner.decode() != name or not current or generation != current:
            return None
        return self.get(name)

    def end_session(self, session_id: str) -> None:
        """Sign one session out."""
        self.redis.delete(keys.console_session(token_digest(session_id)))

    def remove(self, name: str) -> bool:
        """Delete a user and every token of theirs; False when there was none."""
        digests = [d.decode() for d in self.redis.smembers(keys.user_tokens(name))]
        pipe = self.redis.pipeline()
        pipe.delete(keys.user(name), keys.user_tokens(name))
        pipe.srem(keys.users(), name)
        for digest in digests:
            pipe.delete(keys.api_token(digest))
        removed = pipe.execute()[0]
        return bool(removed)

    def create_token(
        self, name: str, now: float, *, label: str = "", days: int = TOKEN_DAYS
    ) -> str:
        """Make a named API token that expires; the token is returned once, never stored."""
        return self.issue_token(name, now, label=label, days=days)[0]

    def issue_token(
        self, name: str, now: float, *, label: str = "", days: int = TOKEN_DAYS
    ) -> tuple[str, TokenInfo]:
        """Make a named API token that expires: the token (shown once) and how it is listed."""
        check_token_fields(label, days)
        if self.get(name) is None:
            raise UserError("name", f"no user {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(token)
        fields = {
            "user": name,
            "name": label.strip(),
            "created_at": repr(now),
            "expires_at": repr(now + days * DAY_S),
        }
        stale = [d for d, t in self._stored_tokens(name) if t.expires_at < now - EXPIRED_KEPT_S]
        pipe = self.redis.pipeline()
        pipe.hset(keys.api_token(digest), mapping=fields)
        pipe.sadd(keys.user_tokens(name), digest)
        for old in stale:
            self._forget_token(pipe, name, old)
        pipe.execute()
        return token, _token_info(digest, fields)

    def tokens(self, name: str) -> list[TokenInfo]:
        """A user's tokens, oldest first (expired ones too, marked by their expiry)."""
        found = [info for _, info in self._stored_tokens(name)]
        return sorted(found, key=lambda token: (token.created_at, token.name, token.id))

    def _stored_tokens(self, name: str) -> list[tuple[str, TokenInfo]]:
        """Each token of a user's with its digest."""
        digests = sorted(d.decode() for d in self.redis.smembers(keys.user_tokens(name)))
        pipe = self.redis.pipeline()
        for digest in digests:
            pipe.hgetall(keys.api_token(digest))
        found = []
        for digest, raw in zip(digests, pipe.execute(), strict=True):
            if raw:
                fields = {k.decode(): v.decode() for k, v in raw.items()}
                found.append((digest, _token_info(digest, fields)))
        return found

    def revoke_token(self, name: str, wanted: str) -> TokenInfo | None:
        """Revoke one of a user's tokens by its id; the token as it was, or None if none."""
        digest = self._digest_of(name, wanted)
        if digest is None:
            return None
        raw = self.redis.hgetall(keys.api_token(digest))
        pipe = self.redis.pipeline()
        self._forget_token(pipe, name, digest)
        pipe.execute()
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return _token_info(digest, fields) if raw else None

    def check_token(self, token: str, now: float, *, source: str = "") -> TokenCheck:
        """Find a bearer token's user; unknown ones count against their address, which is held."""
        digest = token_digest(token)
        reply = self._check_token(
            keys=[keys.api_token(digest), keys.token_failures(source or "-")],
            args=[
                self.bad_tokens_per_source,
                self.bad_token_window_s,
                repr(now + TOKEN_DAYS * DAY_S),
            ],
        )
        verdict = reply[0].decode()
        if verdict == "held":
            return TokenCheck(None, "held", retry_after=max(1, int(reply[1])))
        if verdict == "unknown":
            if int(reply[1]) == self.bad_tokens_per_source:
                announce_lockout(
                    self.redis,
                    "api-token",
                    "ip",
                    source or "-",
                    now=now,
                    window_s=self.bad_token_window_s,
                )
            return TokenCheck(None, "unknown")
        raw = reply[2:]
        fields = {raw[i].decode(): raw[i + 1].decode() for i in range(0, len(raw), 2)}
        info = _token_info(digest, fields)
        if int(reply[1]):
            # Made before tokens expired: it now does, counted from this first use.
            log.warning(
                "API token %s (%s) of user %s had no expiry; it now expires on %s",
                info.id,
                info.name or "unnamed",
                info.user,
                _day(info.expires_at),
            )
        if now >= info.expires_at:
            self._note_refused(digest, info, now)
            return TokenCheck(None, "expired", token=info)
        user = self.get(info.user)
        if user is None:
            return TokenCheck(None, "unknown")
        if info.last_used_at is None or now - info.last_used_at >= LAST_USE_EVERY_S:
            self.redis.hset(
                keys.api_token(digest),
                mapping={"last_used_at": repr(now), "last_used_from": source},
            )
        return TokenCheck(user, token=info)

    def _note_refused(self, digest: str, info: TokenInfo, now: float) -> None:
        """Log an expired token's use, at most once a minute per token, so it is not silent."""
        key = keys.api_token(digest)
        last = self.redis.hget(key, "last_refused_at")
        if last is not None and now - float(last) < LAST_USE_EVERY_S:
            return
        self.redis.hset(key, "last_refused_at", repr(now))
        log.warning(
            "API token %s (%s) of user %s was refused: it expired on %s",
            info.id,
            info.name or "unnamed",
            info.user,
            _day(info.expires_at),
        )

    def _digest_of(self, name: str, wanted: str) -> str | None:
        """The digest of a user's token with this id, or None."""
        if not wanted:
            return None
        for raw in self.redis.smembers(keys.user_tokens(name)):
            digest = raw.decode()
            if token_id(digest) == wanted:
                return digest
        return None

    def _forget_token(self, pipe: Any, name: str, digest: str) -> None:
        """Queue the deletion of one token of a user's."""
        pipe.delete(keys.api_token(digest))
        pipe.srem(keys.user_tokens(name), digest)


def _generation() -> str:
    """A fresh random generation id for a user's sessions."""
    return secrets.token_hex(16)

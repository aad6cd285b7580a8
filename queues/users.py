"""Console users in Redis: roles, hashed passwords, hashed API tokens and login limits.

Passwords are hashed with scrypt; API tokens are shown once and kept only as a SHA-256 digest
(a token is long and random, so a slow hash would add nothing but latency to every request).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from redis import Redis
from werkzeug.security import check_password_hash, generate_password_hash

from queues import keys

ROLES = ("ops", "supervisor", "agent")
TOKEN_PREFIX = "hl_"
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# A real hash to check against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt")


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
    if role not in ROLES:
        raise UserError("role", f"expected one of {', '.join(ROLES)}")
    if role == "agent" and not agent_id:
        raise UserError("agent_id", "an agent user must be linked to a roster agent id")
    if role != "agent" and agent_id:
        raise UserError("agent_id", "only agent users are linked to a roster agent")
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password", f"at least {MIN_PASSWORD} characters")


def token_digest(token: str) -> str:
    """The digest a token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Reads and writes console users and tokens; the only owner of their keys."""

    def __init__(self, redis: Redis, *, password_method: str = "scrypt"):
        self.redis = redis
        self.password_method = password_method

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
        hashed = stored.decode() if stored else _DUMMY_HASH
        if not check_password_hash(hashed, password) or stored is None:
            return None
        return self.get(name)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password."""
        if len(password or "") < MIN_PASSWORD:
            raise UserError("password", f"at least {MIN_PASSWORD} characters")
        if self.get(name) is None:
            raise UserError("name", f"no user {name!r}")
        hashed = generate_password_hash(password, method=self.password_method)
        self.redis.hset(keys.user(name), "password", hashed)

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

    def create_token(self, name: str, now: float) -> str:
        """Make a new API token for a user; the token itself is returned once, never stored."""
        if self.get(name) is None:
            raise UserError("name", f"no user {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(token)
        pipe = self.redis.pipeline()
        pipe.hset(keys.api_token(digest), mapping={"user": name, "created_at": repr(now)})
        pipe.sadd(keys.user_tokens(name), digest)
        pipe.execute()
        return token

    def user_for_token(self, token: str) -> User | None:
        """Return the user a bearer token belongs to, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        name = self.redis.hget(keys.api_token(token_digest(token)), "user")
        return self.get(name.decode()) if name else None


# The window starts with the first failure and is not extended by later ones (Redis 6.2 has no
# EXPIRE NX, hence the script).
_COUNT_FAILURE = """
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""


class LoginLimiter:
    """Counts failed logins per user name and per IP address, in fixed windows."""

    def __init__(self, redis: Redis, *, per_user: int = 5, per_ip: int = 20, window_s: int = 900):
        self.redis = redis
        self._count = redis.register_script(_COUNT_FAILURE)
        self.per_user = per_user
        self.per_ip = per_ip
        self.window_s = window_s

    def blocked(self, name: str, ip: str) -> int:
        """Seconds until another try is allowed (0: allowed now)."""
        waits = []
        for scope, who, limit in (("user", name, self.per_user), ("ip", ip, self.per_ip)):
            key = keys.login_failures(scope, who)
            count = int(self.redis.get(key) or 0)
            if count >= limit:
                waits.append(max(1, int(self.redis.ttl(key))))
        return max(waits, default=0)

    def failed(self, name: str, ip: str) -> None:
        """Count one failed try against the name and the address."""
        self._count(
            keys=[keys.login_failures("user", name), keys.login_failures("ip", ip)],
            args=[self.window_s],
        )

    def succeeded(self, name: str) -> None:
        """A right password clears the name's count (the address keeps its own)."""
        self.redis.delete(keys.login_failures("user", name))

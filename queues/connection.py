"""Making the hotline's Redis clients from REDIS_URL, and saying in one line why Redis failed.

`redis_client` makes every client of the hotline (the web app, the worker and RQ, the commands,
`hotline serve`'s supervisor), so each understands the same URLs:

- `redis://`, `rediss://` (TLS) and `unix://`: one Redis server, as redis-py reads them;
- `redis+sentinel://[[user]:password@]host:26379,host2:26379/service[/db][?options]` and
  `rediss+sentinel://...` (TLS to the Sentinels and to the primary): Sentinels that name the
  primary of `service`. The client asks them for the primary on every new connection, so it
  follows a failover: a pooled connection to a primary that died is opened again as it is
  taken from the pool, and one to a primary that was demoted fails one command (READONLY, read
  as a lost connection) and is opened again, each time to the primary the Sentinels name now.

The user and password before `@` are the primary's (and replicas'). Options: `sentinel_username`
and `sentinel_password` when the Sentinels have their own (`requirepass` in sentinel.conf),
`ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile` (paths) and `ssl_cert_reqs` (`required`,
`optional`, `none`) for TLS. A port left out is 26379, a database left out is 0. Special
characters in a password are percent-encoded (`%40` for `@`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis import Redis
from redis.connection import parse_url
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import TimeoutError as RedisTimeout
from redis.sentinel import Sentinel

MISSING = "REDIS_URL is not set: point it at the hotline's Redis (hotline serve prints it)"
# A server that drops packets would otherwise leave a person at the terminal waiting forever.
CONNECT_TIMEOUT_S = 5.0

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
SENTINEL_PORT = 26379
# Options a Sentinel URL may carry after `?`; anything else is a typo worth refusing.
SENTINEL_OPTIONS = (
    "sentinel_username",
    "sentinel_password",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
)
CERT_REQS = ("required", "optional", "none")
FORMS = (
    "redis://host:6379/0, rediss://..., unix:///path/redis.sock, "
    "or redis+sentinel://host:26379,host2:26379/service/0"
)


class RedisUrlError(ValueError):
    """REDIS_URL cannot be read: one line saying what is wrong, never quoting a password."""


@dataclass(frozen=True)
class SentinelUrl:
    """What a redis+sentinel URL says: where the Sentinels are and which primary they watch."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_options: tuple[tuple[str, str], ...] = ()


def is_sentinel_url(url: str) -> bool:
    """Whether a URL names Sentinels rather than one server."""
    return url.split("://", 1)[0].lower() in SENTINEL_SCHEMES


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Read a redis+sentinel:// or rediss+sentinel:// URL; RedisUrlError says what is wrong."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SENTINEL_SCHEMES:
        raise RedisUrlError(f"REDIS_URL does not name Sentinels: expected {FORMS}")
    # The host list holds commas, which urlsplit reads as one odd host: split it by hand.
    try:
        parts = urlsplit(f"redis://{rest}")
    except ValueError:
        raise RedisUrlError(f"REDIS_URL cannot be read: expected {FORMS}") from None
    netloc = parts.netloc
    userinfo, _, hosts = netloc.rpartition("@")
    username, password = _credentials(userinfo)
    return SentinelUrl(
        sentinels=_hosts(hosts),
        service=_service(parts.path),
        db=_db(parts.path),
        username=username,
        password=password,
        tls=SENTINEL_SCHEMES[scheme.lower()],
        **_options(parts.query),
    )


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    """The user and password before `@` (percent-decoded); none when absent or empty."""
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    return unquote(user) or None, (unquote(password) or None) if colon else None


def _hosts(text: str) -> tuple[tuple[str, int], ...]:
    """The Sentinels' addresses from `host:port,host2:port` (IPv6 in brackets)."""
    if not text:
        raise RedisUrlError(f"REDIS_URL names no Sentinel host: expected {FORMS}")
    found = []
    for item in text.split(","):
        host, port = _host_port(item.strip())
        found.append((host, port))
    return tuple(found)


def _host_port(item: str) -> tuple[str, int]:
    """One `host[:port]`; the port defaults to Sentinel's 26379."""
    if item.startswith("["):
        host, _, after = item[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else after
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise RedisUrlError(f"REDIS_URL has an empty Sentinel host in its list: expected {FORMS}")
    if not port_text:
        return host, SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RedisUrlError(f"REDIS_URL gives Sentinel {host} the port {port_text!r}: not a port")
    return host, int(port_text)


def _path_items(path: str) -> list[str]:
    """The path's parts: the service name, then the database number if given."""
    return [unquote(item) for item in path.strip("/").split("/") if item]


def _service(path: str) -> str:
    """The name the Sentinels know the primary by (`sentinel monitor <name> ...`)."""
    items = _path_items(path)
    if not items:
        raise RedisUrlError(
            "REDIS_URL names no Sentinel service: add the primary's name after the hosts, "
            "e.g. redis+sentinel://host:26379/mymaster/0"
        )
    if len(items) > 2:
        raise RedisUrlError("REDIS_URL's path is /service/db; it has more parts than that")
    return items[0]


def _db(path: str) -> int:
    """The database number after the service (0 when left out)."""
    items = _path_items(path)
    if len(items) < 2:
        return 0
    if not items[1].isdigit():
        raise RedisUrlError(f"REDIS_URL's database {items[1]!r} is not a number")
    return int(items[1])


def _options(query: str) -> dict[str, Any]:
    """The Sentinel credentials and TLS settings after `?`; unknown names are refused."""
    try:
        given = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise RedisUrlError("REDIS_URL's options after ? are not name=value pairs") from None
    unknown = sorted(set(given) - set(SENTINEL_OPTIONS))
    if unknown:
        raise RedisUrlError(
            f"REDIS_URL has unknown option(s) {', '.join(unknown)}: "
            f"a Sentinel URL takes {', '.join(SENTINEL_OPTIONS)}"
        )
    values = {name: items[-1] for name, items in given.items()}
    reqs = values.get("ssl_cert_reqs")
    if reqs is not None and reqs not in CERT_REQS:
        raise RedisUrlError(f"REDIS_URL's ssl_cert_reqs is {reqs!r}: one of {', '.join(CERT_REQS)}")
    return {
        "sentinel_username": values.pop("sentinel_username", None) or None,
        "sentinel_password": values.pop("sentinel_password", None) or None,
        "tls_options": tuple(sorted(values.items())),
    }


def check_url(url: str) -> None:
    """Raise RedisUrlError when REDIS_URL cannot be read; nothing connects."""
    if is_sentinel_url(url):
        parse_sentinel_url(url)
        return
    try:
        parse_url(url)
    except ValueError as error:
        raise RedisUrlError(f"REDIS_URL cannot be read ({error}): expected {FORMS}") from None


def redis_client(url: str, **options: Any) -> Redis:
    """A client on REDIS_URL; for Sentinels, one on the primary that follows a failover.

    options are redis-py's (socket_timeout, health_check_interval, ...); they apply to the
    Sentinels too, so asking them where the primary is never waits longer than a command would.
    Nothing connects until the first command.
    """
    check_url(url)
    if not is_sentinel_url(url):
        return Redis.from_url(url, **options)
    target = parse_sentinel_url(url)
    tls: dict[str, Any] = {"ssl": True, **dict(target.tls_options)} if target.tls else {}
    timeouts = {
        name: options.get(name) or CONNECT_TIMEOUT_S
        for name in ("socket_timeout", "socket_connect_timeout")
    }
    sentinel = Sentinel(
        list(target.sentinels),
        sentinel_kwargs={
            **timeouts,
            **tls,
            "username": target.sentinel_username,
            "password": target.sentinel_password,
        },
    )
    return sentinel.master_for(
        target.service,
        redis_class=Redis,
        db=target.db,
        username=target.username,
        password=target.password,
        **tls,
        **options,
    )


def cli_client(url: str) -> Redis:
    """A client on url that gives up connecting after CONNECT_TIMEOUT_S."""
    return redis_client(url, socket_connect_timeout=CONNECT_TIMEOUT_S)


def explain(error: RedisError) -> str:
    """One line on why Redis could not be used and what to do, for a person at a terminal."""
    # redis-py names the host and port (never the password) in its messages.
    detail = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, AuthenticationError):
        return f"Redis refused the credentials ({detail}): fix the password in REDIS_URL"
    if isinstance(error, RedisTimeout):
        return f"Redis did not answer in time ({detail}): is it running where REDIS_URL says?"
    return (
        f"cannot reach Redis ({detail}): start it, or point REDIS_URL at the hotline's Redis "
        "(hotline serve prints it)"
    )

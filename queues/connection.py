"""Reaching the hotline's Redis from command-line tools: a client that gives up, and why not."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import TimeoutError as RedisTimeout

MISSING = "REDIS_URL is not set: point it at the hotline's Redis (hotline serve prints it)"
# A server that drops packets would otherwise leave a person at the terminal waiting forever.
CONNECT_TIMEOUT_S = 5.0


def cli_client(url: str) -> Redis:
    """A client on url that gives up connecting after CONNECT_TIMEOUT_S."""
    return Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)


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

"""GET /healthz: whether this process can reach Redis, as JSON for load balancers and ops."""

from __future__ import annotations

from flask import Blueprint, jsonify
from redis import RedisError

from ivr.state import get_redis
from queues import keys

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report Redis reachability: 200 when it answers and accepts a write, else 503."""
    try:
        redis = get_redis()
        redis.set(keys.health_probe(), "1", ex=60)
        redis.ping()
    except (RedisError, RuntimeError) as error:
        return jsonify(status="degraded", redis="unreachable", error=type(error).__name__), 503
    return jsonify(status="ok", redis="ok"), 200

"""GET /healthz: whether this process can reach Redis, and the hotline's standing conditions."""

from __future__ import annotations

from flask import Blueprint, jsonify
from redis import RedisError

from queues import keys, runtime
from queues.conditions import Conditions

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report Redis reachability (503 when down) and every promise the hotline cannot keep now.

    A standing condition (carrier unreachable, no supervisor on call...) is about the whole
    hotline, not this process: the answer stays 200 so a balancer keeps the process, while the
    status and the list tell ops what is wrong.
    """
    try:
        redis = runtime.serving().redis
        redis.set(keys.health_probe(), "1", ex=60)
        redis.ping()
        active = Conditions(redis).active()
    except (RedisError, RuntimeError) as error:
        return jsonify(status="degraded", redis="unreachable", error=type(error).__name__), 503
    conditions = [
        {"name": c.name, "detail": c.detail, "since": c.since, "updated": c.updated} for c in active
    ]
    status = "attention" if conditions else "ok"
    return jsonify(status=status, redis="ok", conditions=conditions), 200

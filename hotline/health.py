"""GET /healthz: whether this process can reach Redis, and the hotline's standing conditions."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
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
        serving = runtime.serving()
        redis = serving.redis
        redis.set(keys.health_probe(), "1", ex=60)
        redis.ping()
        active = Conditions(redis).active()
    except (RedisError, RuntimeError) as error:
        return jsonify(status="degraded", redis="unreachable", error=type(error).__name__), 503
    conditions = [
        {"name": c.name, "detail": c.detail, "since": c.since, "updated": c.updated} for c in active
    ]
    greeting = _greeting(serving)
    status = "attention" if conditions or greeting["starts"]["lost"] else "ok"
    return jsonify(status=status, redis="ok", conditions=conditions, greeting=greeting), 200


def _greeting(serving: runtime.Runtime) -> dict[str, object]:
    """This process's greetings: answered from its screening copy or from Redis, and the
    calls' starts written behind them (any lost is said: their status callback starts them)."""
    return {
        "from_memory": bool(current_app.config.get("GREETING_FROM_MEMORY")),
        "copy": serving.screening_copy.state(),
        "starts": serving.call_starts.state(),
    }

"""Whether the carrier's REST API is reachable, as the jobs that call it find it.

Every job that makes a REST request reports how it went. A few failures in a row within a
minute (server errors, throttling, no answer at all, refused credentials), from any job in any
worker, raise the standing condition `carrier_unreachable` (`queues.conditions`: logged, paged
once, shown in /healthz and on the wallboard); the next request that goes through clears it.
A failure that is about one request (an invalid number, a call already gone) says nothing of
the carrier and is not counted.
"""

from __future__ import annotations

import logging
import uuid

from redis import Redis
from redis.exceptions import RedisError

from queues import keys
from queues.conditions import Conditions
from telephony.gateway import GatewayError

log = logging.getLogger(__name__)

CONDITION = "carrier_unreachable"
# Failures in a row, within the window, that make the carrier unreachable rather than unlucky.
FAILURES_IN_A_ROW = 3
WINDOW_S = 60.0
# Twilio's answers that are about the account, not one request: its credentials are refused.
ACCOUNT_REFUSED = frozenset({401, 403})


def is_carrier_failure(error: GatewayError) -> bool:
    """Tell whether a REST error is the carrier's (worth retrying, or the account refused)."""
    return error.retryable or error.status in ACCOUNT_REFUSED


class CarrierHealth:
    """Counts REST failures in a row across all jobs; the only owner of the failure key."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def failed(self, error: GatewayError, now: float) -> bool:
        """Count a failed request; True when it is the carrier's failure (whatever the count)."""
        if not is_carrier_failure(error):
            return False
        key = keys.carrier_failures()
        pipe = self.redis.pipeline()
        pipe.zadd(key, {f"{now!r}:{uuid.uuid4().hex[:8]}": now})
        pipe.zremrangebyscore(key, "-inf", now - WINDOW_S)
        pipe.zcard(key)
        pipe.expire(key, int(WINDOW_S) + 1)
        _, _, count, _ = pipe.execute()
        if count >= FAILURES_IN_A_ROW:
            # No number or URL in the detail: it is paged to supervisors' phones.
            what = f"HTTP {error.status}" if error.status else "no answer"
            Conditions(self.redis).raise_condition(
                CONDITION,
                f"Twilio's REST API failed {count} times in a row within {int(WINDOW_S)} s "
                f"(last: {what}); agents are not being rung",
                now,
            )
        return True

    def reached(self, now: float) -> None:
        """A request went through: the failures in a row are over, and so is the condition.

        Never raises: it is said after the request has done its work (a caller's phone rung, a
        conference ended), and a job failing here would be run again and do it a second time.
        A condition left standing is cleared by the next request that goes through.
        """
        try:
            self.redis.delete(keys.carrier_failures())
            Conditions(self.redis).clear(CONDITION, now)
        except RedisError as error:
            log.warning("carrier reached, not noted: %s", type(error).__name__)

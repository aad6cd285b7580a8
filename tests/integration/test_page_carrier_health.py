"""Supervisors' pages count towards the carrier's health like rings do: when Twilio stops
answering, the pages that fail raise `carrier_unreachable` (the rings may be few, or none)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from carrier.faults import FaultPlan
from queues import runtime
from queues.alerts import page_supervisors, raise_alert
from queues.carrier_health import CONDITION
from queues.conditions import Conditions
from telephony.gateway import GatewayError
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, Rig, build_rig
from tests.fixtures.crisis import import_roster

pytestmark = pytest.mark.redis

CALLS = ["CA" + digit * 32 for digit in "567"]


@pytest.fixture
def rig() -> Iterator[Rig]:
    """The carrier, as Twilio, for the SMS."""
    yield from build_rig()


@pytest.fixture
def jobs_runtime(redis, rig, clock, hotline_config) -> Iterator[runtime.Runtime]:
    """The runtime the page jobs use, with the carrier as Twilio."""
    current = runtime.Runtime(redis, rig.gateway, hotline_config, rig.app_url, clock)
    runtime.install(lambda: current)
    yield current
    runtime.install(None)


def sms_sent(rig: Rig) -> int:
    """How many SMS the carrier has taken."""
    reply = requests.get(
        f"{rig.carrier_url}/carrier/messages", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )
    return len(reply.json())


def test_pages_that_fail_make_the_carrier_unreachable(
    redis, rig, clock, hotline_config, jobs_runtime
):
    import_roster(redis, clock, hotline_config)
    now = clock().timestamp()
    for call in CALLS:
        raise_alert(redis, call, trigger="danger_key", language="zh", now=now, page=False)
    rig.hub.faults.replace(FaultPlan(rest_500=1.0, rest_match="Messages"))

    for call in CALLS:
        with pytest.raises(GatewayError):
            page_supervisors(call)

    condition = Conditions(redis).get(CONDITION)
    assert condition is not None and "HTTP 500" in condition.detail
    assert sms_sent(rig) == 0
    # The pages are sent once Twilio answers again (RQ retries the jobs).
    rig.hub.faults.replace(FaultPlan())
    assert page_supervisors(CALLS[0]) == "paged"
    assert sms_sent(rig) == 1

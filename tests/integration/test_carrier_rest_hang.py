"""The carrier's REST API can hang: a request held past the gateway's timeout is a failure worth
retrying for the app, and the carrier, answering late, does nothing with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from carrier.faults import FaultPlan
from telephony.gateway import Gateway, GatewayError
from tests.fixtures.carrier import ACCOUNT_SID, AGENTS, AUTH_TOKEN, HOTLINE, Rig, build_rig
from tests.fixtures.waits import poll


@pytest.fixture
def rig() -> Iterator[Rig]:
    """The carrier, as Twilio."""
    yield from build_rig()


def outbound_calls(rig: Rig) -> list[dict]:
    """The calls the carrier placed for the app."""
    calls = requests.get(f"{rig.carrier_url}/carrier/calls", auth=(ACCOUNT_SID, AUTH_TOKEN))
    return [call for call in calls.json() if call["direction"] != "inbound"]


def test_a_hung_request_times_the_gateway_out_and_rings_nobody(rig: Rig) -> None:
    plan = FaultPlan.from_mapping({"rest_hang": 1.0, "rest_hang_s": 1.0, "rest_match": "Calls"})
    rig.hub.faults.replace(plan)
    impatient = Gateway(ACCOUNT_SID, AUTH_TOKEN, rig.carrier_url, HOTLINE, timeout=0.3)

    with pytest.raises(GatewayError) as failed:
        impatient.create_call(AGENTS["labor"], f"{rig.app_url}/agent", timeout=20)
    # No answer at all: worth another try, as for Twilio's 5xx.
    assert failed.value.status is None and failed.value.retryable

    def answered_late() -> list[dict]:
        return [e for e in rig.hub.network.exchanges if e["path"].endswith("/Calls.json")]

    (late,) = poll(answered_late, 10, "the held request to be answered")
    assert late["status"] == 503
    assert outbound_calls(rig) == []
    assert rig.hub.faults.snapshot()["injected"]["rest_hang"] == 1

    # Paths the plan does not match answer at once, and without the plan rings go out again.
    assert isinstance(impatient.list_queues(), list)
    rig.hub.faults.replace(FaultPlan())
    leg = impatient.create_call(AGENTS["labor"], f"{rig.app_url}/agent", timeout=20)
    assert [call["call_sid"] for call in outbound_calls(rig)] == [leg.sid]

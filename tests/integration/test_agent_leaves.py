"""An agent hanging up ends the caller's conference through Twilio alone, so a caller is never
left waiting in silence, even when Redis is down."""

from __future__ import annotations

import base64
import socket

import pytest

from tests.carrier_fixtures import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HOTLINE,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)
from tests.conftest import Twilio
from tests.twiml import Doc

ROOM = "RS" + "7" * 32


def closed_port() -> int:
    """A local port with nothing listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("path", "form"),
    [
        # The agent's Dial action when they hang up, and their leg's final status callback
        # (the one that still comes when * had ended their Dial and Redis then failed).
        ("/voice/agent/done", {"CallStatus": "completed", "DialCallStatus": "completed"}),
        ("/voice/agent/status", {"CallStatus": "completed"}),
    ],
)
def test_the_agent_hanging_up_ends_the_conference_with_redis_down(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, path, form
) -> None:
    # A caller waits in a reservation's conference on the carrier (Twilio's stand-in).
    caller = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=caller), what="the caller to wait")
    rig.gateway.update_call(caller, url=f"{rig.app_url}/join?room={ROOM}")
    rig.wait_until(lambda: rig.gateway.find_conference(ROOM), what="the caller's conference")

    # The hotline with the carrier as its Twilio account and its Redis unreachable.
    app_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    app_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    app_env.setenv("TWILIO_API_BASE_URL", rig.carrier_url)
    app_env.setenv("HOTLINE_NUMBER", HOTLINE)
    app_env.setenv("VOICEMAIL_KEY", base64.b64encode(b"k" * 32).decode())
    app_env.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    from ivr import create_app

    app = create_app({"TESTING": True, "CLOCK": clock})
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN)
    reply = twilio.post(f"{path}?res={ROOM}", form)

    assert reply.status_code == 200
    Doc.parse(reply)  # valid TwiML, whatever it holds
    # Well before the carrier's own limit on a call (1,800 call seconds, 9 s here) could end it.
    rig.wait_until(
        lambda: rig.gateway.find_conference(ROOM) is None, 3.0, what="the conference to end"
    )
    transcript = rig.finish(caller)
    left = [e for e in transcript["entries"] if e["kind"] == "conference"]
    assert [e["action"] for e in left] == ["joined", "left"]

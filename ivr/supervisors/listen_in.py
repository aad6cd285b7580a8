"""The status of a supervisor's leg rung into a live call: answered, hung up or unreached.

The leg itself runs the conference TwiML Twilio makes for a participant added through the REST
API, so only its status reports come here; they tell the wallboard that the supervisor is on
the call, left it by hanging up, or was never reached.
"""

from __future__ import annotations

from flask import Response, request

from ivr import webhook as hook
from ivr.callers import menu_twiml as twiml
from queues import listen_in, runtime

bp = hook.twilio_blueprint("listen_in_legs", __name__, "/voice/listen-in")

# Call SIDs are 34 characters; anything longer is not one.
MAX_SID = 64


@bp.post("/status")
def status() -> Response:
    """A supervisor's leg moved on: the session it belongs to follows."""
    rt = runtime.serving()
    call_sid = request.args.get("call", "")[:MAX_SID]
    number = hook.int_arg("n", 0, 1_000_000)
    if call_sid and number:
        listen_in.leg_status(
            rt.redis, call_sid, number, request.form.get("CallStatus", ""), rt.now()
        )
    return hook.xml(twiml.empty())

"""A console's polls do not send the session cookie back, so a poll answered after a form's post
cannot put back the cookie from before it (and lose the post's flash); the last-seen time is
still written as the session is used, once a step has passed."""

from __future__ import annotations

from datetime import timedelta

from ops.auth import SEEN_STEP_S
from tests.fixtures.ops import sign_in


def test_polls_leave_the_cookie_alone_until_a_step_has_passed(hotline, app, clock) -> None:
    desk = sign_in(app, "sam")
    first = desk.client.get("/api/v1/wallboard")
    assert first.status_code == 200
    assert "Set-Cookie" not in first.headers
    clock.now += timedelta(seconds=SEEN_STEP_S - 1)
    assert "Set-Cookie" not in desk.client.get("/api/v1/wallboard").headers
    clock.now += timedelta(seconds=2)
    assert "Set-Cookie" in desk.client.get("/api/v1/wallboard").headers
    # The session is alive and written again only after the next step.
    assert "Set-Cookie" not in desk.client.get("/api/v1/wallboard").headers

"""A call leg on the stand-in against scripted webhook answers, with no app and no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from carrier.driver import Settings
from carrier.faults import Faults
from carrier.parties import Script
from carrier.server import Carrier
from carrier.transcript import render
from carrier.webhook import Reply

APP = "http://app.test"


@dataclass
class ScriptedWebhooks:
    """Answers webhook requests from a table of TwiML by URL; unknown URLs answer 500."""

    answers: dict[str, str]
    faults: Faults = field(default_factory=Faults)
    asked: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def request(self, method: str, url: str, params: dict[str, str], **options: Any) -> Reply:
        """Note the request and answer it from the table."""
        self.asked.append((url, params))
        body = self.answers.get(url)
        if body is None:
            return Reply(500, "", "text/plain", 1)
        return Reply(200, body, "text/xml", 1)


def call_with(answers: dict[str, str]) -> tuple[ScriptedWebhooks, dict[str, Any]]:
    """Place one incoming call against scripted answers; return the requests and transcript."""
    settings = Settings(
        account_sid="AC" + "0" * 32,
        auth_token="token",
        hotline_number="+8657100000000",
        voice_url=f"{APP}/voice",
        status_url=None,
        fallback_url=f"{APP}/help/fallback",
        public_url="http://carrier.test",
    )
    hub = Carrier.build(settings, time_scale=0.001)
    webhooks = ScriptedWebhooks(answers)
    hub.driver.webhooks = webhooks  # type: ignore[assignment]
    call = hub.driver.start_incoming("+8613800138000", Script(hangup_after=60))
    assert hub.driver.wait_finished(call.sid, 10), "the call did not end"
    return webhooks, call.transcript.to_dict()


def test_the_fallbacks_relative_urls_resolve_against_the_fallback_url() -> None:
    webhooks, transcript = call_with(
        {
            f"{APP}/help/fallback": "<Response><Redirect>apology</Redirect></Response>",
            f"{APP}/help/apology": "<Response><Say>Sorry.</Say><Hangup/></Response>",
        }
    )

    assert [url for url, _ in webhooks.asked] == [
        f"{APP}/voice",
        f"{APP}/help/fallback",
        f"{APP}/help/apology",
    ]
    assert webhooks.asked[1][1]["ErrorCode"] == "11200"
    heard = [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]
    assert heard == ["Sorry."]
    assert "fallback 11200 on /voice: asking /help/fallback" in render(transcript)


def test_a_redirect_that_fails_falls_back_with_the_redirects_url() -> None:
    webhooks, transcript = call_with(
        {
            f"{APP}/voice": "<Response><Redirect>/broken</Redirect></Response>",
            f"{APP}/help/fallback": "<Response><Say>Sorry.</Say></Response>",
        }
    )

    fallbacks = [(e["code"], e["failed"]) for e in transcript["entries"] if e["kind"] == "fallback"]
    assert fallbacks == [(11200, "/broken")]
    assert [url for url, _ in webhooks.asked][-1] == f"{APP}/help/fallback"
    assert transcript["outcome"]["ended_by"] == "app"

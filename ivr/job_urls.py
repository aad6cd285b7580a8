"""The webhook URLs the app gives its jobs, looked up in the blueprints' own routes.

A job runs in a worker, outside any request, so `url_for` has nothing to build against: the
app's URL map is bound here instead, which builds the same path and query a view's `url_for`
would. Each path stays written once, in its blueprint.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from queues.webhook_urls import ReservationUrl, WebhookUrls


def webhook_urls(app: Flask, base_url: str) -> WebhookUrls:
    """The builders of the webhooks jobs give Twilio, absolute under the app's public URL."""

    def build(endpoint: str, **query: Any) -> str:
        """An absolute URL of one endpoint, its arguments in the query."""
        # Bound at each build, so the map has every blueprint however early this is made; any
        # host will do, a map bound to it builds a path and query.
        path = app.url_map.bind("localhost").build(endpoint, query)
        return base_url.rstrip("/") + path

    def about(endpoint: str) -> ReservationUrl:
        """The builder of an endpoint's URL about a reservation."""
        return lambda reservation_id: build(endpoint, res=reservation_id)

    def stepped_out(reservation_id: str, number: int, live: bool) -> str:
        """Where a stepped-out agent goes once a job has looked at the conference."""
        return build("agent_calls.stepped_out", res=reservation_id, n=number, live=int(live))

    return WebhookUrls(
        whisper=about("agent_calls.whisper"),
        agent_status=about("agent_calls.status"),
        agent_fallback=about("agent_calls.fallback"),
        agent_gone=about("agent_calls.gone"),
        agent_unreached=about("agent_calls.unreached"),
        agent_stepped_out=stepped_out,
        caller_to_agent=about("bridge.queued"),
        callback=about("bridge.callback"),
        callback_status=about("bridge.callback_status"),
        listen_in_status=lambda call_sid, number: build(
            "listen_in_legs.status", call=call_sid, n=number
        ),
        transfer_hold=lambda rid, language: build(
            "agent_calls.transfer_caller.hold", res=rid, lang=language
        ),
        transfer_room=lambda rid, area, language: build(
            "agent_calls.transfer_caller.room", res=rid, area=area, lang=language
        ),
        transfer_back=about("agent_calls.transfer.back"),
    )

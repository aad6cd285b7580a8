"""What every console page shares: sign-in checks, words, CSRF tokens and error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from ops import auth
from ops.errors import Forbidden, OpsError, Unauthorized
from ops.i18n import DAY_NAMES, call_state, current_language, word


def install(bp: Blueprint) -> None:
    """Give a page blueprint sign-in checks, CSRF, template helpers and error pages."""
    auth.install(bp)
    bp.context_processor(_helpers)
    bp.register_error_handler(OpsError, _error)


def _helpers() -> dict[str, Any]:
    """Names every template can use."""
    lang = current_language()
    return {
        "t": word,
        "call_state": call_state,
        "lang": lang,
        "day_names": DAY_NAMES[lang],
        "csrf_token": auth.csrf_token,
        "me": g.get("user"),
        "area_name": _area_name,
        "local_time": _local_time,
    }


def _local_time(epoch: object) -> str:
    """An epoch time as the hotline's local date and time."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ops import context

    moment = datetime.fromtimestamp(float(str(epoch)), ZoneInfo(context.config().timezone))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _area_name(area: str) -> str:
    """An area's name in the page language."""
    from ops import context

    found = context.config().areas.get(area)
    return found.name.get(current_language(), area) if found else area


def _error(error: OpsError) -> Response | tuple[str, int]:
    """Send the signed-out to sign in; show a refused form's reason on the page it came from."""
    if isinstance(error, Unauthorized):
        if g.get("expired"):
            flash(word("expired"), "error")
        return redirect(url_for("ops_accounts.page_login", next=request.path), code=303)
    if request.method == "POST" and not isinstance(error, Forbidden):
        field = f" ({error.field})" if error.field else ""
        flash(f"{error.message}{field}", "error")
        for problem in error.problems[:20]:
            line = f"line {problem['line']}: " if problem.get("line") else ""
            flash(f"{line}{problem['field']}: {problem['message']}", "error")
        return redirect(back(), code=303)
    return render_template("ops/error.html", error=error), error.status


def saved(anchor: str = "") -> Response:
    """Go back to the page the form was on, with a short confirmation."""
    flash(word("saved"), "ok")
    return redirect(back() + anchor, code=303)


def back() -> str:
    """The page a form was posted from, if it is one of ours, else the console's home."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/ops"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("ops_console.home")

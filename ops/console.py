"""The console's shell under /ops: its home, templates and static files.

Each feature's pages live in its own module with its API routes (`ops.features`); this blueprint
only sends each role to its first page and serves what every page loads.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for

from ops import auth, pages
from ops.auth import require

bp = Blueprint(
    "ops_console",
    __name__,
    url_prefix="/ops",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
pages.install(bp)

# Each role's first page; ops' is the roster.
FIRST_PAGES = {"agent": "ops_desk.page", "supervisor": "ops_monitoring.page_wallboard"}


@bp.get("/")
@require()
def home() -> Response:
    """Each role's first page."""
    return redirect(url_for(FIRST_PAGES.get(auth.user().role, "ops_staffing.page_roster")))

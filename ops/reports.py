"""Reports: a period's figures from the durable call records, with charts and a CSV download.

One blueprint holds the console page (`/ops/reports`, its SVG charts and CSV) and the JSON API
(`/api/v1/reports`), for ops and supervisors. The figures are computed by `routing.report`
(docs/reports.md defines each) from the rows `queues.records.reading` selects.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, jsonify, render_template, request

from ops import context, features
from ops.auth import OPS_ROLES, require
from ops.charts import Series, bar_chart
from ops.errors import Invalid
from ops.i18n import word
from queues.records import jobs
from routing.report import (
    BUCKETS,
    FIGURES,
    Period,
    Report,
    figure_text,
    report_csv,
    report_json,
)

# The period a page opens on: the last seven days, today included.
DEFAULT_DAYS = 7
CHARTS = ("volume", "service")
# Colours of the charts' series: offered, answered, service level.
COLOURS = {"offered": "#9bb7d4", "answered": "#2c6e9b", "service_level": "#3f8f5b"}

bp = features.blueprint("ops_reports")


def asked_report() -> Report:
    """The report the request asks for: ?from, ?to (local dates), ?area, ?by."""
    config = context.config()
    args = request.args
    today = datetime.fromtimestamp(context.now(), ZoneInfo(config.timezone)).date()
    first = _date(args.get("from"), "from", today - timedelta(days=DEFAULT_DAYS - 1))
    last = _date(args.get("to"), "to", today)
    area = args.get("area", "")
    if area and area not in config.areas:
        raise Invalid(f"no area {area!r}", field="area")
    by = args.get("by", "day")
    if by not in BUCKETS:
        raise Invalid(f"by must be one of {', '.join(BUCKETS)}", field="by")
    try:
        period = Period(first, last, config.timezone)
    except ValueError as error:
        raise Invalid(str(error), field="to") from None
    # SQLAlchemy is imported by the first report asked for, not by every process serving the app.
    from queues.records import reading

    return reading.report(
        jobs.store(), period, by=by, area=area, policy=config.reports, now=context.now()
    )


def _date(text: str | None, name: str, default: date) -> date:
    """A date from the query (YYYY-MM-DD), or the default when none is given."""
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("expected a date as YYYY-MM-DD", field=name) from None


def chart(found: Report, name: str) -> str:
    """One of the page's charts as SVG: calls offered and answered, or the service level."""
    labels = [b.key or "—" for b in found.buckets]
    if name == "volume":
        series = [
            Series(word(f"fig_{key}"), [b.figures[key] for b in found.buckets], COLOURS[key])
            for key in ("offered", "answered")
        ]
        return bar_chart(word("chart_volume"), labels, series)
    values = [_percent(b.figures["service_level"]) for b in found.buckets]
    series = [Series(word("fig_service_level"), values, COLOURS["service_level"])]
    title = word("chart_service", seconds=found.policy.service_level_s)
    return bar_chart(title, labels, series, unit="%")


def _percent(share: float | None) -> float | None:
    """A share as per cent."""
    return None if share is None else round(share * 100, 1)


def _csv_download(found: Report) -> Response:
    """The report as a CSV attachment named after its period."""
    period = found.period
    name = f"report-{period.first.isoformat()}-{period.last.isoformat()}-{found.by}.csv"
    return Response(
        report_csv(found),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


# --- console pages ----------------------------------------------------------------------------


@bp.get("/ops/reports")
@require(*OPS_ROLES)
def page() -> str:
    """The period's figures: charts, the buckets' table, the agents and every figure's total."""
    found = asked_report()
    query = {
        "from": found.period.first.isoformat(),
        "to": found.period.last.isoformat(),
        "area": found.area,
        "by": found.by,
    }
    return render_template(
        "ops/reports.html",
        report=found,
        query=query,
        buckets=BUCKETS,
        figures=FIGURES,
        headline=("offered", "answered", "answer_rate", "service_level", "abandoned", "asa_s"),
        areas=sorted(context.config().areas),
        show=figure_text,
        charts=CHARTS,
    )


@bp.get("/ops/reports/<name>.svg")
@require(*OPS_ROLES)
def page_chart(name: str) -> Response:
    """A chart of the period asked for, as an SVG picture."""
    if name not in CHARTS:
        raise Invalid(f"chart must be one of {', '.join(CHARTS)}", field="name")
    return Response(chart(asked_report(), name), mimetype="image/svg+xml")


@bp.get("/ops/reports/export.csv")
@require(*OPS_ROLES)
def page_export() -> Response:
    """Download the period's figures as CSV (UTF-8 with a BOM, cells safe in a spreadsheet)."""
    return _csv_download(asked_report())


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/reports")
@require(*OPS_ROLES)
def api_report() -> Response:
    """A period's figures as JSON, or CSV with ?format=csv."""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid("format must be json or csv", field="format")
    found = asked_report()
    return _csv_download(found) if fmt == "csv" else jsonify(report_json(found))

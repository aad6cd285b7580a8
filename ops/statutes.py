"""The statute knowledge base: a page and API to read and search it, supervisors' edits, the
desk's panel.

Every signed-in user reads the statutes (`/ops/statutes`, `GET /api/v1/statutes?area=&q=`);
only supervisors change the document: edited whole as YAML on the page (validate, then save)
or `PUT /api/v1/statutes`, and `DELETE` brings the shipped file back. A document is checked
whole by `routing.statutes` before anything is kept; a refused one comes back with every
problem and its line, and the text as typed. Saves are audited with the entries added,
removed and changed (`queues.statutes` keeps the text and the audit entry in one step).

The agent's desk includes `ops/_statutes_panel.html`: the statutes of the call's area, those its
intake answers and the caller's words point to first, and a search box (`static/statutes.js`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Response, current_app, flash, jsonify, redirect, render_template, request, url_for

from ops import auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Conflict, Invalid, NotFound
from ops.i18n import word_of
from queues.statutes import StaleStatutes, StatuteShelf, StatutesText, call_intake, digest
from routing.menu import decode_answers
from routing.problems import ProblemsError
from routing.statutes import Library, Statute, area_intake, named_answers, parse_statutes

log = logging.getLogger(__name__)

bp = features.blueprint("ops_statutes")

# Statutes shown on the desk at once; the rest of the area's fold under "more".
PANEL_FIRST = 8
# Parsed documents kept per process, by the text's version (the shipped one and an edit or two).
CACHED_LIBRARIES = 4
WORDS = {
    "statutes": {"zh": "法规知识库", "en": "Statutes"},
    "statutes_help": {
        "zh": "按领域和接入问题列出常用法条；来电者的说法（加班费、彩礼、竞业限制）可直接搜索。"
        "链接打开国家法律法规数据库中按法规名称的检索。",
        "en": "Statutes by area and intake; search by the caller's own words (overtime pay, "
        "bride price, non-compete). Links open the national law database's search for the law.",
    },
    "search": {"zh": "搜索", "en": "Search"},
    "search_hint": {
        "zh": "来电者的说法，如：拖欠工资",
        "en": "the caller's words, e.g. unpaid wages",
    },
    "all_areas": {"zh": "全部领域", "en": "all areas"},
    "area": {"zh": "领域", "en": "Area"},
    "law": {"zh": "法律", "en": "Law"},
    "article": {"zh": "条文", "en": "Article"},
    "plain": {"zh": "通俗说明", "en": "In plain words"},
    "keywords": {"zh": "关键词", "en": "Keywords"},
    "official_text": {"zh": "官方文本", "en": "Official text"},
    "open_database": {"zh": "国家法律法规数据库", "en": "National law database"},
    "no_results": {"zh": "没有找到相关法条。", "en": "No statute found for these words."},
    "count": {"zh": "共 {n} 条", "en": "{n} statutes"},
    "edit": {"zh": "编辑（YAML）", "en": "Edit (YAML)"},
    "edit_help": {
        "zh": "整份文件一起校验；出错时列出行号，什么都不会保存。",
        "en": "The whole document is checked; problems are listed with their lines and nothing "
        "is saved.",
    },
    "validate": {"zh": "校验", "en": "Validate"},
    "save": {"zh": "保存", "en": "Save"},
    "download": {"zh": "下载 YAML", "en": "Download YAML"},
    "reset": {"zh": "恢复随系统发布的版本", "en": "Restore the shipped file"},
    "valid": {"zh": "校验通过：{n} 条。", "en": "Valid: {n} statutes."},
    "source_shipped": {"zh": "当前使用随系统发布的文件", "en": "In force: the shipped file"},
    "source_edited": {
        "zh": "当前使用 {by} 于 {at} 保存的版本",
        "en": "In force: saved by {by} at {at}",
    },
    "panel": {"zh": "相关法条", "en": "Statutes for this call"},
    "panel_matched": {"zh": "与接入回答相符", "en": "fits the intake answers"},
    "more": {"zh": "本领域其他法条（{n}）", "en": "More in this area ({n})"},
}


def statute_word(key: str, **fields: object) -> str:
    """A word of the statute pages in the page language."""
    return word_of(WORDS, key, **fields)


# --- the document in force --------------------------------------------------------------------


def shipped_text() -> str:
    """The shipped statutes file (STATUTES_FILE, set by the app; else the one beside the app)."""
    path = current_app.config.get("STATUTES_FILE") or Path(__file__).parent.parent / "hotline"
    path = Path(path)
    if path.is_dir():
        path = path / "statutes.yaml"
    cache = current_app.extensions.setdefault("ops_statutes_shipped", {})
    if str(path) not in cache:
        cache[str(path)] = path.read_text(encoding="utf-8")
    return cache[str(path)]


def shelf() -> StatuteShelf:
    """The supervisors' saved document in Redis."""
    return StatuteShelf(context.redis())


def parse(text: str, source: str = "statutes.yaml") -> Library:
    """Check a document against the hotline's areas and intake; cached by its text's version."""
    cache: dict[str, Library] = current_app.extensions.setdefault("ops_statutes_parsed", {})
    key = f"{id(context.config())}:{digest(text)}"
    found = cache.get(key)
    if found is None:
        found = parse_statutes(text, source=source, areas=area_intake(context.config().areas))
        while len(cache) >= CACHED_LIBRARIES:
            cache.pop(next(iter(cache)))
        cache[key] = found
    return found


def in_force() -> tuple[StatutesText, Library]:
    """The document in force and its statutes; the shipped file when an edit no longer reads
    (an area or intake question it names was taken out of the config since)."""
    shipped = shipped_text()
    document = shelf().current(shipped)
    try:
        return document, parse(document.text)
    except ProblemsError as error:
        log.warning("the saved statutes no longer read (%s); the shipped file is shown", error)
        fallback = StatutesText(shipped, "shipped")
        return fallback, parse(shipped)


def checked(text: str) -> Library:
    """A document checked whole; Invalid with every problem and its line when refused."""
    try:
        return parse(text)
    except ProblemsError as error:
        problems = [
            {
                "line": problem.line,
                "field": ".".join(str(part) for part in problem.path),
                "message": problem.message,
            }
            for problem in error.problems
        ]
        raise Invalid(
            f"the statutes document has {len(problems)} problem(s); nothing was saved",
            field="document",
            problems=problems,
        ) from None


def changes(old: Library, new: Library) -> dict[str, list[str]]:
    """Entries added, removed and changed between two documents, by id."""
    before = {s.id: s for s in old.statutes}
    after = {s.id: s for s in new.statutes}
    return {
        "added": [i for i in after if i not in before],
        "removed": [i for i in before if i not in after],
        "changed": [i for i in after if i in before and after[i] != before[i]],
    }


def save(actor: str, text: str, base: str | None) -> dict[str, Any]:
    """Check a whole document and keep it over the shipped file; audited with what changed."""
    new = checked(text)
    document, old = in_force()
    summary = changes(old, new)
    try:
        saved = shelf().save(
            text,
            shipped_text(),
            actor=actor,
            now=context.now(),
            base=base,
            before={"source": document.source, "version": document.version, "entries": len(old)},
            after={"version": digest(text), "entries": len(new), **summary},
        )
    except StaleStatutes as stale:
        raise Conflict(f"{stale}; reload and edit again", field="base") from None
    return {"version": saved.version, "entries": len(new), "source": saved.source, **summary}


def reset(actor: str, base: str | None) -> dict[str, Any]:
    """Bring the shipped file back in force; audited."""
    document, old = in_force()
    try:
        done = shelf().reset(
            shipped_text(),
            actor=actor,
            now=context.now(),
            base=base,
            before={"source": document.source, "version": document.version, "entries": len(old)},
        )
    except StaleStatutes as stale:
        raise Conflict(f"{stale}; reload and try again", field="base") from None
    return {"version": done.version, "source": done.source, "entries": len(parse(done.text))}


def listing(library: Library, area: str = "", words: str = "") -> list[Statute]:
    """The statutes a page or API request asks for: found by words, or an area's, or all."""
    if area and area not in context.config().areas:
        raise Invalid(f"no area {area!r}", field="area")
    if words.strip():
        return library.search(words, area=area or None)
    return library.in_area(area) if area else list(library.statutes)


def for_call(call_sid: str, area: str = "") -> dict[str, Any]:
    """A call's statutes: its area's, those its intake answers and caller's words point to
    first, each marked `matched` when an intake answer fits it."""
    recorded_area, encoded, speech = call_intake(context.redis(), call_sid)
    area = area or recorded_area
    config = context.config()
    if area not in config.areas:
        return {"call_sid": call_sid, "area": area, "statutes": []}
    questions = [q.id for q in config.areas[area].intake]
    answers = named_answers(questions, decode_answers(config, area, encoded))
    _, library = in_force()
    found = library.for_call(area, answers, words=speech)
    shown = [statute.public(answers) for statute in found]
    return {"call_sid": call_sid, "area": area, "answers": answers, "statutes": shown}


def panel(call: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the desk's panel shows for the desk's call, or None (no call, or not yet answered).

    The desk must never fail for the panel: anything that goes wrong leaves the panel out.
    """
    if not call or call.get("state") == "ringing" or not call.get("call_sid"):
        return None
    try:
        found = for_call(call["call_sid"], call.get("area") or "")
    except Exception:  # noqa: BLE001 - the panel is an aid; the call card must still show
        log.exception("the desk's statutes panel could not be drawn")
        return None
    statutes = found["statutes"]
    return {**found, "first": statutes[:PANEL_FIRST], "more": statutes[PANEL_FIRST:]}


@bp.app_context_processor
def _desk_helpers() -> dict[str, Any]:
    """The panel's data and words for the desk's template (drawn by another blueprint)."""
    return {"statute_panel": panel, "sw": statute_word}


def _view(document: StatutesText, library: Library, found: list[Statute]) -> dict[str, Any]:
    """The API's answer: where the document comes from, its version, and the statutes found."""
    return {
        "source": document.source,
        "version": document.version,
        "saved_by": document.by or None,
        "saved_at": document.at or None,
        "entries": len(library),
        "count": len(found),
        "statutes": [statute.public() for statute in found],
    }


# --- console pages ----------------------------------------------------------------------------


@bp.get("/ops/statutes")
@require()
def page() -> str:
    """The statutes table with area and search, and (for supervisors) the document's editor."""
    return _page(None)


def _page(
    text: str | None, *, problems: list[dict[str, Any]] | None = None, status: int = 200
) -> Any:
    """Render the page, with an editor's text and problems when a form came back refused."""
    document, library = in_force()
    area = request.args.get("area", "")
    words = request.args.get("q", "")
    try:
        found = listing(library, area, words)
    except Invalid:
        area, found = "", list(library.statutes)
    html = render_template(
        "ops/statutes.html",
        document=document,
        library=library,
        found=found,
        area=area,
        words=words,
        areas=list(context.config().areas),
        editor=text if text is not None else document.text,
        base=request.form.get("base") or document.version,
        problems=problems or [],
        can_edit=auth.user().role in SUPERVISORS,
        w=statute_word,
    )
    return (html, status) if status != 200 else html


@bp.post("/ops/statutes")
@require(*SUPERVISORS)
def page_save() -> Any:
    """Validate the edited document, or save it; a refused one is shown again with its lines."""
    text = request.form.get("document", "").replace("\r\n", "\n")
    try:
        if request.form.get("action") == "validate":
            library = checked(text)
            flash(statute_word("valid", n=len(library)), "ok")
            return _page(text)
        done = save(auth.actor(), text, request.form.get("base") or None)
    except (Invalid, Conflict) as refused:
        flash(refused.message, "error")
        return _page(text, problems=refused.problems, status=refused.status)
    flash(statute_word("valid", n=done["entries"]), "ok")
    return redirect(url_for("ops_statutes.page"), code=303)


@bp.post("/ops/statutes/reset")
@require(*SUPERVISORS)
def page_reset() -> Response:
    """Restore the shipped file."""
    reset(auth.actor(), request.form.get("base") or None)
    flash(statute_word("source_shipped"), "ok")
    return redirect(url_for("ops_statutes.page"), code=303)


@bp.get("/ops/statutes/statutes.yaml")
@require()
def page_download() -> Response:
    """Download the document in force, exactly as saved."""
    document, _ = in_force()
    return Response(
        document.text,
        mimetype="application/yaml",
        headers={"Content-Disposition": "attachment; filename=statutes.yaml"},
    )


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/statutes")
@require()
def api_statutes() -> Response:
    """Statutes by area and the caller's words; ?format=yaml gives the whole document."""
    document, library = in_force()
    if request.args.get("format") == "yaml":
        return Response(document.text, mimetype="application/yaml")
    found = listing(library, request.args.get("area", ""), request.args.get("q", ""))
    return jsonify(_view(document, library, found))


@bp.put("/api/v1/statutes")
@require(*SUPERVISORS)
def api_save() -> Response:
    """Replace the document (YAML body); If-Match or ?base= names the version edited from."""
    base = request.args.get("base") or (request.headers.get("If-Match") or "").strip('"') or None
    return jsonify(save(auth.actor(), request.get_data(as_text=True), base))


@bp.delete("/api/v1/statutes")
@require(*SUPERVISORS)
def api_reset() -> Response:
    """Bring the shipped file back in force."""
    return jsonify(reset(auth.actor(), request.args.get("base") or None))


@bp.get("/api/v1/agents/<agent_id>/call/statutes")
def api_call_statutes(agent_id: str) -> Response:
    """The statutes for the agent's current call (area, intake answers, the caller's words)."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    status = context.board().get(agent_id)
    if status is None:
        raise NotFound(f"no agent {agent_id!r} on the roster", field="agent_id")
    reservation = context.reservations().get(status.reservation) if status.reservation else None
    if reservation is None:
        return jsonify({"call_sid": None, "area": None, "statutes": []})
    return jsonify(for_call(reservation.call_sid, reservation.area or ""))

"""The statutes knowledge base in the console: read and search by anyone signed in, edited by
supervisors only, every save checked whole (problems with their lines) and audited, kept in
Redis for every web host, and the desk's panel for a labor call about unpaid wages."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis as redis_lib
import yaml

from queues import keys
from queues.audit import AuditLog
from queues.statutes import StatuteShelf, digest
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

SHIPPED = (Path(__file__).parents[2] / "hotline" / "statutes.yaml").read_text(encoding="utf-8")
LABOR_CALL = "CA" + "5" * 32


def shipped_with(change) -> str:
    """The shipped document with one change made to its data, written back as YAML."""
    # libyaml's loader and dumper: the pure-Python ones take a second on this document.
    document = yaml.load(SHIPPED, Loader=yaml.CSafeLoader)
    change(document["statutes"])
    return yaml.dump(document, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)


def test_any_signed_in_user_reads_and_searches_the_statutes(hotline: Hotline):
    agent = sign_in(hotline.app, "wang")
    found = agent.get("/api/v1/statutes?q=加班费").json
    cited = {(s["law"]["zh"], s["article"]["zh"]) for s in found["statutes"]}
    assert ("《中华人民共和国劳动法》", "第四十四条") in cited
    assert ("《中华人民共和国劳动合同法》", "第三十一条") in cited
    assert found["source"] == "shipped" and found["version"] == digest(SHIPPED)

    labor = agent.get("/api/v1/statutes?area=labor").json["statutes"]
    assert len(labor) >= 10 and all("labor" in s["areas"] for s in labor)
    assert agent.get("/api/v1/statutes?area=nowhere").status_code == 422

    page = agent.get("/ops/statutes?q=竞业限制").get_data(as_text=True)
    assert 'data-statute="labor-lcl-23"' in page and 'data-statute="labor-lcl-24"' in page
    assert 'id="statutes-editor"' not in page  # agents read; they do not edit
    assert agent.get("/ops/statutes/statutes.yaml").get_data(as_text=True) == SHIPPED


def test_only_supervisors_change_the_document(hotline: Hotline):
    anonymous = hotline.app.test_client()
    assert anonymous.put("/api/v1/statutes", data=SHIPPED).status_code == 401
    assert anonymous.get("/api/v1/statutes").status_code == 401
    for name in ("olga", "wang"):
        user = sign_in(hotline.app, name)
        assert user.put("/api/v1/statutes", data=SHIPPED).status_code == 403
        assert user.delete("/api/v1/statutes").status_code == 403
        assert user.form("/ops/statutes", {"document": SHIPPED}).status_code == 403
    assert hotline.redis.get(keys.statutes()) is None
    assert AuditLog(hotline.redis).recent(5) == []


def test_a_supervisor_saves_an_edit_that_every_host_sees_and_the_audit_log_keeps(hotline: Hotline):
    sam = sign_in(hotline.app, "sam")

    def reword(statutes):
        first = next(s for s in statutes if s["id"] == "labor-lcl-30")
        first["keywords"].append("工钱")
        statutes[:] = [s for s in statutes if s["id"] != "general-pml-33"]

    text = shipped_with(reword)
    answer = sam.put(f"/api/v1/statutes?base={digest(SHIPPED)}", data=text.encode())
    assert answer.status_code == 200, answer.json
    assert answer.json["changed"] == ["labor-lcl-30"]
    assert answer.json["removed"] == ["general-pml-33"] and answer.json["added"] == []

    # Another web host (a new app on the same Redis) reads the same document.
    assert StatuteShelf(hotline.redis).current(SHIPPED).text == text
    found = sign_in(hotline.app, "wang").get("/api/v1/statutes?q=工钱").json
    assert found["source"] == "edited" and found["statutes"][0]["id"] == "labor-lcl-30"

    entry = AuditLog(hotline.redis).recent(1)[0]
    assert (entry.actor, entry.action, entry.target) == ("sam", "statutes.save", "statutes")
    assert entry.before["source"] == "shipped" and entry.before["version"] == digest(SHIPPED)
    assert entry.after["version"] == digest(text) and entry.after["removed"] == ["general-pml-33"]

    # A save made from the shipped version, after this one, is refused: nothing is overwritten.
    stale = sam.put(f"/api/v1/statutes?base={digest(SHIPPED)}", data=SHIPPED.encode())
    assert stale.status_code == 409 and stale.json["error"]["field"] == "base"
    assert StatuteShelf(hotline.redis).current(SHIPPED).text == text

    back = sam.delete(f"/api/v1/statutes?base={digest(text)}")
    assert back.status_code == 200 and back.json["source"] == "shipped"
    assert AuditLog(hotline.redis).recent(1)[0].action == "statutes.reset"
    assert hotline.redis.get(keys.statutes()) is None


def test_a_refused_document_lists_its_problems_with_lines_and_saves_nothing(hotline: Hotline):
    sam = sign_in(hotline.app, "sam")
    broken = SHIPPED.replace(
        "article: {zh: 第三十一条, en: Article 31}", "article: {zh: 第三十一条, en: Article 13}", 1
    )
    broken = broken.replace("areas: [traffic]", "areas: [traffik]", 1)
    answer = sam.put("/api/v1/statutes", data=broken.encode())
    assert answer.status_code == 422
    problems = answer.json["error"]["problems"]
    lines = broken.splitlines()
    article = next(p for p in problems if p["field"].endswith("article.en"))
    assert "Article 31" in article["message"] and "Article 13" in lines[article["line"] - 1]
    area = next(p for p in problems if p["field"].endswith(".areas"))
    assert "traffik" in area["message"] and "traffik" in lines[area["line"] - 1]
    assert hotline.redis.get(keys.statutes()) is None
    assert AuditLog(hotline.redis).recent(5) == []

    # The console page shows the same problems with their lines, and keeps the text as typed.
    page = sam.form("/ops/statutes", {"document": broken, "action": "save"})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert f'data-line="{article["line"]}"' in html and "traffik" in html
    assert hotline.redis.get(keys.statutes()) is None

    checked = sam.form("/ops/statutes", {"document": SHIPPED, "action": "validate"})
    assert checked.status_code == 200 and 'class="flash ok"' in checked.get_data(as_text=True)
    assert hotline.redis.get(keys.statutes()) is None  # validating saves nothing


def test_the_console_form_saves_and_the_page_shows_who_saved(hotline: Hotline):
    sam = sign_in(hotline.app, "sam")
    text = shipped_with(lambda statutes: statutes.pop())
    saved = sam.form("/ops/statutes", {"document": text, "action": "save", "base": digest(SHIPPED)})
    assert saved.status_code == 303
    page = sam.get("/ops/statutes").get_data(as_text=True)
    assert 'data-source="edited"' in page and "sam" in page
    assert AuditLog(hotline.redis).recent(1)[0].after["entries"] == len(
        yaml.load(text, Loader=yaml.CSafeLoader)["statutes"]
    )


def test_the_desk_shows_a_labor_calls_wage_articles_first(hotline: Hotline):
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(LABOR_CALL, area="labor", summary="仍在职")
    # The caller still works there (intake 2: "1") and said the wages are months late.
    hotline.redis.hset(
        keys.call(LABOR_CALL), mapping={"answers": "11", "speech": "公司拖欠我三个月工资"}
    )
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.accept(match.reservation_id, hotline.now).changed

    wang = sign_in(hotline.app, "wang")
    found = wang.get("/api/v1/agents/d1/call/statutes").json
    assert found["area"] == "labor" and found["answers"] == {"contract": "1", "still_employed": "1"}
    first = [s["id"] for s in found["statutes"][:8]]
    assert "labor-lcl-30" in first and "labor-lcl-85" in first
    assert found["statutes"][0]["id"] == "labor-lcl-30"  # the caller's words: 拖欠, 工资
    matched = [s["id"] for s in found["statutes"] if s["matched"]]
    assert "labor-lcl-38" in matched and "labor-lcl-46" not in matched

    desk = wang.get("/ops/desk/").get_data(as_text=True)
    assert 'id="statutes-panel"' in desk and 'data-area="labor"' in desk
    assert 'data-statute="labor-lcl-30"' in desk and "第三十条" in desk
    assert sign_in(hotline.app, "emily").get("/api/v1/agents/d1/call/statutes").status_code == 403


def test_the_document_downloads_as_yaml_and_redis_down_leaves_the_shipped_file(hotline: Hotline):
    sam = sign_in(hotline.app, "sam")
    text = shipped_with(lambda statutes: statutes.pop())
    assert sam.put("/api/v1/statutes", data=text.encode()).status_code == 200
    exported = sam.get("/api/v1/statutes?format=yaml")
    assert exported.mimetype == "application/yaml" and exported.get_data(as_text=True) == text

    gone = redis_lib.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    found = StatuteShelf(gone).current(SHIPPED)
    assert found.source == "shipped" and found.text == SHIPPED

"""The statutes document: the shipped file reads, names laws and articles exactly, covers every
area, and finds the statutes callers' words point to; broken documents are refused with lines."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from routing.config import load_config
from routing.problems import ProblemsError
from routing.statutes import (
    Library,
    area_intake,
    article_names,
    chinese_number,
    export_statutes,
    law_search_url,
    parse_chinese_number,
    parse_statutes,
)

ROOT = Path(__file__).parents[2]
SHIPPED = (ROOT / "hotline" / "statutes.yaml").read_text(encoding="utf-8")
LABOUR_CONTRACT_LAW = "《中华人民共和国劳动合同法》"
LABOUR_LAW = "《中华人民共和国劳动法》"
CIVIL_CODE = "《中华人民共和国民法典》"


@pytest.fixture(scope="module")
def areas():
    config = load_config((ROOT / "hotline" / "hotline.yaml").read_text(encoding="utf-8"))
    return area_intake(config.areas)


@pytest.fixture(scope="module")
def library(areas) -> Library:
    return parse_statutes(SHIPPED, source="statutes.yaml", areas=areas)


def cited(statutes) -> set[tuple[str, str]]:
    return {(s.law["zh"], s.article["zh"]) for s in statutes}


def refused(text: str, areas) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        parse_statutes(text, source="statutes.yaml", areas=areas)
    return [str(problem) for problem in caught.value.problems]


# --- the shipped file -------------------------------------------------------------------------


def test_every_area_has_at_least_ten_statutes(library, areas):
    for area in areas:
        assert len(library.in_area(area)) >= 10, area
    assert len(library) >= 70


def test_every_article_is_named_exactly_in_both_languages(library):
    for statute in library.statutes:
        assert re.fullmatch(
            r"第[零一二三四五六七八九十百千]+条(之[一二三四五六七八九十]+)?", statute.article["zh"]
        )
        assert re.fullmatch(r"Article \d+(-\d+)?", statute.article["en"])
        number = int(statute.article["en"].split()[1].split("-")[0])
        assert statute.article["zh"].startswith(f"第{chinese_number(number)}条")
        assert statute.law["zh"].startswith("《") and statute.law["zh"].endswith("》")
        assert statute.url == law_search_url(statute.law["zh"])
        assert statute.url.startswith("https://flk.npc.gov.cn/")


def test_the_labor_area_has_the_wage_articles(library):
    labor = cited(library.in_area("labor"))
    for article in ("第三十条", "第三十一条", "第八十五条"):
        assert (LABOUR_CONTRACT_LAW, article) in labor
    assert (LABOUR_LAW, "第四十四条") in labor and (LABOUR_LAW, "第五十条") in labor
    assert ("《工伤保险条例》", "第十四条") in labor


def test_the_named_laws_of_each_area_are_there(library):
    assert (CIVIL_CODE, "第一千零七十六条") in cited(library.in_area("family"))
    assert any(s.law["zh"] == "《中华人民共和国反家庭暴力法》" for s in library.in_area("family"))
    assert ("《中华人民共和国道路交通安全法》", "第七十六条") in cited(library.in_area("traffic"))
    assert (CIVIL_CODE, "第一百八十八条") in cited(library.in_area("general"))
    criminal = {s.law["zh"] for s in library.in_area("criminal")}
    assert {"《中华人民共和国刑法》", "《中华人民共和国刑事诉讼法》"} <= criminal
    assert any(s.law["zh"] == "《中华人民共和国法律援助法》" for s in library.in_area("general"))
    assert any(s.law["zh"] == "《中华人民共和国公司法》" for s in library.in_area("corporate"))
    assert any(s.law["zh"] == CIVIL_CODE for s in library.in_area("contract"))


def test_the_document_reads_back_from_its_export(library, areas):
    again = parse_statutes(export_statutes(library), source="export.yaml", areas=areas)
    assert again == library


# --- search -----------------------------------------------------------------------------------


def test_overtime_pay_finds_the_overtime_articles(library):
    found = cited(library.search("加班费")[:5])
    assert (LABOUR_LAW, "第四十四条") in found
    assert (LABOUR_CONTRACT_LAW, "第三十一条") in found
    assert (LABOUR_LAW, "第四十四条") in cited(library.search("overtime pay")[:3])


def test_bride_price_finds_the_bride_price_rules(library):
    found = library.search("彩礼")
    laws = [s.law["zh"] for s in found[:3]]
    assert "《最高人民法院关于审理涉彩礼纠纷案件适用法律若干问题的规定》" in laws
    assert any("婚姻家庭编的解释" in law for law in laws)
    assert all("family" in s.areas for s in found[:3])
    assert {s.id for s in library.search("bride price")[:3]} == {s.id for s in found[:3]}


def test_non_compete_finds_articles_23_and_24(library):
    assert cited(library.search("竞业限制")[:2]) == {
        (LABOUR_CONTRACT_LAW, "第二十三条"),
        (LABOUR_CONTRACT_LAW, "第二十四条"),
    }
    assert {s.id for s in library.search("non-compete")[:2]} == {"labor-lcl-23", "labor-lcl-24"}


def test_a_callers_sentence_finds_the_statute_its_words_name(library):
    assert library.search("公司拖欠我三个月工资")[0].article["zh"] == "第三十条"
    assert library.search("我被家暴了")[0].areas == ("family",)
    assert library.search("交通事故 赔偿")[0].id == "traffic-rts-76"
    assert library.search("押金不退") != []
    assert library.search("工伤")[0].law["zh"] == "《工伤保险条例》"


def test_words_that_name_nothing_find_nothing(library):
    assert library.search("") == []
    assert library.search("   ") == []
    assert library.search("zebra crossing umbrella") == []
    assert library.search("天气") == []


def test_search_can_keep_to_one_area(library):
    found = library.search("赔偿", area="traffic")
    assert found and all("traffic" in s.areas for s in found)


def test_search_and_a_calls_statutes_take_well_under_50_ms(library):
    started = time.perf_counter()
    for words in ("加班费", "公司拖欠我三个月工资", "unpaid wages overtime", "彩礼 离婚"):
        library.search(words)
        library.for_call("labor", {"still_employed": "2"}, words=words)
    assert (time.perf_counter() - started) / 8 < 0.005


# --- a call's statutes ------------------------------------------------------------------------


def test_a_calls_statutes_put_the_intake_matches_first(library):
    found = library.for_call("labor", {"contract": "2", "still_employed": "1"})
    assert len(found) == len(library.in_area("labor"))
    first = found[0]
    assert first.applies_to({"contract": "2", "still_employed": "1"}) > 0
    matched = [s for s in found if s.applies_to({"contract": "2", "still_employed": "1"})]
    assert found[: len(matched)] == matched
    assert {"labor-lcl-10", "labor-lcl-82"} <= {s.id for s in matched}


def test_without_answers_an_area_keeps_document_order(library):
    assert library.for_call("labor") == library.in_area("labor")
    assert [s.id for s in library.for_call("labor")[:3]] == [
        "labor-lcl-30",
        "labor-lcl-31",
        "labor-lcl-85",
    ]


def test_the_callers_words_rank_an_areas_statutes(library):
    found = library.for_call("family", {}, words="他打我，我想申请保护令")
    assert found[0].law["zh"] == "《中华人民共和国反家庭暴力法》"


# --- article numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [(10, "十"), (17, "十七"), (30, "三十"), (105, "一百零五"), (110, "一百一十"),
     (1010, "一千零一十"), (1076, "一千零七十六"), (1208, "一千二百零八"), (1260, "一千二百六十")],
)  # fmt: skip
def test_article_numbers_are_written_as_statutes_write_them(number, text):
    assert chinese_number(number) == text
    assert parse_chinese_number(text) == number


def test_numbers_written_otherwise_are_not_read():
    assert parse_chinese_number("一十") is None
    assert parse_chinese_number("三零") is None
    assert parse_chinese_number("十十") is None
    assert article_names(287, 2) == {"zh": "第二百八十七条之二", "en": "Article 287-2"}


# --- refusals ---------------------------------------------------------------------------------

ONE = """\
statutes:
  - id: labor-lcl-30
    areas: [labor]
    law: {zh: 《中华人民共和国劳动合同法》, en: Labour Contract Law}
    article: {zh: 第三十条, en: Article 30}
    plain: {zh: 按时足额发工资。, en: Wages in full and on time.}
    keywords: [拖欠工资]
    intake: [still_employed=1]
    url: https://flk.npc.gov.cn/search?searchContent=x
"""


def test_a_small_document_reads(areas):
    library = parse_statutes(ONE, source="s.yaml", areas=areas)
    assert library.statutes[0].intake == (("still_employed", "1"),)
    assert library.statutes[0].citation("zh") == "《中华人民共和国劳动合同法》第三十条"
    assert library.statutes[0].citation("en") == "Labour Contract Law, Article 30"


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("en: Article 30", "en: Article 31"), 5, "第三十条 is Article 30, not Article 31"),
        (("zh: 第三十条", "zh: 第30条"), 5, "expected an article as 第…条"),
        (("zh: 第三十条", "zh: 第三零条"), 5, "not a number as statutes write one"),
        (("en: Article 30", "en: Art. 30"), 5, "expected an article as Article N"),
        (("[labor]", "[labour]"), 3, "unknown area 'labour'"),
        (("still_employed=1", "still_employed=7"), 8, "has no answer '7'"),
        (("still_employed=1", "children=1"), 8, "no intake question 'children'"),
        (("zh: 《中华人民共和国劳动合同法》", "zh: 劳动合同法"), 4, "official title in 《》"),
        (("https://flk.npc.gov.cn/", "https://example.com/"), 9, "national law database"),
        (("keywords: [拖欠工资]", "keywords: []"), 7, "words callers use"),
        (("    url:", "    link:"), 9, "unknown field"),
    ],
)
def test_a_broken_entry_is_refused_with_its_line(areas, change, line, words):
    problems = refused(ONE.replace(*change), areas)
    assert any(p.startswith(f"line {line}:") and words in p for p in problems), problems


def test_a_missing_field_and_a_repeated_article_are_refused(areas):
    no_plain = ONE.replace(
        "    plain: {zh: 按时足额发工资。, en: Wages in full and on time.}\n", ""
    )
    assert any("plain: missing" in p for p in refused(no_plain, areas))
    twice = ONE + ONE.split("statutes:\n", 1)[1].replace("labor-lcl-30", "labor-again")
    assert any("is already the entry 'labor-lcl-30'" in p for p in refused(twice, areas))
    same_id = ONE + ONE.split("statutes:\n", 1)[1].replace(
        "第三十条, en: Article 30", "第十条, en: Article 10"
    )
    assert any("used twice" in p for p in refused(same_id, areas))


def test_not_yaml_or_aliases_are_refused(areas):
    assert any("not valid YAML" in p for p in refused("statutes: [\n", areas))
    assert any("aliases" in p for p in refused("a: &x 1\nb: *x\n", areas))
    assert any("statutes" in p for p in refused("- 1\n", areas))


# --- the reviewed table in the docs -----------------------------------------------------------


def test_the_docs_table_lists_every_shipped_statute(library, areas):
    from tools import statutes_table

    docs = (ROOT / "docs" / "statutes.md").read_text(encoding="utf-8")
    assert statutes_table.written(docs) == statutes_table.render(library, list(areas))
    for statute in library.statutes:
        assert f"| {statute.id} |" in docs


def test_a_callers_words_weigh_with_the_intake_answers(library):
    still_employed = {"contract": "1", "still_employed": "1"}
    found = library.for_call("labor", still_employed, words="老板拖欠我三个月工资")
    first = [s.id for s in found[:4]]
    assert first[:2] == ["labor-lcl-30", "labor-ll-50"]  # both of the caller's words
    assert "labor-lcl-85" in first

"""The key facts said on a call (routing.call_facts): dates, amounts, parties and employer
names from Mandarin and English lines, each once and in the order said, and the note's block."""

from __future__ import annotations

import pytest

from routing.call_facts import MAX_PER_KIND, Fact, block, by_kind, facts_in


def kinds(lines: list[str]) -> dict[str, list[str]]:
    return by_kind(facts_in(lines))


@pytest.mark.parametrize(
    ("line", "date"),
    [
        ("我是2026年3月5日入职的", "2026年3月5日"),
        ("三月的工资，3月5号就该发了", "3月5号"),
        ("去年十月开始就没发工资", "去年十月"),
        ("我2019年进的厂", "2019年"),
        ("二〇二五年十二月三十一日合同到期", "二〇二五年十二月三十一日"),
        ("He stopped paying me on March 5, 2026.", "March 5, 2026"),
        ("I started there last October", "last October"),
        ("the lease ended on the 5th of March", "5th of March"),
        ("the accident was on 2026-01-14", "2026-01-14"),
    ],
)
def test_dates_as_said(line, date):
    assert kinds([line])["date"] == [date]


@pytest.mark.parametrize(
    ("line", "amount"),
    [
        ("老板欠我3万元工资", "3万元"),
        ("押金五千块一直不退", "五千块"),
        ("每个月5000元", "5000元"),
        ("赔偿金一共¥5,000", "¥5,000"),
        ("他借了我2.5万", "2.5万"),
        ("They owe me $300 for the last week", "$300"),
        ("the deposit was 1,200 dollars", "1,200 dollars"),
    ],
)
def test_amounts_as_said(line, amount):
    assert kinds([line])["amount"] == [amount]


def test_words_that_only_look_like_amounts_are_not_amounts():
    found = kinds(["千万别挂电话", "我们有3万人", "I may call back"])
    assert "amount" not in found and "date" not in found


def test_parties_in_mandarin_longer_words_first():
    found = kinds(["我前夫不给抚养费，房东也在催，对方说要起诉"])
    assert found["party"] == ["前夫", "房东", "对方"]


def test_parties_in_english_singular_and_lower_case():
    found = kinds(["My Landlord kept the deposit", "both landlords and my ex-husband"])
    assert found["party"] == ["landlord", "ex-husband"]


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("我在深圳市华强电子有限公司上班", "深圳市华强电子有限公司"),
        ("我是被东方建设集团辞退的", "东方建设集团"),
        ("在东莞一家电子厂打工", "电子厂"),
        ("I worked at Acme Corp for two years", "Acme Corp"),
        ("Bright Star Trading Ltd. has not paid", "Bright Star Trading Ltd"),
    ],
)
def test_employer_names(line, name):
    assert kinds([line])["employer"] == [name]


def test_the_company_unnamed_is_a_party_not_an_employer_name():
    found = kinds(["我们公司不给加班费，老板说公司没钱", "The Company said no"])
    assert "employer" not in found
    assert found["party"] == ["公司", "老板", "company"]


def test_a_named_company_is_not_also_listed_as_the_party_company():
    found = kinds(["我在华强电子有限公司做了三年"])
    assert found == {"employer": ["华强电子有限公司"]}


def test_each_fact_once_in_the_order_first_said_across_lines():
    lines = [
        "老板欠我3万元，2026年3月5日说好给的",
        "对，3万元，老板一直拖",
        "I mean 2026年3月5日",
    ]
    assert facts_in(lines) == [
        Fact("party", "老板"),
        Fact("amount", "3万元"),
        Fact("date", "2026年3月5日"),
    ]


def test_a_kind_is_capped_so_the_block_stays_short():
    lines = [f"第{n}笔是{n}000元" for n in range(1, 10)]
    assert len(kinds(lines)["amount"]) == MAX_PER_KIND


def test_the_block_has_a_line_per_kind_with_the_labels_given():
    facts = facts_in(["去年十月入职华强电子有限公司，老板欠我五千块"])
    labels = {"date": "日期", "amount": "金额", "party": "相关方", "employer": "单位"}
    assert block(facts, "通话要点：", labels, "、") == (
        "通话要点：\n日期: 去年十月\n金额: 五千块\n相关方: 老板\n单位: 华强电子有限公司"
    )


def test_no_facts_no_block():
    assert facts_in(["喂，你好", "Hello, can you hear me?"]) == []
    assert block([], "Facts:", {}, ", ") == ""

"""The key facts said during a call, found in its transcript lines for the agent's wrap-up note.

Dates, amounts, parties and employer names are what a legal consultation's note needs first
("2026年3月5日", "3万元", "老板", "深圳华强电子有限公司"). They are picked out of the lines with
patterns for Mandarin and English as the live transcription writes them, kept as said (the
agent reads and corrects the block before saving it) and in the order first heard.

Pure: no I/O; the desk reads the lines from the call's feed and offers the block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The kinds of fact, in the order the block lists them.
KINDS = ("date", "amount", "party", "employer")
# At most this many facts of a kind: the block is a start for the note, not the transcript.
MAX_PER_KIND = 6

# Mandarin numerals as transcription writes them when it does not use digits.
_CN = "零〇一二两三四五六七八九十百千"
_CN_SMALL = "一二三四五六七八九十"
_DAY = rf"(?:\d{{1,2}}|[{_CN_SMALL}]{{1,3}})"
_MONTH_NAMES = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"

_DATE = re.compile(
    "|".join(
        (
            # 2026年3月5日, 2026年3月, 二〇二六年三月五号
            rf"(?:\d{{4}}|[{_CN}]{{4}})年{_DAY}月(?:{_DAY}[日号])?",
            # 去年十月, 今年3月份, 上个月5号
            rf"(?:去年|今年|前年|明年)(?:{_DAY}月份?(?:{_DAY}[日号])?|底|初|年底|年初)",
            # 2019年, 2025年底
            r"\d{4}年(?:底|初)?",
            # 3月5号, 十月一日
            rf"{_DAY}月{_DAY}[日号]",
            # 2026-03-05, 3/5/2026
            r"\b\d{4}-\d{1,2}-\d{1,2}\b",
            r"\b\d{1,2}/\d{1,2}/\d{2,4}\b",
            # March 5, March 5th, 2026, 5 March 2026, the 5th of March
            rf"\b(?:{_MONTH_NAMES})\.?\s+{_ORDINAL}\b(?:,?\s+\d{{4}})?",
            rf"\b{_ORDINAL}\s+(?:of\s+)?(?:{_MONTH_NAMES})\b(?:,?\s+\d{{4}})?",
            # last October, this March, March 2026
            rf"\b(?:last|this|next)\s+(?:{_MONTH_NAMES})\b",
            rf"\b(?:{_MONTH_NAMES})\s+\d{{4}}\b",
        )
    ),
    re.IGNORECASE,
)

_NUMBER = r"\d[\d,，]*(?:\.\d+)?"
_AMOUNT = re.compile(
    "|".join(
        (
            # ¥5,000, ￥3万, $300, $1.2k
            rf"[¥￥$]\s?{_NUMBER}(?:\s?(?:万|千|k\b|thousand\b|million\b))?",
            # 5000元, 3万元, 3万块钱, 2.5万, 300 dollars, 5,000 RMB
            rf"{_NUMBER}\s?(?:万|千)?\s?(?:元|块钱|块|人民币|美元|港币)",
            rf"{_NUMBER}\s?万(?![人字里步米])",
            rf"\b{_NUMBER}\s?(?:thousand\s|k\s)?\s?(?:dollars|dollar|yuan|RMB|kuai)\b",
            rf"\bRMB\s?{_NUMBER}",
            # 五千块, 三万元, 两万五
            rf"[{_CN}]+万(?![不别要记])[{_CN_SMALL}]?(?:元|块钱|块)?",
            rf"[{_CN}]*[十百千][{_CN}]*(?:元|块钱|块)",
        )
    ),
    re.IGNORECASE,
)

# Parties as callers name them; longer words first, so 前夫 is not read as 夫.
_PARTIES_ZH = (
    "用人单位", "包工头", "前夫", "前妻", "丈夫", "老公", "妻子", "老婆", "男朋友", "女朋友",
    "老板", "雇主", "公司", "单位", "房东", "租客", "房客", "对方", "中介", "物业", "邻居",
    "婆婆", "公公", "父母", "子女", "孩子", "保险公司", "肇事司机", "司机", "经理", "同事",
)  # fmt: skip
_PARTIES_EN = (
    "ex-husband", "ex-wife", "husband", "wife", "boyfriend", "girlfriend", "partner",
    "employer", "boss", "company", "manager", "contractor", "landlord", "landlady", "tenant",
    "the other party", "other driver", "insurer", "insurance company", "neighbour", "neighbor",
    "children", "child",
)  # fmt: skip
_PARTY_ZH = re.compile("|".join(sorted(_PARTIES_ZH, key=len, reverse=True)))
_PARTY_EN = re.compile(
    r"\b(?:" + "|".join(sorted(_PARTIES_EN, key=len, reverse=True)) + r")s?\b", re.IGNORECASE
)

# A Mandarin employer: a name of Chinese, Latin letters or digits before a company's suffix.
_ZH_SUFFIXES = (
    "有限责任公司", "股份有限公司", "有限公司", "集团公司", "集团", "公司", "工厂", "厂",
)  # fmt: skip
_EMPLOYER_ZH = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,24}?(?:" + "|".join(_ZH_SUFFIXES) + ")")
# Where a name starts: after the last of these words in the stretch before the suffix.
_BEFORE_NAME = re.compile(
    r".*(?:在|是|给|被|跟|和|与|对|到|去|从|叫|告|进|那家|这家|一家|的|了|说|入职|离职)"
)
# What is not a name but a way of saying "the company" (a party, listed as such).
_NOT_NAMES = (
    "我们", "你们", "他们", "她们", "我", "他", "她", "那个", "这个", "原来", "以前", "现在",
    "保险", "物业", "中介", "快递", "外包", "劳务", "建筑", "装修", "大", "小", "老", "新",
)  # fmt: skip
_SUFFIXES_EN = r"(?:Corporation|Corp|Inc|Ltd|Limited|LLC|Co|Company|Group|Holdings|Factory)"
_EMPLOYER_EN = re.compile(
    rf"\b((?:[A-Z][\w&'-]*\s+){{1,5}}{_SUFFIXES_EN})\b\.?"
    # "Acme Ltd" is a name, and "Acme Corp's" too; a bare "Company" is not.
)
# Capitalised words that open a sentence or a phrase rather than a name.
_LEADING_EN = {"i", "the", "then", "at", "my", "our", "so", "and", "but", "for", "with", "from",
               "by", "in", "a", "an", "his", "her", "their", "this", "that", "when"}  # fmt: skip


@dataclass(frozen=True)
class Fact:
    """One fact said on the call: its kind (date, amount, party, employer) and words."""

    kind: str
    text: str


def facts_in(lines: Iterable[str]) -> list[Fact]:
    """The facts said in the lines, each once, in the order first said (capped per kind)."""
    found: list[Fact] = []
    seen: set[tuple[str, str]] = set()
    counts = dict.fromkeys(KINDS, 0)
    for line in lines:
        for fact in _facts_of_line(line):
            key = (fact.kind, fact.text.casefold())
            if key in seen or counts[fact.kind] >= MAX_PER_KIND:
                continue
            seen.add(key)
            counts[fact.kind] += 1
            found.append(fact)
    return found


def by_kind(facts: Iterable[Fact]) -> dict[str, list[str]]:
    """The facts' words under each kind that has any, kinds in KINDS order."""
    grouped: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for fact in facts:
        grouped[fact.kind].append(fact.text)
    return {kind: texts for kind, texts in grouped.items() if texts}


def block(facts: Iterable[Fact], heading: str, labels: Mapping[str, str], sep: str) -> str:
    """The note's facts block: a heading, then one line per kind ("label: a, b"); '' if none."""
    grouped = by_kind(facts)
    if not grouped:
        return ""
    lines = [
        heading,
        *(f"{labels.get(kind, kind)}: {sep.join(texts)}" for kind, texts in grouped.items()),
    ]
    return "\n".join(lines)


def _facts_of_line(line: str) -> list[Fact]:
    """The facts in one line, in the order said; a stretch is read as one kind only."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Fact]] = []

    def keep(start: int, end: int, kind: str, text: str) -> None:
        if any(start < b and a < end for a, b in taken):
            return
        taken.append((start, end))
        found.append((start, Fact(kind, text)))

    for match in _DATE.finditer(line):
        keep(match.start(), match.end(), "date", match.group().strip())
    for match in _AMOUNT.finditer(line):
        keep(match.start(), match.end(), "amount", match.group().strip())
    for start, end, name in _employers(line, taken):
        keep(start, end, "employer", name)
    for pattern in (_PARTY_ZH, _PARTY_EN):
        for match in pattern.finditer(line):
            keep(match.start(), match.end(), "party", _party(match.group()))
    return [fact for _, fact in sorted(found, key=lambda pair: pair[0])]


def _employers(line: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Employer names in a line with their spans: Mandarin suffixes, then English ones; a
    Mandarin name starts after any date or amount said just before it."""
    found = []
    for match in _EMPLOYER_ZH.finditer(line):
        first = max([match.start(), *(b for a, b in taken if a < match.end() and b < match.end())])
        text = line[first : match.end()]
        cut = _BEFORE_NAME.match(text)
        start = first + (cut.end() if cut else 0)
        name = line[start : match.end()]
        body = name[: len(name) - len(_zh_suffix(name))]
        if len(body) >= 2 and body not in _NOT_NAMES and not body.startswith(_NOT_NAMES[:4]):
            found.append((start, match.end(), name))
    for match in _EMPLOYER_EN.finditer(line):
        words = match.group(1).split()
        start = match.start(1)
        while len(words) > 1 and words[0].lower() in _LEADING_EN:
            start = line.index(words[1], start + len(words[0]))
            words = words[1:]
        if len(words) >= 2:
            found.append((start, match.end(1), " ".join(words)))
    return found


def _zh_suffix(name: str) -> str:
    """The company suffix a Mandarin name ends with."""
    for suffix in (
        "有限责任公司",
        "股份有限公司",
        "有限公司",
        "集团公司",
        "集团",
        "公司",
        "工厂",
        "厂",
    ):
        if name.endswith(suffix):
            return suffix
    return ""


def _party(word: str) -> str:
    """A party as listed: English in lower case and singular, Mandarin as said."""
    if word.isascii():
        word = word.lower()
        return word[:-1] if word.endswith("s") and word[:-1] in _PARTIES_EN else word
    return word

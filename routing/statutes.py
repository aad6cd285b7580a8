"""The statutes an agent points a caller to: law, article, a plain line, and when each applies.

`parse_statutes(text, source=..., areas=...)` reads the statutes document (YAML, shipped as
`hotline/statutes.yaml`, edited by supervisors in the console) and either returns an immutable
`Library` or raises `ProblemsError` with every problem and its line, so a half-checked document
never reaches an agent's desk. Every entry names its law by its exact official title and its
article exactly (第三十条 / Article 30, the two naming the same number), belongs to known areas,
and its intake tags name real intake questions and answers of those areas.

`Library.for_call(area, answers, words=...)` lists an area's statutes with the ones the
caller's intake answers and own words point to first; `Library.search(words)` finds statutes
by the words a caller uses (加班费, 彩礼, "unpaid wages"): Chinese by substring either way (a
keyword inside the caller's sentence, or the caller's word inside a keyword, title or plain
line), English by whole words. Both work on an index built once when the document is read, so
a desk's lookup is a walk over a few hundred short strings.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from routing.problems import Problem, ProblemsError
from routing.yamldoc import Limits, dump_yaml, read_yaml

# The national law database (国家法律法规数据库) of the NPC; its document ids cannot be checked
# offline, so a statute's address is the database's search for the law's title.
LAW_DATABASE = "https://flk.npc.gov.cn/"
LAW_SEARCH = "https://flk.npc.gov.cn/search?searchContent="
LANGUAGES = ("zh", "en")
MAX_DOCUMENT_CHARS = 400_000
MAX_STATUTES = 1_000
MAX_PLAIN = 300
MAX_KEYWORDS = 30
MAX_RESULTS = 20
# An intake answer a statute fits weighs as much as a keyword inside the caller's sentence.
INTAKE_WEIGHT = 6
LIMITS = Limits(what="the statutes document", max_value=2_000, max_depth=8)
ENTRY_FIELDS = ("id", "areas", "law", "article", "plain", "keywords", "intake", "url")
REQUIRED_FIELDS = ("id", "areas", "law", "article", "plain", "keywords", "url")

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DIGITS = "零一二三四五六七八九"
_UNITS = {"十": 10, "百": 100, "千": 1000}
_ARTICLE_ZH = re.compile(r"^第([零一二三四五六七八九十百千]+)条(?:之([一二三四五六七八九十]+))?$")
_ARTICLE_EN = re.compile(r"^Article ([1-9]\d{0,3})(?:-([1-9]\d?))?$")
_TAG = re.compile(r"^([a-z_][a-z0-9_]*)=(\S+)$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_SPLIT = re.compile(r"[\s,.;:!?，。、；：！？“”\"'()（）《》〈〉/]+")
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which statute a caller needs.
_STOP_WORDS = frozenset(
    "a an and are as at be by for from has have i in is it its my of on or the to was with".split()  # noqa: SIM905
)


# --- article numbers --------------------------------------------------------------------------


def chinese_number(n: int) -> str:
    """A whole number 1-9999 as a statute writes it: 30 三十, 110 一百一十, 1076 一千零七十六."""
    if not 1 <= n <= 9999:
        raise ValueError(f"article numbers run from 1 to 9999, not {n}")
    if 10 <= n < 20:
        return "十" + (_DIGITS[n - 10] if n > 10 else "")
    parts, gap = [], False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // unit % 10
        if digit == 0:
            gap = bool(parts)
            continue
        if gap:
            parts.append("零")
            gap = False
        parts.append(_DIGITS[digit] + name)
    return "".join(parts)


def parse_chinese_number(text: str) -> int | None:
    """Read a statute's Chinese number back (三十一 -> 31); None unless written as statutes do."""
    total, digit = 0, None
    for char in text:
        if char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        elif char in _DIGITS:
            digit = _DIGITS.index(char)
        else:
            return None
    total += digit or 0
    # Only the one way of writing a number counts: "三十" yes, "三零" or "十十" no.
    return total if 1 <= total <= 9999 and chinese_number(total) == text else None


def article_names(number: int, sub: int = 0) -> dict[str, str]:
    """An article's name in both languages: 第三十条 / Article 30 (第一百二十条之一 / 120-1)."""
    zh = f"第{chinese_number(number)}条" + (f"之{chinese_number(sub)}" if sub else "")
    en = f"Article {number}" + (f"-{sub}" if sub else "")
    return {"zh": zh, "en": en}


def law_search_url(title: str) -> str:
    """The national law database's search for a law's title (without its 《》)."""
    return LAW_SEARCH + quote(title.strip("《》"), safe="")


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statute:
    """One article of a law, in the words an agent reads to a caller, and when it applies."""

    id: str
    areas: tuple[str, ...]
    law: Mapping[str, str]
    article: Mapping[str, str]
    plain: Mapping[str, str]
    keywords: tuple[str, ...]
    # Intake answers that make it apply: (question id, answer key), any one is enough.
    intake: tuple[tuple[str, str], ...]
    url: str
    number: int = field(default=0, compare=False)

    def citation(self, language: str = "zh") -> str:
        """The law and article as the agent says them: 《…》第三十条, or "…, Article 30"."""
        if language == "zh":
            return f"{self.law['zh']}{self.article['zh']}"
        return f"{self.law['en']}, {self.article['en']}"

    def applies_to(self, answers: Mapping[str, str]) -> int:
        """How many of its intake tags the caller's answers meet."""
        return sum(1 for question, key in self.intake if answers.get(question) == key)

    def document(self) -> dict[str, Any]:
        """The entry as the YAML document writes it."""
        entry: dict[str, Any] = {
            "id": self.id,
            "areas": list(self.areas),
            "law": dict(self.law),
            "article": dict(self.article),
            "plain": dict(self.plain),
            "keywords": list(self.keywords),
        }
        if self.intake:
            entry["intake"] = [f"{question}={key}" for question, key in self.intake]
        entry["url"] = self.url
        return entry

    def public(self, answers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The entry as the API and the desk show it (with `matched` for a call's answers)."""
        shown = {**self.document(), "intake": [f"{q}={k}" for q, k in self.intake]}
        if answers is not None:
            shown["matched"] = self.applies_to(answers) > 0
        return shown


@dataclass(frozen=True)
class _Indexed:
    """A statute's words prepared once for search."""

    statute: Statute
    zh_keywords: tuple[str, ...]
    en_keywords: tuple[frozenset[str], ...]
    law_zh: str
    plain_zh: str
    law_words: frozenset[str]
    plain_words: frozenset[str]


@dataclass(frozen=True)
class Library:
    """Every statute of the document, in its order, with the search index built from them."""

    statutes: tuple[Statute, ...]
    _index: tuple[_Indexed, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._index and self.statutes:
            object.__setattr__(self, "_index", tuple(_index(s) for s in self.statutes))

    def __len__(self) -> int:
        return len(self.statutes)

    def get(self, statute_id: str) -> Statute | None:
        """The statute with an id, or None."""
        return next((s for s in self.statutes if s.id == statute_id), None)

    def in_area(self, area: str) -> list[Statute]:
        """An area's statutes in document order."""
        return [s for s in self.statutes if area in s.areas]

    def for_call(
        self, area: str, answers: Mapping[str, str] | None = None, *, words: str = ""
    ) -> list[Statute]:
        """An area's statutes, best first: each intake answer a statute fits counts as much as
        one keyword the caller said inside their words; ties keep the document's order."""
        answers = answers or {}
        tokens = _tokens(words) if words else []
        ranked = []
        for order, entry in enumerate(self._index):
            statute = entry.statute
            if area not in statute.areas:
                continue
            heard = _score(entry, tokens) if tokens else 0
            weight = INTAKE_WEIGHT * statute.applies_to(answers) + heard
            ranked.append(((-weight, order), statute))
        ranked.sort(key=lambda pair: pair[0])
        return [statute for _, statute in ranked]

    def search(
        self, words: str, *, area: str | None = None, limit: int = MAX_RESULTS
    ) -> list[Statute]:
        """Statutes for the words a caller uses, best first; none for words that name none."""
        tokens = _tokens(words)
        if not tokens:
            return []
        scored = []
        for order, entry in enumerate(self._index):
            if area and area not in entry.statute.areas:
                continue
            score = _score(entry, tokens)
            if score > 0:
                scored.append((-score, order, entry.statute))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [statute for _, _, statute in scored[:limit]]

    def document(self) -> dict[str, Any]:
        """The whole document as YAML writes it."""
        return {"statutes": [s.document() for s in self.statutes]}


# --- search -----------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """An English word without a plural or possessive ending (wages -> wage)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _words(text: str) -> frozenset[str]:
    """The stemmed English words of a text, without words that say nothing."""
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS)


def _tokens(words: str) -> list[str]:
    """A query's parts: Chinese runs kept whole, English words stemmed and lowercased."""
    tokens: list[str] = []
    for part in _SPLIT.split(words.strip()):
        if not part:
            continue
        if _CJK.search(part):
            tokens.append(part)
        else:
            tokens.extend(sorted(_words(part), key=part.lower().find))
    return tokens


def _index(statute: Statute) -> _Indexed:
    """Prepare a statute's words for search."""
    zh_keywords = tuple(k for k in statute.keywords if _CJK.search(k))
    en_keywords = tuple(_words(k) for k in statute.keywords if not _CJK.search(k))
    return _Indexed(
        statute=statute,
        zh_keywords=zh_keywords,
        en_keywords=tuple(k for k in en_keywords if k),
        law_zh=statute.law["zh"].strip("《》"),
        plain_zh=statute.plain["zh"],
        law_words=_words(statute.law["en"]),
        plain_words=_words(statute.plain["en"]),
    )


def _score(entry: _Indexed, tokens: list[str]) -> int:
    """How well a statute answers the query: keywords weigh most, then the title, then the line."""
    score = 0
    english = {t for t in tokens if not _CJK.search(t)}
    for token in tokens:
        if _CJK.search(token):
            score += _score_chinese(entry, token)
        elif token.isdigit():
            score += 3 if entry.statute.article["en"] == f"Article {token}" else 0
        else:
            score += 2 * (token in entry.law_words) + (token in entry.plain_words)
    for keyword in entry.en_keywords:
        # A keyword phrase counts when the query holds all its words ("unpaid wages").
        if keyword <= english:
            score += 6 + 2 * len(keyword)
        elif keyword & english:
            score += 2
    return score


def _score_chinese(entry: _Indexed, token: str) -> int:
    """A Chinese run against a statute: keywords inside it (a caller's sentence names several),
    else its best keyword (the exact word, or one it is part of); then title and plain line."""
    inside = sum(6 for k in entry.zh_keywords if len(k) >= 2 and k in token and k != token)
    exact = 10 if token in entry.zh_keywords else 0
    partial = 4 if len(token) >= 2 and any(token in k for k in entry.zh_keywords) else 0
    score = inside + (exact or partial)
    if token in entry.law_zh:
        score += 3
    if len(token) >= 2 and token in entry.plain_zh:
        score += 2
    if token == entry.statute.article["zh"]:
        score += 3
    return score


# --- reading ----------------------------------------------------------------------------------

# An area id -> its intake questions -> each question's answer keys.
AreaIntake = Mapping[str, Mapping[str, Collection[str]]]


def parse_statutes(text: str, *, source: str, areas: AreaIntake) -> Library:
    """Check a statutes document against the hotline's areas and intake, and build it, or raise."""
    if len(text) > MAX_DOCUMENT_CHARS:
        message = f"{len(text)} characters; the statutes document is at most {MAX_DOCUMENT_CHARS}"
        raise ProblemsError(source, [Problem((), message)])
    document = read_yaml(text, source, LIMITS)
    reader = _Reader(areas)
    statutes = reader.document(document.data)
    if reader.problems:
        raise ProblemsError(source, document.locate(reader.problems))
    return Library(tuple(statutes))


def export_statutes(library: Library) -> str:
    """The library as a statutes document that reads back to an equal library."""
    return dump_yaml(library.document(), width=120)


class _Reader:
    """Checks entries one by one, collecting every problem with its path."""

    def __init__(self, areas: AreaIntake):
        self.areas = areas
        self.problems: list[Problem] = []
        self.ids: set[str] = set()
        self.articles: dict[tuple[str, str], str] = {}
        self.titles: dict[str, str] = {}

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        """Note a problem at a path."""
        self.problems.append(Problem(path, message))

    def document(self, data: Any) -> list[Statute]:
        """The whole document: a mapping with a `statutes` list."""
        if not isinstance(data, dict):
            self.fail((), "expected a mapping with a `statutes` list")
            return []
        for key in data:
            if key != "statutes":
                self.fail((str(key),), "unknown key; the document holds only `statutes`")
        entries = data.get("statutes")
        if not isinstance(entries, list) or not entries:
            self.fail(("statutes",), "expected a list of statutes")
            return []
        if len(entries) > MAX_STATUTES:
            self.fail(("statutes",), f"{len(entries)} statutes; at most {MAX_STATUTES}")
            return []
        found = [self.entry(("statutes", i), entry) for i, entry in enumerate(entries)]
        return [statute for statute in found if statute is not None]

    def entry(self, path: tuple[str | int, ...], data: Any) -> Statute | None:
        """One statute: every field present, well formed and consistent with the others."""
        if not isinstance(data, dict):
            self.fail(path, "expected a mapping with id, areas, law, article, plain, keywords, url")
            return None
        before = len(self.problems)
        for key in data:
            if key not in ENTRY_FIELDS:
                self.fail((*path, str(key)), f"unknown field; expected {', '.join(ENTRY_FIELDS)}")
        for name in REQUIRED_FIELDS:
            if name not in data:
                self.fail((*path, name), "missing")
        if len(self.problems) > before:
            return None
        statute_id = self.statute_id((*path, "id"), data["id"])
        areas = self.area_list((*path, "areas"), data["areas"])
        law = self.words((*path, "law"), data["law"], limit=200)
        article = self.words((*path, "article"), data["article"], limit=40)
        plain = self.words((*path, "plain"), data["plain"], limit=MAX_PLAIN)
        keywords = self.keywords((*path, "keywords"), data["keywords"])
        intake = self.intake((*path, "intake"), data.get("intake") or [], areas)
        url = self.url((*path, "url"), data["url"])
        number = 0
        if law is not None:
            self.law_title((*path, "law"), law)
        if article is not None:
            number = self.article_number((*path, "article"), article)
        if law is not None and article is not None and number:
            self.unique_article(path, law["zh"], article["zh"], statute_id or "?")
        if len(self.problems) > before:
            return None
        assert statute_id and areas and law and article and plain and keywords and url
        return Statute(statute_id, areas, law, article, plain, keywords, intake, url, number)

    def statute_id(self, path: tuple[str | int, ...], value: Any) -> str | None:
        """An id: lowercase letters, digits and hyphens, once in the document."""
        if not isinstance(value, str) or not _ID.match(value):
            self.fail(path, "expected an id of lowercase letters, digits and hyphens")
            return None
        if value in self.ids:
            self.fail(path, f"the id {value!r} is used twice")
            return None
        self.ids.add(value)
        return value

    def area_list(self, path: tuple[str | int, ...], value: Any) -> tuple[str, ...] | None:
        """The areas a statute belongs to: known area ids, at least one."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.fail(path, "expected a list of area ids")
            return None
        unknown = [a for a in value if not isinstance(a, str) or a not in self.areas]
        if unknown:
            known = ", ".join(self.areas)
            self.fail(path, f"unknown area {unknown[0]!r}; the hotline's areas are {known}")
            return None
        return tuple(dict.fromkeys(value))

    def words(
        self, path: tuple[str | int, ...], value: Any, *, limit: int
    ) -> Mapping[str, str] | None:
        """A text in both languages: {zh: ..., en: ...}, neither empty nor too long."""
        if not isinstance(value, dict):
            self.fail(path, "expected {zh: ..., en: ...}")
            return None
        ok = True
        for key in value:
            if key not in LANGUAGES:
                self.fail((*path, str(key)), "unknown language; expected zh and en")
                ok = False
        for language in LANGUAGES:
            text = value.get(language)
            if not isinstance(text, str) or not text.strip():
                self.fail((*path, language), "missing or empty")
                ok = False
            elif len(text) > limit:
                self.fail((*path, language), f"{len(text)} characters; at most {limit}")
                ok = False
        return {language: value[language].strip() for language in LANGUAGES} if ok else None

    def law_title(self, path: tuple[str | int, ...], law: Mapping[str, str]) -> None:
        """A law's Chinese title in 《》, and one English name for it across the document."""
        title = law["zh"]
        if not (title.startswith("《") and title.endswith("》") and len(title) > 2):
            self.fail((*path, "zh"), "expected the law's official title in 《》")
            return
        named = self.titles.setdefault(title, law["en"])
        if named != law["en"]:
            self.fail((*path, "en"), f"{title} is named {named!r} elsewhere in the document")

    def article_number(self, path: tuple[str | int, ...], article: Mapping[str, str]) -> int:
        """The article's number: 第…条 and Article N, the two naming the same article."""
        zh, en = _ARTICLE_ZH.match(article["zh"]), _ARTICLE_EN.match(article["en"])
        if zh is None:
            self.fail((*path, "zh"), "expected an article as 第…条 (第三十条, 第一千零七十六条)")
        if en is None:
            self.fail((*path, "en"), "expected an article as Article N (Article 30)")
        if zh is None or en is None:
            return 0
        number = parse_chinese_number(zh.group(1))
        sub = parse_chinese_number(zh.group(2)) if zh.group(2) else 0
        if number is None or sub is None:
            self.fail((*path, "zh"), f"{article['zh']} is not a number as statutes write one")
            return 0
        if (number, sub) != (int(en.group(1)), int(en.group(2) or 0)):
            expected = article_names(number, sub or 0)["en"]
            self.fail((*path, "en"), f"{article['zh']} is {expected}, not {article['en']}")
            return 0
        return number

    def unique_article(self, path: tuple[str | int, ...], law: str, article: str, sid: str) -> None:
        """One entry per article of a law: a second would show the agent the same thing twice."""
        first = self.articles.setdefault((law, article), sid)
        if first != sid:
            self.fail((*path, "article"), f"{law}{article} is already the entry {first!r}")

    def keywords(self, path: tuple[str | int, ...], value: Any) -> tuple[str, ...] | None:
        """Words callers use: a list of short, non-empty phrases."""
        if not isinstance(value, list) or not value:
            self.fail(path, "expected a list of words callers use")
            return None
        if len(value) > MAX_KEYWORDS:
            self.fail(path, f"{len(value)} keywords; at most {MAX_KEYWORDS}")
            return None
        bad = [k for k in value if not isinstance(k, str) or not k.strip() or len(k) > 40]
        if bad:
            self.fail(path, f"{bad[0]!r} is not a keyword (a phrase of 1 to 40 characters)")
            return None
        return tuple(dict.fromkeys(k.strip() for k in value))

    def intake(
        self, path: tuple[str | int, ...], value: Any, areas: tuple[str, ...] | None
    ) -> tuple[tuple[str, str], ...]:
        """Intake tags "question=answer": a question of one of the statute's areas, its key."""
        if not isinstance(value, list):
            self.fail(path, "expected a list of intake tags such as still_employed=2")
            return ()
        tags: list[tuple[str, str]] = []
        questions: dict[str, Collection[str]] = {}
        for area in areas or ():
            questions.update(self.areas[area])
        for i, tag in enumerate(value):
            found = _TAG.match(str(tag)) if isinstance(tag, str | int) else None
            if found is None:
                self.fail((*path, i), "expected question=answer, such as still_employed=2")
                continue
            question, key = found.groups()
            if areas is not None and question not in questions:
                names = ", ".join(questions) or "none"
                self.fail((*path, i), f"no intake question {question!r} (its areas ask {names})")
            elif areas is not None and key not in questions[question]:
                keys = ", ".join(questions[question])
                self.fail((*path, i), f"{question} has no answer {key!r} (its answers: {keys})")
            else:
                tags.append((question, key))
        return tuple(dict.fromkeys(tags))

    def url(self, path: tuple[str | int, ...], value: Any) -> str | None:
        """The official text's address in the national law database."""
        if not isinstance(value, str) or not value.startswith(LAW_DATABASE) or " " in value:
            self.fail(path, f"expected an address in the national law database ({LAW_DATABASE})")
            return None
        return value


def area_intake(areas: Mapping[str, Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each area's intake questions and answer keys, from a config's areas."""
    return {
        area_id: {question.id: tuple(question.answers) for question in area.intake}
        for area_id, area in areas.items()
    }


def named_answers(questions: Iterable[str], answers: Iterable[str | None]) -> dict[str, str]:
    """Intake answers by question id, from answers in question order (None: not answered)."""
    return {q: a for q, a in zip(questions, answers, strict=False) if a is not None}

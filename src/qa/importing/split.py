"""Splitting an article that lists numbered cases into an overview and one section per case.

The shape, as news articles about selections and awards print it::

    <overview paragraphs, often with a list "标题(单位);标题(单位);…">
    <a heading or two: "新闻多一点" / "…范例">
    1.重庆市高级人民法院          ← numbered heading: the case's unit
    5G“车载便民法庭”打造…          ← the case's title
    <the case's paragraphs>
    2. 重庆市荣昌区
    …
    (文章来源:上游新闻)            ← a closing credit: back to the overview

Each section keeps its heading and title lines, as the case files do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CASE_HEADING = re.compile(r"^(\d{1,3})\s*[.．、]\s*(\S.*)$")
SENTENCE = re.compile(r"[。！？!?；;，,]")
# Lines such as "(相关资料图)", "（图片来源：网络）", "(视频截图)": captions of media the text does not carry.
NOISE = re.compile(r"^[(（][^()（）]{0,24}(?:图|摄|视频)[^()（）]{0,24}[)）]$")
# Closing credits: "(文章来源:上游新闻)", "责任编辑：某某", "原标题：…".
CREDIT = re.compile(r"^[(（]?\s*(?:文章来源|来源|责任编辑|编辑|记者|原标题|通讯员)\s*[:：]")
SOURCE = re.compile(r"^[(（]?\s*(?:文章)?来源\s*[:：]\s*([^()（）]+?)\s*[)）]?$")
# "标题(单位)" items of a list in the overview: "…分别是:A(市高法院);B(荣昌区委政法委);…".
LISTED = re.compile(r"([^;；:：。]+?)\s*[(（]([^()（）]{2,30})[)）]")
QUOTES = re.compile(r"[\s“”\"'‘’「」『』]")
HEADING_CHARS = 40
TITLE_CHARS = 60


@dataclass
class Section:
    """One numbered case of the article."""

    rank: int
    heading: str  # what follows the number: usually the reporting unit, e.g. "重庆市荣昌区"
    title: str
    lines: list[str]
    listed_unit: str = ""  # the unit the overview's list gives in brackets


@dataclass
class Article:
    overview: list[str]
    sections: list[Section]
    list_heading: str = ""  # the heading just above the first case, e.g. "重庆市政法领域十大改革最佳实践范例"
    notes: list[str] = field(default_factory=list)


def without_noise(lines: list[str]) -> list[str]:
    return [line for line in lines if not NOISE.match(line)]


def declared_source(lines: list[str]) -> str:
    """The source a credit line names ("(文章来源:上游新闻)" → "上游新闻"), or ""."""
    for line in reversed(lines):
        match = SOURCE.match(line)
        if match:
            return match.group(1).strip()
    return ""


def split_article(lines: list[str]) -> Article:
    """The overview and numbered sections of ``lines``; no sections when fewer than two numbered cases are found."""
    lines = without_noise(lines)
    starts = _case_starts(lines)
    if len(starts) < 2:
        return Article(lines, [], notes=["没有找到编号案例（如“1.某某单位”“2.某某单位”），整篇作为一个案例"])
    ends = [*starts[1:], _credits_start(lines, starts[-1])]
    sections = []
    for rank, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        heading = CASE_HEADING.match(lines[start])
        assert heading is not None
        body = lines[start:end]
        title = body[1] if len(body) > 2 and _is_heading(body[1], TITLE_CHARS) else heading.group(2)
        sections.append(Section(rank, heading.group(2).strip(), title, body))
    intro, headings = _intro_and_headings(lines[: starts[0]])
    overview = intro + lines[ends[-1] :]
    _attach_listed_units(overview, sections)
    return Article(overview, sections, headings[-1] if headings else "")


def _case_starts(lines: list[str]) -> list[int]:
    """Line numbers of the longest run of headings numbered 1, 2, 3, … in order."""
    best: list[int] = []
    for first, line in enumerate(lines):
        match = CASE_HEADING.match(line)
        if not match or match.group(1) != "1" or not _is_heading(match.group(2), HEADING_CHARS):
            continue
        chain, expected = [first], 2
        for i in range(first + 1, len(lines)):
            match = CASE_HEADING.match(lines[i])
            if match and int(match.group(1)) == expected and _is_heading(match.group(2), HEADING_CHARS):
                chain.append(i)
                expected += 1
        if len(chain) > len(best):
            best = chain
    return best


def _is_heading(text: str, limit: int) -> bool:
    return len(text) <= limit and not SENTENCE.search(text)


def _credits_start(lines: list[str], last_start: int) -> int:
    """Where the closing credits after the last case begin (the end of the lines when there are none)."""
    end = len(lines)
    while end - 1 > last_start + 1 and CREDIT.match(lines[end - 1]):
        end -= 1
    return end


def _intro_and_headings(lines: list[str]) -> tuple[list[str], list[str]]:
    """The overview paragraphs, and the short heading lines just above the first case (not overview text)."""
    cut = len(lines)
    while cut > 1 and _is_heading(lines[cut - 1], HEADING_CHARS):
        cut -= 1
    return lines[:cut], lines[cut:]


def _attach_listed_units(overview: list[str], sections: list[Section]) -> None:
    """Give each section the unit the overview's "标题(单位)" list names for its title, matched ignoring quotes and spaces."""
    listed: list[tuple[str, str]] = []
    for line in overview:
        items = LISTED.findall(line)
        if len(items) >= 2:
            listed += [(QUOTES.sub("", title), unit.strip()) for title, unit in items]
    by_title = dict(listed)
    for section in sections:
        section.listed_unit = by_title.get(QUOTES.sub("", section.title), "")
    if listed and len(listed) == len(sections) and not any(s.listed_unit for s in sections):
        for section, (_, unit) in zip(sections, listed, strict=True):  # same count, titles reworded: by order
            section.listed_unit = unit

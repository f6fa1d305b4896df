"""Proposing a case file's front matter from what a document says, and writing it out.

Every guess comes with the reason for it, so ``qa import`` can print what it
guessed and the editor can correct it before building.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pypinyin import lazy_pinyin

# A place at the start of a unit's name: "重庆市" "荣昌区" "石柱土家族自治县" "大渡口区".
PLACE = re.compile(r"[\u4e00-\u9fff]{1,8}?(?:特别行政区|自治区|自治州|自治县|省|市|州|盟|区|县|旗)")
LEVEL_BY_SUFFIX = (
    (("特别行政区", "自治区", "省"), "省级"),
    (("自治县", "县", "旗"), "县"),
    (("区",), "区"),
    (("市", "州", "盟"), "市级"),
)
QUOTED = re.compile(r"“([^”]{2,12})”")
FIELD_ORDER = ("id", "title", "unit", "region", "level", "rank", "source", "aliases")
ID_CHARS = 40
ID_SYLLABLES = 8  # an id from a long title keeps its first eight characters' syllables


@dataclass
class Guess:
    """One proposed field value and where it came from (in Chinese)."""

    value: Any
    why: str


@dataclass
class Proposal:
    """A case file ``qa import`` would write: its name, fields with reasons, and body paragraphs."""

    origin: str
    fields: dict[str, Guess] = field(default_factory=dict)
    paragraphs: list[str] = field(default_factory=list)
    text: str = ""  # set for a Markdown file that already is a case file: written unchanged
    name: str = ""

    def value(self, key: str) -> Any:
        guess = self.fields.get(key)
        return guess.value if guess else None

    def set(self, key: str, value: Any, why: str) -> None:
        if value not in (None, "", [], ()):
            self.fields[key] = Guess(value, why)

    def render(self) -> str:
        """The case file: YAML front matter (strings JSON-quoted, which YAML reads as is), a blank line, the body."""
        if self.text:
            return self.text
        lines = ["---"]
        for key in FIELD_ORDER:
            value = self.value(key)
            if value is not None:
                lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
        lines += ["---", "\n\n".join(self.paragraphs), ""]
        return "\n".join(lines)


def places(text: str) -> list[str]:
    """The places a name starts with, outermost first: "重庆市荣昌区" → ["重庆市", "荣昌区"]."""
    found, position = [], 0
    while match := PLACE.match(text, position):
        found.append(match.group(0))
        position = match.end()
    return found


def region_and_level(*names: str) -> tuple[str, str]:
    """The most specific place the unit's names start with, and its level ("市级", "区", "县", "省级")."""
    found = [place for name in names for place in places(name)]
    if not found:
        return "", ""
    region = found[-1]
    for suffixes, level in LEVEL_BY_SUFFIX:
        if region.endswith(suffixes):
            return region, level
    return region, ""


def aliases_for(title: str, body: list[str]) -> list[str]:
    """Quoted names in the title that the body uses again ("“警快办”——不见面就能办" → ["警快办"])."""
    rest = "\n".join(body)
    return [name for name in dict.fromkeys(QUOTED.findall(title)) if rest.count(name) >= 1]


def slug(text: str) -> str:
    """An ASCII id by pinyin of the first few characters: "警快办" → "jingkuaiban", "5G“车载便民法庭”" → "5g-chezaibianminfating"."""
    kept, han = [], 0
    for token in lazy_pinyin(text):
        kept.append(token)
        han += bool(re.fullmatch(r"[a-z]+", token))  # a Chinese character's syllable (other text stays as written)
        if han >= ID_SYLLABLES:
            break
    words = re.sub(r"[^a-z0-9]+", "-", "".join(kept).lower()).strip("-")
    return words[:ID_CHARS].rstrip("-") or "case"


def unique_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base[: ID_CHARS - 4]}-{n}", n + 1
    taken.add(candidate)
    return candidate


def file_name(case_id: str, rank: int | None) -> str:
    """ "NN-id.md" as knowledge/README.md asks: the rank, or 00 for an overview or an unranked case."""
    number = rank if rank is not None and rank < 100 else 0
    return f"{number:02d}-{case_id}.md"

"""Numbers stated in the cases, extracted once at index time.

Comparisons ("石柱和巴南谁的调解成功率更高？") need the same metric from two
cases side by side. Each figure keeps the exact clause it came from, so an
answer built from figures still quotes the source word for word.
"""

from __future__ import annotations

import re

from .models import Chunk, Figure

CLAUSE_SPLIT = re.compile(r"(?<=[,，;；。！？!?、])|(?<=……)")
# value, optional 余/多 ("about"), optional magnitude, optional measure word
FIGURE = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)(?:余|多)?(?P<mag>万|亿)?(?:余|多)?"
    r"(?P<unit>%|人次|元|件|个|名|项|份|张|次|间|所|辆|人|倍|大|分钟|小时|天)?"
)
MAGNITUDE = {"": 1.0, "万": 1e4, "亿": 1e8}
# Dates, versions and ordinals look like numbers but are not figures.
NOT_A_FIGURE = re.compile(r"^\d+(?:\.\d+)?(?:年|月|日|版|G|号)|^\d+\.(?!\d)")


def clauses(text: str) -> list[str]:
    return [c for c in CLAUSE_SPLIT.split(text) if c.strip()]


def extract_figures(chunk: Chunk) -> list[Figure]:
    figures = []
    for clause in clauses(chunk.text):
        for match in FIGURE.finditer(clause):
            figure = _figure(chunk, clause, match)
            if figure is not None:
                figures.append(figure)
    return figures


def _figure(chunk: Chunk, clause: str, match: re.Match[str]) -> Figure | None:
    if NOT_A_FIGURE.match(clause[match.start() :]) or not (match["mag"] or match["unit"]):
        return None
    value = float(match["num"]) * MAGNITUDE[match["mag"] or ""]
    unit = (match["mag"] or "") + (match["unit"] or "")
    metric = (clause[: match.start()] + " " + clause[match.end() :]).strip(" ,，;；。、")
    return Figure(chunk.case_id, chunk.chunk_id, metric, value, unit, clause.strip(" ,，;；、。"))


def figures_for(chunks: list[Chunk]) -> list[Figure]:
    return [figure for chunk in chunks for figure in extract_figures(chunk)]

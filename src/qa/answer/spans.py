"""Candidate answers inside passages and how well each fits a question: clauses, sentences and
their lexical overlap with the question's topic words."""

from __future__ import annotations

import re

import jieba

from ..text import CJK, FUNCTION_WORDS, word_class
from .shapes import (
    ALL_OF,
    CLAUSE_END,
    CLOCK_ASKED,
    CLOCK_IN,
    DATE_IN,
    DIGITS,
    DURATION,
    FIGURE_IN,
    HEADING,
    MAX_CHARS,
    MEASURE,
    MEASURE_ANSWERS,
    MONEY,
    PERCENT,
    QUANTITY,
    SENTENCE_END,
    SPENDING,
    SPENDING_Q,
    STOPS,
    TIME_SPAN,
    WHEN,
)

# Localizers a place word ends in (路上, 村里): the thing is the word before them.
LOCALIZERS = "上里中内外边"


def is_mentioned(word: str, text: str) -> bool:
    """The word, or a two-character-plus part of it (主办单位 → 主办), occurs in the text."""
    if word in text:
        return True
    return any(p in text for p in word_parts(word))


def word_parts(word: str) -> list[str]:
    """The two-character-plus parts of ``word`` that are not question-shape words (主办单位 → 主办, 单位),
    and the thing a place word puts a localizer after (路上 → 路)."""
    parts = [p for p in jieba.lcut_for_search(word) if len(p) >= 2 and p != word and p not in FUNCTION_WORDS]
    if len(word) >= 2 and word[-1] in LOCALIZERS and word_class(word) == "s":
        parts.append(word[:-1])
    return parts


def plain_text(text: str) -> str:
    return re.sub(r"[\s“”\"'‘’]", "", text)


def candidate_spans(text: str, sentences: bool = False) -> list[str]:
    """Candidate answers in a passage: clauses and adjacent pairs, or whole sentences.

    A sentence too long to quote whole is offered as runs of clauses that fit.
    """
    spans: list[str] = []
    for sentence in (x for x in SENTENCE_END.split(text) if x.strip()):
        parts = [p for p in CLAUSE_END.split(sentence) if p.strip()]
        if sentences:
            spans += [sentence.strip()] if len(sentence) <= MAX_CHARS else clause_runs(parts)
        else:
            spans += [p.strip() for p in parts]
            spans += ["".join(parts[i : i + 2]).strip() for i in range(len(parts) - 1)]
    spans = [s.lstrip("”’」』") for s in spans]
    return [s for s in dict.fromkeys(spans) if len(s) >= 4 and not HEADING.match(s)]


def clause_runs(parts: list[str]) -> list[str]:
    """Every maximal run of consecutive clauses that fits in an answer."""
    runs = []
    for start in range(len(parts)):
        run = ""
        for part in parts[start:]:
            if len(run) + len(part) > MAX_CHARS - 20:
                break
            run += part
        if run:
            runs.append(run.strip())
    return runs


def fits_type(query: str, span: str, focus: list[str], scope: str | None = None) -> bool:
    """Only a span with a date answers "when", only a span with a matching figure answers "how many".

    A figure's span must hold a topic word of the question, or ``scope`` must (its sentence, say)."""
    lowered = query.lower()
    if CLOCK_ASKED.search(lowered):
        return bool(CLOCK_IN.search(span))
    if WHEN.search(lowered):
        return bool(DATE_IN.search(span))
    money = bool(MONEY.search(lowered))
    if not (QUANTITY.search(lowered) or money):
        return True
    if money and "元" not in span:
        return False
    spending = bool(SPENDING_Q.search(lowered))
    if spending and not SPENDING.search(span):  # 涉案标的14.3亿元 is not what anything cost
        return False
    if PERCENT.search(lowered) and "%" not in span:
        return False
    if DURATION.search(lowered) and not TIME_SPAN.search(span):
        return False
    if lacks_asked_measure(query, span):
        return False
    cjk_focus = [w for w in focus if CJK.search(w) and len(w) >= 2 and not MONEY.search(w)]
    # What is counted is a topic, even a one-character word: "老百姓办成了多少件事？" is answered by
    # "办事办件8567万余件", which holds none of the other words.
    thing = counted_thing(query)
    if thing and cjk_focus:
        cjk_focus.append(thing)
    counted = bool(FIGURE_IN.search(span)) or all_of(span, query)
    return counted and (spending or not cjk_focus or word_overlap(cjk_focus, scope or span) > 0)


def lacks_asked_measure(query: str, span: str) -> bool:
    """The question names its measure (多少件, 几名) and ``span`` holds no figure in it, in digits
    ("四公里" is also a place)."""
    measure = MEASURE.search(query)
    if measure is None:
        return False
    unit = MEASURE_ANSWERS.get(measure.group(1), measure.group(1))
    return not re.search(rf"{DIGITS}(?:{unit})", span)


def counted_thing(query: str) -> str | None:
    """What a question counts: the word after its measure ("多少件事" → 事, "几名调解员" → 调解员)."""
    measure = MEASURE.search(query)
    if measure is None:
        return None
    words = [w for w in jieba.lcut(query[measure.end() :]) if w.strip()]
    return words[0] if words and CJK.fullmatch(words[0]) and words[0] not in FUNCTION_WORDS else None


def all_of(span: str, query: str) -> bool:
    """ "所有区县" answers "多少区县": an "all of X" counts when X is what the question counts."""
    return any(m.group(1) in query for m in ALL_OF.finditer(span))


def span_score(span: str, focus: list[str], query: str, figure: bool = False) -> float:
    """Lexical fit of ``span`` to the question; with ``figure``, of its clauses holding a figure only."""
    where = figure_clauses(span) if figure else span
    score = word_overlap(focus, where) * 2.0 + bigram_share(query, where) * 0.5
    return score - 0.002 * len(span)  # of two equally good spans, the shorter reads better


def figure_clauses(span: str) -> str:
    """The clauses of ``span`` that hold a figure (digits or a number before a measure word); all of
    ``span`` where none does.

    A figure's candidates include a clause and its neighbour. Scored whole, such a pair borrows the
    neighbour's words: "…把几类力量整合到了一起？" chose "四大功能区,…正焕发澎湃法治力量。" for 力量, a
    word of a metaphor one clause away, over "…6大资源进行优化整合,", where the counted and the verb
    asked stand together. The words around a figure say what it counts; the next clause says
    something else."""
    held = [c for c in CLAUSE_END.split(span) if re.search(r"\d", c) or FIGURE_IN.search(c)]
    return "".join(held) or span


def item_span(text: str, value: str) -> str | None:
    """The list item or clause that names ``value``: "“警快办”——不见面就能办(市公安局)"."""
    for item in re.split(r"[;；。,，\n]", text):
        if value in item:
            return re.sub(r"^\d+\.\s*", "", item.strip().split(":")[-1].strip()) or None
    return None


def trim_span(span: str) -> str:
    span = span.strip().rstrip(",，;；、")
    if len(span) <= MAX_CHARS:
        return span
    clauses = CLAUSE_END.split(span)
    out = ""
    for clause in clauses:
        if len(out) + len(clause) > MAX_CHARS:
            break
        out += clause
    return (out or span[:MAX_CHARS]).rstrip(",，;；、")


def word_overlap(words: list[str], text: str) -> float:
    """Share of ``words`` (weighted by length) found in ``text``; bigrams rescue near-misses."""
    if not words:
        return 0.0
    total = sum(len(w) for w in words)
    found = sum(len(w) * (1.0 if w in text else part_share(w, text) * 0.8) for w in words)
    return found / total


def part_share(word: str, text: str) -> float:
    """Share of a word's meaningful parts (主办单位 → 主办, 单位) found in the text; bigrams for the rest."""
    parts = [p for p in jieba.lcut_for_search(word) if len(p) >= 2 and p != word]
    if not parts:
        return bigram_share(word, text)
    return sum(p in text for p in parts) / len(parts)


def bigram_share(word: str, text: str) -> float:
    grams = {word[i : i + 2] for i in range(len(word) - 1) if CJK.fullmatch(word[i : i + 2])}
    if not grams:
        return 0.0
    return sum(g in text for g in grams) / len(grams)


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (or sentences) of ``text`` holding characters ``start:end``."""
    a = max(text.rfind(p, 0, start) for p in STOPS + "\n") + 1
    ends = [i for i in (text.find(p, max(end - 1, a)) for p in STOPS) if i >= 0]
    b = min(ends) + 1 if ends else len(text)
    return text[a:b].strip()

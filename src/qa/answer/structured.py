"""Structured answers from case metadata: the catalogue of cases, a front-matter field ("which unit"),
and comparisons of one figure across cases."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from ..models import Chunk, Figure, Reply
from ..retrieval import CaseInfo
from ..text import CJK
from .facts import Facts
from .knowledge import Knowledge
from .question import Draft, Question
from .reply import refuse
from .shapes import (
    CHOOSING,
    COLLECTION,
    FIELD_NAMES,
    HIGHER,
    LISTING,
    LOWER,
    MEASURE,
    NAME_CHARS,
    REGION,
    RELATION,
    SUPERLATIVE,
    UNIT,
    asked_levels,
)
from .spans import (
    item_span,
    word_overlap,
    word_parts,
)

ENGLISH_WORD = re.compile(r"[a-z]+")


class Structured:
    """Lists, field look-ups and comparisons."""

    def __init__(self, kb: Knowledge, facts: Facts) -> None:
        self.kb = kb
        self.facts = facts

    def is_catalogue(self, q: Question) -> bool:
        """A question about the practices as a list: all of them, or those of a level, a field or a topic.

        "哪个案例是关于未成年人的？" chooses among them by what they are about, though it asks for one."""
        if any(self.kb.cases[cid].rank is not None for cid in q.named):
            return False
        lowered = q.query.lower()
        if not COLLECTION.search(lowered):
            return False
        if LISTING.search(lowered):
            return True
        # "哪个案例的成功率最高？" compares a figure across the cases instead
        if not CHOOSING.search(lowered) or SUPERLATIVE.search(lowered):
            return False
        return bool(self.topic_words(q, [c for c in self.kb.cases.values() if c.rank is not None]))

    def topic_words(self, q: Question, cases: list[CaseInfo]) -> list[tuple[str, ...]]:
        """What the asked practices are about ("和调解有关", "about traffic"), as concepts: a Chinese
        topic word, or the corpus words one English word translates to.

        Only words the text of one of ``cases`` speaks of count (others do not describe the list:
        "district units" → 基层, 科室, which no district's practice mentions), and none naming the
        list itself: the words of the selection's own title and aliases (十大, 最佳), of a collection,
        a level, a field, a listing or the relation to the topic (an English word translating to
        one, "units" → 单位, says nothing of the topic either)."""
        own = " ".join(f"{c.title} {' '.join(c.aliases)}" for c in self.kb.cases.values() if c.rank is None)
        own += " ".join(value for c in cases for _, value in c.fields)  # a field's value filters as a field
        texts = [self.kb.case_text.get(c.id, "") for c in cases]
        concepts = [(w,) for w in self.kb.words(q.query) if CJK.search(w)]
        concepts += [(e, *self.kb.retriever.translate(e)) for e in dict.fromkeys(ENGLISH_WORD.findall(q.query.lower()))]
        topics: list[tuple[str, ...]] = []
        unknown = False
        for words in concepts:
            if any(w in own or _names_the_list(w) for w in words):
                continue
            known = [w for w in words if CJK.search(w) and len(w) >= 2 and any(_speaks_of(w, t) for t in texts)]
            if known and tuple(known) not in topics:
                topics.append(tuple(known))
            unknown = unknown or (not known and any(len(w) >= 2 for w in words if CJK.search(w)))
        # "有没有关于环保的案例？": asked by a relation to a topic no practice speaks of, none is about it.
        return topics or ([()] if unknown and RELATION.search(q.query.lower()) else [])

    def _about(self, topics: list[tuple[str, ...]], cases: list[CaseInfo]) -> list[CaseInfo]:
        """The cases whose own text speaks of the most of ``topics`` (ties all count; none for a topic
        no practice speaks of, an empty concept)."""
        cover = {
            c.id: sum(any(_speaks_of(w, self.kb.case_text.get(c.id, "")) for w in words) for words in topics)
            for c in cases
        }
        top = max(cover.values(), default=0)
        return [c for c in cases if top > 0 and cover[c.id] == top]

    def catalogue(self, q: Question) -> Reply:
        chosen, batches = self._asked_batches(q.query)
        draft = Draft()
        parts = [part for batch in chosen if (part := self._batch_list(q, batch, batches, draft, len(chosen) > 1))]
        if not draft.citations:
            return refuse(self.kb, q, "知识库中没有符合条件的案例。")
        return Reply("\n\n".join(parts), draft.citations, True, q.query)

    def _batch_list(self, q: Question, batch: str, batches: list[str], draft: Draft, several: bool) -> str | None:
        """One selection's cases in rank order, filtered by the level or extra field the question names."""
        levels = asked_levels(q.query)
        cases = [
            c
            for c in self.kb.cases.values()
            if c.rank is not None and (not levels or c.level in levels) and self.kb.batches.get(c.id, "") == batch
        ]
        cases.sort(key=lambda c: c.rank or 0)
        asked = field_values_in(q.query, cases)
        if asked:  # "有哪些2023年的案例" with a `year` field: any front-matter field an editor added filters the list
            cases = [c for c in cases if any(pair in c.fields for pair in asked)]
            levels = levels | {value for _, value in asked}
        where = "知识库" if len(batches) == 1 else f"“{batch}”" if batch else "首批"
        topic = self.topic_words(q, cases)
        if topic:
            cases = self._about(topic, cases)
        if not cases:  # among several selections asked about, one without a match says so
            return f"{where}中没有符合条件的案例。" if several else None
        lines = [f"{c.rank}. {c.title}（{c.unit}）{draft.cite(self.kb.title_chunk(c), c.title, 1.0)}" for c in cases]
        scope = "、".join(_label(v) for v in sorted(levels, key=lambda v: ("市级区县".find(v), v)))
        if topic:
            about = "、".join(max(words, key=len) for words in topic)
            head = f"{where + '中' if several else ''}与“{about}”有关的{scope}案例有 {len(cases)} 个："
        elif scope:
            head = f"{where + '中' if several else ''}共有 {len(cases)} 个{scope}案例："
        else:
            head = f"{where}共收录 {len(cases)} 个案例：{self._cite_enumeration(draft, batch)}"
        if len(batches) > 1 and not several:  # the other selections are named, so next year's ten are findable
            head = f"（另有：{'、'.join(b or '首批' for b in batches if b != batch)}）{head}"
        return head + "\n" + "\n".join(lines)

    def _asked_batches(self, query: str) -> tuple[list[str], list[str]]:
        """The selections a catalogue question means, and all of them, oldest first.

        Those it names (by name or year); every one for "历届"/"所有批次"; else the latest.
        """
        batches = sorted(
            {self.kb.batches.get(c.id, "") for c in self.kb.cases.values() if c.rank is not None},
            key=lambda b: (int(m.group()) if (m := re.search(r"(?:19|20)\d\d", b)) else 0, b),
        )
        named = [b for b in batches if b and (b in query or any(y in query for y in re.findall(r"(?:19|20)\d\d", b)))]
        if len(batches) > 1 and EVERY_BATCH.search(query.lower()):
            return batches, batches
        return (named or [(batches or [""])[-1]]), batches

    def _cite_enumeration(self, draft: Draft, batch: str = "") -> str:
        """Cite the overview passage that lists the cases, when there is one: the list's own source.

        That is the passage of an unranked case of the selection naming the most units of its
        ranked cases (more than two; the first in case order on a tie). The units' passages
        are looked up in the substring index, not found by reading every passage of every
        unranked case: with thousands of cases that read cost 0.3 s a list question.
        """
        in_batch = {c.id for c in self.kb.cases.values() if self.kb.batches.get(c.id, "") == batch}
        ranked = [c for c in self.kb.cases.values() if c.rank is not None and c.id in in_batch]
        named = Counter(row for c in ranked for row in self.kb.chunk_texts.containing(c.unit))
        chunks = self.kb.retriever.data.chunks
        order = {case_id: i for i, case_id in enumerate(self.kb.cases)}
        overviews = [
            (-count, order[chunks[row].case_id], row)
            for row, count in named.items()
            if count > 2 and chunks[row].case_id in in_batch and self.kb.cases[chunks[row].case_id].rank is None
        ]
        if not overviews:
            return ""
        best = chunks[min(overviews)[2]]
        return draft.cite(best, best.text, 1.0)

    def attribute(self, q: Question, case_ids: list[str], field: str) -> Reply:
        """ "哪个单位报送的？", "是哪个区的？", "属于哪一级？": a front-matter field, quoted from a passage
        that states it (for a level, the list item naming the unit)."""
        draft = Draft()
        parts = []
        for case_id in case_ids:
            case = self.kb.cases[case_id]
            value = getattr(case, field) or ""
            label = _label(value) if field == "level" else value  # 区 → 区级
            chunk, span = self._field_passage(case, value, listed=field != "source")
            title = draft.cite(self.kb.title_chunk(case), case.title, 1.0)
            if not value:
                parts.append(f"{case.short_name}：资料没有写明{FIELD_NAMES[field]}{title}")
            elif chunk is None or span is None:
                parts.append(f"{case.short_name}：{label}{title}")
            else:  # the passage states the value; the case's own heading says which case it is
                item = draft.cite(chunk, span, 1.0)
                shown = span if label in span else f"{label}（{span}）"
                parts.append(f"{case.short_name}：{shown}{item}{title if chunk.case_id != case.id else ''}")
        return Reply("；".join(parts) + "。", draft.citations, True, q.query)

    def sources(self, q: Question) -> Reply:
        """ "这篇报道来自哪家媒体？" naming no case: the publishers of the knowledge base's reports and
        how many case files each gave, each quoted from a passage naming it where one does."""
        by_source: dict[str, list[CaseInfo]] = {}
        for case in self.kb.cases.values():
            if case.source:
                by_source.setdefault(case.source, []).append(case)
        if not by_source:
            return refuse(self.kb, q, "知识库中的资料没有写明来源。")
        draft = Draft()
        parts = []
        for source, cases in sorted(by_source.items(), key=lambda item: (-len(item[1]), item[0])):
            rows = self.kb.chunk_texts.containing(source)
            if rows:
                cite = draft.cite(self.kb.retriever.data.chunks[rows[0]], source, 1.0)
            else:
                cite = draft.cite(self.kb.title_chunk(cases[0]), cases[0].title, 1.0)
            parts.append(f"{source}（{len(cases)} 份资料）{cite}")
        return Reply("知识库的资料来自：" + "；".join(parts) + "。", draft.citations, True, q.query)

    def _field_passage(self, case: CaseInfo, value: str, listed: bool = True) -> tuple[Chunk | None, str | None]:
        """The case's own passage naming ``value`` (or its stem: 南岸区 → 南岸), else (``listed``) a list
        item naming its unit: it states the unit, and so the district and level, not the source."""
        stem = re.sub(r"(区|县|市)$", "", value)
        for needle in dict.fromkeys(n for n in (value, stem) if len(n) >= 2):
            for chunk in self.kb.chunks_by_case.get(case.id, []):
                span = item_span(chunk.text, needle)
                if span:
                    return chunk, span
        item = self.kb.unit_chunk(case) if listed else None
        return (item, item_span(item.text, case.unit)) if item and case.unit else (None, None)

    def compare(self, q: Question, case_ids: list[str]) -> Reply:
        draft = Draft()
        found: list[tuple[CaseInfo, Figure]] = []
        for case_id in case_ids:
            case = self.kb.cases[case_id]
            figure = self._best_figure(case_id, self._metric(q, case_id), q.query)
            if figure is None:
                part = self.facts.fact_part(q, case_id, draft)
                draft.parts.append(part or f"{case.short_name}：知识库中没有相关数字")
                continue
            chunk = self.kb.chunk(figure.chunk_id)
            draft.parts.append(f"{case.short_name}：{figure.clause}{draft.cite(chunk, figure.clause, 1.0)}")
            found.append((case, figure))
        if not draft.citations:
            return refuse(self.kb, q, "知识库中没有可供比较的相关信息。")
        answer = "；".join(draft.parts) + "。" + _verdict(q.query, found)
        return Reply(answer.strip(), draft.citations, True, q.query)

    def _metric(self, q: Question, case_id: str) -> list[str]:
        """The words that say what to count for ``case_id``: its own part of the question.

        "警快办累计办件量和荣昌中心直接收案量分别是多少" asks one measure per case; the part
        from a case's name up to the next case's name holds it. When that part has no
        words of its own ("A和B各自化解了多少纠纷"), the shared tail after the last name does.
        Case names stay in: "石柱的贵和工作室数量" names the metric with the case's own word.
        """
        starts = self.kb.retriever.names.positions(q.query)
        cuts = sorted(p for p in starts.values() if p < len(q.query))
        begin = starts.get(case_id, len(q.query))
        end = next((p for p in cuts if p > begin), len(q.query))
        own = self._focus_words(q.query[begin:end], [case_id])
        if own:
            return self.kb.words(q.query[begin:end]) + list(q.terms)
        tail = q.query[cuts[-1] :] if cuts else q.query
        return self.kb.words(tail) + list(q.terms)

    def _focus_words(self, text: str, case_ids: list[str]) -> list[str]:
        names = self.kb.retriever.names.names_of(case_ids)
        return [w for w in self.kb.words(text) if not any(w in n for n in names)]

    def _best_figure(self, case_id: str, metric: list[str], query: str) -> Figure | None:
        """The figure whose own words best match the metric asked about; names weigh less than metric words."""
        figures = self.kb.figures_by_case.get(case_id, [])
        measure = MEASURE.search(query)
        # The case's own names say which case, not which figure; quoted terms of the text (“贵和工作室”)
        # are names too. Long titles are left out: their words ("化解", "纠纷") are what figures measure.
        own = [n for n in self.kb.retriever.names.names_of([case_id]) if len(n) <= NAME_CHARS]
        terms = self.kb.retriever.term_set
        plain = [w for w in metric if w not in terms and not any(w in n for n in own)]
        named = [w for w in metric if w not in plain]
        scored = []
        for figure in figures:
            score = word_overlap(plain, figure.metric) + 0.3 * word_overlap(named, figure.metric)
            if measure and measure.group(1) in figure.unit:
                score += 0.5
            if "率" in query and figure.unit == "%":
                score += 0.5
            scored.append((score, figure))
        best = max(scored, key=lambda s: s[0], default=None)
        return best[1] if best and best[0] > 0.1 else None


def _verdict(query: str, found: list[tuple[CaseInfo, Figure]]) -> str:
    """ "X更高" only when two figures share a unit: never compare 件 with %."""
    if len(found) < 2 or len({f.unit.lstrip("万亿") for _, f in found}) != 1:  # values are already scaled
        return ""
    if HIGHER.search(query.lower()):
        case, _ = max(found, key=lambda cf: cf[1].value)
        return f"{case.short_name}更高。" if found[0][1].unit == "%" else f"{case.short_name}更多。"
    if LOWER.search(query.lower()):
        case, _ = min(found, key=lambda cf: cf[1].value)
        return f"{case.short_name}更低。" if found[0][1].unit == "%" else f"{case.short_name}更少。"
    return ""


LEVEL_NAMES = frozenset({"市级", "区", "县"})
EVERY_BATCH = re.compile(
    r"历届|历年|所有批次|全部批次|各批|每一批|每批|两批|几批|every (?:year|batch|selection)|all (?:years|batches)"
)


def _label(value: str) -> str:
    """区 → 区级, 市级 stays; an editor's own field value stands as written."""
    return value + "级" if value in LEVEL_NAMES and not value.endswith("级") else value


def field_values_in(query: str, cases: list[CaseInfo]) -> set[tuple[str, str]]:
    """The (field, value) pairs of the cases' own extra front-matter fields that the question names."""
    return {(key, value) for case in cases for key, value in case.fields if len(value) >= 2 and value in query}


def _names_the_list(word: str) -> bool:
    """A word of the list itself, not of its topic: a collection, a listing, a level, a field (单位, 区县),
    or the relation to the topic (涉及, involve)."""
    lowered = word.lower()
    return any(p.search(lowered) for p in (COLLECTION, LISTING, UNIT, REGION, RELATION)) or bool(asked_levels(lowered))


def _speaks_of(word: str, text: str) -> bool:
    """The text holds the word, or every part of it (交通拥堵: 交通 and 拥堵). One part alone would
    let 法院系统 choose a practice for its 信号灯系统."""
    parts = _parts(word)
    return word in text or (bool(parts) and all(p in text for p in parts))


@lru_cache(maxsize=4096)
def _parts(word: str) -> tuple[str, ...]:
    """``word_parts``, cut once per word: a list question checks each word against every case."""
    return tuple(word_parts(word))

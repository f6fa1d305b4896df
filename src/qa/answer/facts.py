"""Single facts: the span of a passage that answers a question about one case, chosen by the
rules, a learned reader (:mod:`qa.span_reader` by default, :mod:`qa.reader`), or both."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import SPAN_MODES
from ..models import Hit, Reply
from ..reader import Reader, Span
from ..retrieval import LastValue
from ..span_reader import Reading, SpanReader
from ..text import CJK
from .absence import Absence
from .choice import SpanChoice, shipped_choice
from .choice import features as choice_features
from .knowledge import Knowledge
from .question import Draft, Question
from .reading import holds, joined, locate, rating, to_read
from .reply import missing_message, refuse
from .shapes import (
    CHANGE_ASKED,
    CHANGE_SAID,
    EFFECT,
    GENERIC_IDF,
    SUBMITTED,
    asked_date,
    asks_measure,
    wants_figure,
)
from .spans import (
    candidate_spans,
    fits_type,
    lacks_asked_measure,
    plain_text,
    sentence_around,
    span_score,
    trim_span,
)
from .topic import TopicGate


@dataclass(frozen=True)
class Readers:
    """How fact spans are chosen (``mode``, see ``docs/reader.md``) and the learned readers it uses."""

    mode: str = "rules"
    features: Reader | None = None  # qa.reader: modes "hybrid" and "reader"
    span: SpanReader | None = None  # qa.span_reader: modes "span" and "choice"
    choice: SpanChoice | None = None  # qa.answer.choice: how mode "choice" weighs the reader against the rules

    def label(self) -> str:
        """The mode and the reader file that serves it: "span e7259f45ff60" (for /api/health)."""
        reader = self.span if self.mode in SPAN_MODES else self.features
        return self.mode + (f" {reader.digest[:12]}" if reader is not None else "")


CASE_HITS = 6  # passages of the case a fact is chosen from
CLEAR_LEAD = 0.1  # see _clear_lead
SURE_DOER = 5.0  # the span reader's margin where the text, not the front matter, names who did it: text_names_doer
SURE_ABSENT = -10.5  # the span reader's margin at its floor: see _lacks_measure
# Mode "choice" reads more often. CMRC fold 3 (dev), holds the gold span: 0.824 at 0.1, 0.842 at 0.3,
# 0.855 reading every question (at three times the p50).
CHOICE_LEAD = 0.3


class Facts:
    """Answers one-case questions with a cited span, or says the case does not hold the answer."""

    def __init__(self, kb: Knowledge, gate: TopicGate, readers: Readers | None = None) -> None:
        self.kb = kb
        self.gate = gate
        self.readers = readers or Readers()
        self.absence = Absence(kb)
        self._last_reading: LastValue[Reading | None] = LastValue()

    @property
    def reader(self) -> Reader | None:
        return self.readers.features

    @property
    def reader_mode(self) -> str:
        return self.readers.mode

    def fact(self, q: Question) -> Reply:
        return self.fact_about(q, self.case_for(q))

    def fact_about(self, q: Question, case_id: str | None) -> Reply:
        """The answer about ``case_id`` (from :meth:`case_for`); a refusal where it is None."""
        if case_id is None:
            return refuse(self.kb, q, missing_message(self.kb, q, None))
        draft = Draft()
        part = self.fact_part(q, case_id, draft)
        if part is None:
            return refuse(self.kb, q, missing_message(self.kb, q, case_id), case_id)
        return Reply(part, draft.citations, True, q.query)

    def case_for(self, q: Question) -> str | None:
        """The case a one-case question is about: the named one, unless another document about the
        same name holds the best passage; else the best passage's. None when the best passage is
        off the knowledge base's topic (checked unless a name other than a place says it)."""
        scope = self.kb.documents_about(q.named, q.query) if q.named else []
        hits = self.kb.retriever.search(q.query, k=8, case_ids=scope or None, expand=q.terms)
        weak = not q.named or (q.query == q.text and self.kb.retriever.names.only_places(q.query))
        if not hits or (weak and not self.gate.on_topic(q, hits[0].chunk.case_id)):
            return None
        return hits[0].chunk.case_id if not q.named or len(scope) > len(q.named) else q.named[0]

    def fact_part(self, q: Question, case_id: str, draft: Draft) -> str | None:
        """The best span about ``case_id`` for this question, cited; None when no span can answer it."""
        hits = self._case_hits(q, case_id)
        focus = self.kb.focus(q, [case_id])
        if self.absence.missing_contact(q.query, focus, case_id):
            return None
        # Topic words the case lacks are the rules' sign of an absent detail, the span reader's
        # no-answer option the learned one; a paraphrase ("花了多少钱" for "投资不到200万元") shares
        # no word with its answer, so both must say so.
        # The reader learned from Chinese questions: on an English one the words decide alone.
        # A follow-up's case is the conversation's, not a name the user wrote: its words inside the case's
        # other names are its topic too (纠纷 of 荣昌便民纠纷解决中心 in "这几年它处理的纠纷…").
        asked = self.kb.beside_names(q, [case_id]) if q.carried else focus
        if self.absence.unknown_detail(q.query, asked, case_id, strict=q.carried) and (
            self._in_english(q) or not self._reader_finds(q, hits)
        ):
            return None
        candidates = self._rule_candidates(q, case_id, hits)
        if self._lacks_measure(q, focus, hits, candidates):
            return None
        focus = self._scored_words(q, case_id, focus)
        if self.readers.span is not None and self.reader_mode == "span":
            return self._span_part(q, case_id, hits, candidates, focus, draft)
        if self.readers.span is not None and self.reader_mode == "choice":
            return self._choice_part(q, case_id, hits, candidates, focus, draft)
        if self.reader_mode == "reader" or (self.reader_mode == "hybrid" and not candidates):
            # Where the rules find no span of the asked shape (a figure asked in other words than
            # the text's), the learned reader decides, and may choose its no-answer option.
            read = self._read(q, hits)
            return self._cite_read(read, case_id, hits, draft) if read else None
        if not candidates:
            return None
        scores = self._score_spans(q.query, focus, candidates)
        hit, _, span = candidates[int(np.argmax(scores))]
        return self._cite_span(case_id, hit, trim_span(span), draft)

    def _rule_candidates(
        self, q: Question, case_id: str, hits: list[Hit], shape_only: bool = False
    ) -> list[tuple[Hit, int, str]]:
        """The clauses (or sentences) of ``hits`` whose shape answers the question: (hit, rank, span).
        With ``shape_only`` a figure's clause need not hold the question's topic words."""
        # A figure is one clause; "how", "what", "when" read better as a whole sentence.
        sentences = not wants_figure(q.query)
        title = title_of(self.kb, case_id)
        candidates = [
            (h, rank, span)
            for rank, h in enumerate(hits)
            for span in candidate_spans(h.chunk.text, sentences)
            if not sentences or plain_text(span) != title  # as a description, the heading only repeats the name
        ]
        # A word of a name counts ("多少个复议窗口" counts 复议), the case's whole name does not: its
        # clauses need not repeat it ("警快办办了多少件事？"). Words most cases share (重庆) say nothing.
        names = self.kb.retriever.names.names_of([case_id])
        words = self.kb.words(q.query) + list(q.terms)
        topic = [] if shape_only else [w for w in words if self.kb.idf(w) > GENERIC_IDF and w not in names]
        fitting = [c for c in candidates if fits_type(q.query, c[2], topic)]
        fitting = fitting or [c for c in candidates if self._fits_in_sentence(q, c, topic)]
        date = asked_date(q.query)
        if date is not None:  # a day asked is answered by a day, where a span gives one, not by its month
            fitting = [c for c in fitting if date.search(c[2])] or fitting
        if CHANGE_ASKED.search(q.query.lower()) or EFFECT.search(q.query.lower()):
            # "By how much did it fall?" is answered by a figure said to have changed (同比下降23.7%),
            # not by the clause sharing the most words ("28个派出所已全面推行" for "派出所…少了多少").
            # An effect asked ("效果如何？") is answered by what changed too (满意度持续提升).
            # Dev: fresh6.jsonl +1, the chat and the other sets unchanged.
            changed = [c for c in fitting if CHANGE_SAID.search(c[2])]
            return changed or fitting
        return fitting

    def _fits_in_sentence(self, q: Question, candidate: tuple[Hit, int, str], topic: list[str]) -> bool:
        """Where no clause holds a topic word: a clause with a figure of the very measure asked, whose
        sentence holds one.

        The clauses of one sentence share its leading words: "自…正式上线运行以来,注册人数1714万,累计访问量
        5.4亿人次" answers "上线以来大家一共用了多少次？" though its clause holds none of the words. With
        a bare 多少 any figure of the sentence would fit; 次, 元, % or a duration picks one out.
        """
        if not topic or not asks_measure(q.query):
            return False
        hit, _, span = candidate
        start = hit.chunk.text.find(span)
        sentence = sentence_around(hit.chunk.text, start, start + len(span)) if start >= 0 else span
        return fits_type(q.query, span, topic, scope=sentence)

    def _span_part(
        self,
        q: Question,
        case_id: str,
        hits: list[Hit],
        candidates: list[tuple[Hit, int, str]],
        focus: list[str],
        draft: Draft,
    ) -> str | None:
        """The rules' spans, the span reader choosing among close ones and deciding where there are none.

        The rules give a candidate its shape (a clause for a figure, a sentence otherwise); the
        reader says where in the passages the answer lies, or that they do not hold it. Where one
        candidate clearly leads on lexical fit the reader is not asked: a read costs ~35 ms on 2 cores.
        Where the reader answers outside every candidate, its sentence is the answer: the rules'
        best lexical fit would be a span it read and passed over (CMRC fold 3: holds the gold span
        0.814 → 0.828, the dev questions unchanged). Not for a question asked in English (``q.text``; its
        rewritten follow-up holds the case's Chinese name) with rule spans:
        the reader learned from Chinese questions, and the rules' spans hold the glossary's words of
        the question ("How many honours…" → 荣誉) where its sentence held the neighbouring figure
        (the 37 English dev questions: 33 → 34 right).

        Where its no-answer option wins, the reader is not believed about *whether* (the rules' spans
        answer), but still about *where*: the rule span holding its favourite place wins among close
        ones. "荣昌调解中心化解了多少纠纷？" had got the clause of 36间调解室 (调解, from the name the user
        gave), the reader pointing at 16206件 at margin -0.2. On dev: fresh.jsonl 90 → 91 %, chat turns
        173 → 174 of 179, switches 696 → 702 of 714, no question lost; CMRC holds the gold span +0.005 to
        +0.011 in every fold. At first for Chinese questions only: "How much did congestion time fall…?"
        was lost. Since a change asked prefers the clauses saying something changed (``_rule_candidates``),
        English ones too: "How many candidate practices were collected…?" got the clause of 候选 (the
        glossary's "candidate"), where the reader put 89个 at margin -0.4 (fresh6, fresh7: +1 each, no
        dev question or chat turn lost).
        """
        scores = self._score_spans(q.query, focus, candidates) if candidates else np.zeros(0)
        lead = _clear_lead(scores)
        guess = None if lead else self._guess(q, to_read(hits))
        where = guess
        if where is None and not lead:  # its no-answer option won: only where, not whether
            where = self._guess(q, to_read(hits), floor=-math.inf)
        held = np.array([where is not None and holds(c, where) for c in candidates], dtype=bool)
        if guess is not None and not held.any() and (not candidates or CJK.search(q.text)):
            hit, start, end = guess
            sentence = trim_span(sentence_around(hit.chunk.text, start, end))
            # With rule spans to offer, they answer instead of a sentence that only repeats the heading,
            # or that lacks a figure of the measure the question names (多少件): "…帮大家把矛盾调解好的有
            # 多少件？" had got 36间调解室's sentence. (Any shape of figure was too much: CMRC's 3座, 702米
            # and 118公斤 are no figures to the rules, and eight dev answers were lost.)
            named = plain_text(sentence) == title_of(self.kb, case_id)
            if not candidates or not (named or lacks_asked_measure(q.query, sentence)):
                return self._cite_span(case_id, hit, sentence, draft)
        if not candidates and where is not None and self._paraphrased_figure(q, focus, hits):
            return self._placed_part(q, case_id, hits, where, focus, draft)
        if not candidates:
            return None
        # A span holding the reader's answer beats any lexical score (all below 10).
        hit, _, span = candidates[int(np.argmax(scores + 100.0 * held))]
        return self._cite_span(case_id, hit, trim_span(span), draft)

    def _choice_part(
        self,
        q: Question,
        case_id: str,
        hits: list[Hit],
        candidates: list[tuple[Hit, int, str]],
        focus: list[str],
        draft: Draft,
    ) -> str | None:
        """Mode "choice": the rules' spans and the reader's sentence, weighed by the learned choice
        (``qa.answer.choice``) instead of the fixed rule of mode "span" (the candidate holding the
        reader's favourite wins). Opt-in, not the default: see ``docs/reader.md``."""
        pool = self.span_pool(q, case_id, hits, candidates, focus)
        if pool is None:
            return None
        chosen, rows = pool
        hit, _, span = chosen[0] if rows is None else chosen[self._choice().pick(rows)]
        return self._cite_span(case_id, hit, trim_span(span), draft)

    def span_pool(
        self, q: Question, case_id: str, hits: list[Hit], candidates: list[tuple[Hit, int, str]], focus: list[str]
    ) -> tuple[list[tuple[Hit, int, str]], np.ndarray | None] | None:
        """The candidates to choose from and their features (None: a clear lead or a declining
        reader, so the first candidate answers); None where nothing can answer.

        Public for ``bench/fit_span_choice.py``, which fits the choice on exactly what is chosen here."""
        scores = self._score_spans(q.query, focus, candidates) if candidates else np.zeros(0)
        order = [candidates[int(i)] for i in np.argsort(-scores, kind="stable")]
        # The two best passages, and the one holding the rules' favourite when it lies further down.
        read = to_read(hits)
        if order and order[0][0] not in read:
            read = [*read, order[0][0]]
        reading = None if _clear_lead(scores, CHOICE_LEAD) else self._reading(q, read)
        if reading is None or (not candidates and reading.guess.margin <= 0):
            # With no rule span to offer, the reader's no-answer option refuses; with some, its
            # ratings still weigh them (CMRC fold 3, dev, reading every question: holds the gold span
            # 0.846 with the option deciding there too, 0.873 without).
            return (order, None) if order else None
        pool, lexical = list(candidates), list(scores)
        rated = [rating(reading, read, c) for c in pool]
        sentence = self._readers_sentence(reading, read)
        best = reading.top
        # The reader's own sentence, unless a rule span already holds its answer or it only repeats the heading.
        if (
            sentence is not None
            and best not in rated
            and (not pool or plain_text(sentence[2]) != title_of(self.kb, case_id))
        ):
            pool.append(sentence)
            lexical.append(float(self._score_spans(q.query, focus, [sentence])[0]))
            rated.append(best)
        rows = choice_features(rated, best, np.array(lexical), [c[1] for c in pool], [len(c[2]) for c in pool])
        return pool, rows

    def _choice(self) -> SpanChoice:
        return self.readers.choice or shipped_choice()

    def _reading(self, q: Question, hits: list[Hit]) -> Reading | None:
        """The span reader's reading of ``hits`` for the question. The last one is kept: one question
        may ask about the same passages up to three times (whether a follow-up continues, whether an
        absent-looking detail is there, which span answers), and a read costs ~35 ms on 2 cores."""
        reader = self.readers.span
        assert reader is not None
        text = joined(hits)
        return self._last_reading.get((reader, q.query, text), lambda: reader.read(q.query, text))

    def _readers_sentence(self, reading: Reading, hits: list[Hit]) -> tuple[Hit, int, str] | None:
        """The sentence around the reader's favourite span, as a candidate (hit, rank, sentence)."""
        located = locate(hits, reading.guess)
        if located is None:
            return None
        rank, start, end = located
        sentence = trim_span(sentence_around(hits[rank].chunk.text, start, end))
        return (hits[rank], rank, sentence) if sentence else None

    def _cite_span(self, case_id: str, hit: Hit, span: str, draft: Draft) -> str:
        name = self.kb.cases[case_id].short_name
        prefix = "" if name in span else f"{name}："
        return f"{prefix}{span}{draft.cite(hit.chunk, span, hit.score)}"

    def _guess(self, q: Question, hits: list[Hit], floor: float = 0.0) -> tuple[Hit, int, int] | None:
        """Where the span reader puts the answer in ``hits`` (read as one text): the hit and a
        character range of its chunk; None when its margin over the no-answer option is ``floor`` or
        less (at 0: when the no-answer option wins)."""
        reading = self._reading(q, hits)
        guess = reading.guess if reading is not None else None
        if guess is None or guess.margin <= floor:
            return None
        located = locate(hits, guess)
        return (hits[located[0]], located[1], located[2]) if located is not None else None

    def _read(self, q: Question, hits: list[Hit]) -> Span | None:
        """The reader's span over the case's passages; None when it chooses no answer (or is off)."""
        if self.reader is None or self.reader_mode == "rules" or not hits:
            return None
        # In hybrid mode the rules have already found no span of the asked shape, so the no-answer option
        # decides unhandicapped; the fitted margin (few answerable questions refused) is for the reader alone.
        margin = 0.0 if self.reader_mode == "hybrid" else None
        return self.reader.read(q.query, [h.chunk.text for h in hits], margin).span

    def _cite_read(self, span: Span, case_id: str, hits: list[Hit], draft: Draft) -> str:
        """The reader's span is the answer; its sentence is the quote the citation highlights."""
        hit = hits[span.passage]
        name = self.kb.cases[case_id].short_name
        prefix = "" if name in span.sentence else f"{name}："
        return f"{prefix}{span.text}{draft.cite(hit.chunk, span.sentence, hit.score)}"

    def _score_spans(self, query: str, focus: list[str], candidates: list[tuple[Hit, int, str]]) -> np.ndarray:
        """Lexical fit to the topic words; for questions without Chinese topic words (English), meaning.

        For a figure, only the clauses holding one are scored (``spans.figure_clauses``). Dev:
        fresh9.jsonl 85 → 88 %, fresh11.jsonl 92 → 95 %; the other sets, the dev chat, the everyday
        probe unchanged; CMRC folds 0–3 hold the gold span as often, F1 +0.002 at most."""
        figure = wants_figure(query)
        lexical = np.array([span_score(span, focus, query, figure) + 0.3 / (1 + rank) for _, rank, span in candidates])
        if any(CJK.search(w) for w in focus):
            return lexical
        vectors = self.kb.retriever.embedder.embed_passages([span for _, _, span in candidates])
        return lexical + 4.0 * (vectors @ self.kb.retriever.query_vector(query))

    def _scored_words(self, q: Question, case_id: str, focus: list[str]) -> list[str]:
        """The words spans are scored on: the topic words a passage can hold, else the case's names
        the question uses.

        An English word no passage holds matches no span and only dilutes the share of those that
        do ("Who organised the selection…?": 主办 weighed 2 of 75 characters, and the rank bonus
        chose the source line). Where nothing but the practice is asked ("垫小二是干什么的？"), the
        sentence naming it answers, not its slogan before it."""
        words = [w for w in focus if CJK.search(w) or self.kb.mentioned_anywhere(w)]
        return words or [n for n in self.kb.retriever.names.names_of([case_id]) if n in q.query]

    def text_names_doer(self, q: Question, case_id: str) -> bool:
        """Is "哪个部门建起来的？" answered by the case's text rather than its front matter?

        The front matter records the unit that put the case forward (报送单位); who built or runs a
        practice is often another ("南岸区公安分局…建成了潮汐车道", put forward by 南岸区委政法委). Where
        the question does not ask who put it forward and the span reader is sure (margin ``SURE_DOER``
        or more) that the case's passages answer it, they do. On dev the two such questions lay at
        6.4 and 8.8, the other unit questions of the dev sets and chat at 4.7 and below (most below 0).
        The reader learned from Chinese questions: an English one keeps the front matter.
        """
        if self.readers.span is None or self.reader_mode not in SPAN_MODES or self._in_english(q):
            return False
        if SUBMITTED.search(q.query.lower()):
            return False
        margin = self._margin(q, self._case_hits(q, case_id))
        return margin is not None and margin >= SURE_DOER

    def _case_hits(self, q: Question, case_id: str) -> list[Hit]:
        """The case's best passages for the question: those its fact is chosen from."""
        return self.kb.retriever.search(q.query, k=CASE_HITS, case_ids=[case_id], expand=q.terms)

    def reader_answers(self, query: str, case_id: str) -> bool:
        """The span reader answers ``query`` from ``case_id``'s best passages (False without one)."""
        q = Question(query, query, [case_id])
        return self._reader_finds(q, self.kb.retriever.search(query, k=CASE_HITS, case_ids=[case_id]))

    def _paraphrased_figure(self, q: Question, focus: list[str], hits: list[Hit]) -> bool:
        """A figure asked in words the knowledge base never uses ("涉及的金额" for 涉案标的, "收了多少案子"
        for 收案), which the span reader does not rule out (margin at ``SURE_ABSENT`` or above).

        No rule clause holds such a question's topic words, so it was refused. A question whose words
        the text does use, in other sentences, asks about what those say: "全国有多少个行政复议机构？"
        (全国, 机构) is not answered with 1034个行政复议便民接件点, where the reader put it at margin
        -1.8. On dev: fresh.jsonl 91 → 92 %, fresh3.jsonl 94 → 96 %; the other sets, the dev chat,
        the everyday probe and CMRC folds 0–3 unchanged.
        """
        if not wants_figure(q.query) or not self.absence.only_unknown_words(focus):
            return False
        margin = self._margin(q, hits)
        return margin is not None and margin >= SURE_ABSENT

    def _margin(self, q: Question, hits: list[Hit]) -> float | None:
        """The span reader's margin over its no-answer option on the passages it reads of ``hits``."""
        reading = self._reading(q, to_read(hits))
        return reading.guess.margin if reading is not None else None

    def _placed_part(
        self, q: Question, case_id: str, hits: list[Hit], where: tuple[Hit, int, int], focus: list[str], draft: Draft
    ) -> str | None:
        """The clause of the asked shape (元, %, a count) holding the reader's favourite place, topic words or not."""
        placed = [c for c in self._rule_candidates(q, case_id, hits, shape_only=True) if holds(c, where)]
        if not placed:
            return None
        hit, _, span = placed[int(np.argmax(self._score_spans(q.query, focus, placed)))]
        return self._cite_span(case_id, hit, trim_span(span), draft)

    def _in_english(self, q: Question) -> bool:
        """The question asked (a carried one's too: "那莎姐呢？" after an English question) is English:
        no Chinese but the case names a rewriting put in."""
        asked = q.query
        for name in self.kb.retriever.names.surfaces(asked):
            asked = asked.replace(name, "")
        return not CJK.search(asked)

    def _reader_finds(self, q: Question, hits: list[Hit]) -> bool:
        """The span reader answers from the case's best passages (False where no span reader serves)."""
        if self.readers.span is None or self.reader_mode not in SPAN_MODES:
            return False
        return self._guess(q, to_read(hits)) is not None

    def _lacks_measure(
        self, q: Question, focus: list[str], hits: list[Hit], candidates: list[tuple[Hit, int, str]]
    ) -> bool:
        """A figure of something the knowledge base never mentions ("莎姐检察官的平均年龄"), which the
        span reader is sure the passages do not hold.

        Next to a word the case uses (检察官), an unknown word is weak evidence on its own: a paraphrase
        ("涉及的金额" for 涉案标的) is unknown too. So the reader's no-answer option decides, and only
        at its floor (margin below ``SURE_ABSENT``); above it, the rules' clause answers as before. Of the
        43 dev figure questions with such a word (bench/questions, fresh, fresh2, fresh4), five lay at
        -10.99 and below, each asking a figure the text lacks (总长多少公里, 平均年龄); every answerable one
        lay at -9.68 and above ("一书一令实施后警情降了多少", the text's 下降23.7%). Chinese only: an
        English question's topic words are the glossary's translations.

        The margin alone did not carry to new questions: answerable ones of ``bench/fresh6.jsonl`` (dev)
        lay at -11.3 too. Two kinds of evidence now outweigh it. An unknown verb or adverb only says
        what was done in other words (办成 for 办事, 实施 for 推行): the thing counted is not unknown
        (``Absence.unknown_thing``). And a clause of the very measure asked (多少钱 → 元, 多少件 → 件)
        holding a topic word is the shape of the answer, where a bare 多少 fits any figure. Dev, with
        the counted thing of ``spans.fits_type``: fresh6.jsonl +2 of 40, fresh2.jsonl 97 → 98 %; the
        other sets, the chat and the everyday probe unchanged.
        """
        if self.readers.span is None or self.reader_mode not in SPAN_MODES or not CJK.search(q.text):
            return False
        if not wants_figure(q.query) or (candidates and asks_measure(q.query)):
            return False
        if not self.absence.unknown_thing(focus):
            return False
        margin = self._margin(q, hits)
        return margin is not None and margin < SURE_ABSENT


def _clear_lead(scores: np.ndarray, lead: float = CLEAR_LEAD) -> bool:
    """One candidate, or a best one ahead of the next by ``lead`` in lexical fit.

    Fitted on dev: on CMRC fold 3 and ``bench/questions.jsonl``, leads of 0.1, 0.3 and 0.8 (and
    asking the reader every time) gave the same figures within one question, while at 0.1 the
    reader reads for 41 % of the load benchmark's novel questions instead of 70 %; at 0.05 a dev
    question was lost.
    """
    if len(scores) < 2:
        return len(scores) == 1
    top = np.sort(scores)[::-1]
    return float(top[0] - top[1]) >= lead


def title_of(kb: Knowledge, case_id: str) -> str:
    return plain_text(kb.cases[case_id].title)

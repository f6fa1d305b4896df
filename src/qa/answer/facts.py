"""Single facts: the span of a passage that answers a question about one case, chosen by the
rules, the learned reader (:mod:`qa.reader`), or both."""

from __future__ import annotations

import numpy as np

from ..models import Hit, Reply
from ..reader import Reader, Span
from ..text import CJK, content_words
from .knowledge import Knowledge
from .question import Draft, Question
from .reply import missing_message, refuse
from .shapes import (
    CONTACT,
    DESCRIBE,
    GENERIC_IDF,
    MONEY,
    QUANTITY,
    WHEN,
    WHO,
    wants_figure,
)
from .spans import (
    candidate_spans,
    fits_type,
    is_mentioned,
    plain_text,
    span_score,
    trim_span,
)
from .topic import TopicGate


class Facts:
    """Answers one-case questions with a cited span, or says the case does not hold the answer."""

    def __init__(
        self, kb: Knowledge, gate: TopicGate, reader: Reader | None = None, reader_mode: str = "hybrid"
    ) -> None:
        self.kb = kb
        self.gate = gate
        self.reader = reader
        self.reader_mode = reader_mode

    def fact(self, q: Question) -> Reply:
        scope = self.kb.documents_about(q.named, q.query) if q.named else []
        hits = self.kb.retriever.search(q.query, k=8, case_ids=scope or None, expand=q.terms)
        weak = not q.named or (q.query == q.text and self.kb.retriever.names.only_places(q.query))
        if not hits or (weak and not self.gate.on_topic(q, hits[0].chunk.case_id)):
            return refuse(self.kb, q, missing_message(self.kb, q, None))
        # The named case, unless another document about the same name holds the best passage.
        case_id = hits[0].chunk.case_id if not q.named or len(scope) > len(q.named) else q.named[0]
        draft = Draft()
        part = self.fact_part(q, case_id, draft)
        if part is None:
            return refuse(self.kb, q, missing_message(self.kb, q, case_id), case_id)
        return Reply(part, draft.citations, True, q.query)

    def fact_part(self, q: Question, case_id: str, draft: Draft) -> str | None:
        """The best span about ``case_id`` for this question, cited; None when no span can answer it."""
        hits = self.kb.retriever.search(q.query, k=6, case_ids=[case_id], expand=q.terms)
        focus = self.kb.focus(q, [case_id])
        if self._asks_unknown_detail(q.query, focus, case_id, strict=q.carried):
            return None
        candidates = self._rule_candidates(q, case_id, hits)
        if self.reader_mode == "reader" or (self.reader_mode == "hybrid" and not candidates):
            # Where the rules find no span of the asked shape (a figure asked in other words than
            # the text's), the learned reader decides, and may choose its no-answer option.
            read = self._read(q, hits)
            return self._cite_read(read, case_id, hits, draft) if read else None
        if not candidates:
            return None
        scores = self._score_spans(q.query, focus, candidates)
        best = int(np.argmax(scores))
        hit, _, span = candidates[best]
        span = trim_span(span)
        name = self.kb.cases[case_id].short_name
        prefix = "" if name in span else f"{name}："
        return f"{prefix}{span}{draft.cite(hit.chunk, span, hit.score)}"

    def _rule_candidates(self, q: Question, case_id: str, hits: list[Hit]) -> list[tuple[Hit, int, str]]:
        """The clauses (or sentences) of ``hits`` whose shape answers the question: (hit, rank, span)."""
        # A figure is one clause; "how", "what", "when" read better as a whole sentence.
        sentences = not wants_figure(q.query)
        title = plain_text(self.kb.cases[case_id].title)
        candidates = [
            (h, rank, span)
            for rank, h in enumerate(hits)
            for span in candidate_spans(h.chunk.text, sentences)
            if not sentences or plain_text(span) != title  # as a description, the heading only repeats the name
        ]
        # Names included ("多少个复议窗口" counts 复议); words most cases share (重庆) say nothing.
        topic = [w for w in content_words(q.query) + list(q.terms) if self.kb.idf(w) > GENERIC_IDF]
        return [c for c in candidates if fits_type(q.query, c[2], topic)]

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
        """Lexical fit to the topic words; for questions without Chinese topic words (English), meaning."""
        lexical = np.array([span_score(span, focus, query) + 0.3 / (1 + rank) for _, rank, span in candidates])
        if any(CJK.search(w) for w in focus):
            return lexical
        vectors = self.kb.retriever.embedder.embed_passages([span for _, _, span in candidates])
        return lexical + 4.0 * (vectors @ self.kb.retriever.query_vector(query))

    def _asks_unknown_detail(self, query: str, focus: list[str], case_id: str, strict: bool = False) -> bool:
        """A contact detail (电话, 地址…), or a "who" (or carried-over) topic the case never mentions, cannot be answered.

        Other questions are not refused for unfamiliar words: a paraphrase
        ("打官司有没有更方便的办法") shares no words with its answer by design.
        """
        cjk_focus = [w for w in focus if CJK.search(w)]
        if not cjk_focus:
            return False
        text = self.kb.case_text.get(case_id, "")
        mentioned = [w for w in cjk_focus if is_mentioned(w, text)]
        if CONTACT.search(query.lower()) and not any(CONTACT.search(w) for w in mentioned):
            return True
        # A question carried over from another case names its topic exactly ("功能区"): absent means absent.
        if (strict or bool(WHO.search(query.lower()))) and not mentioned:
            return True
        # A question whose every topic word no passage of the whole knowledge base speaks of
        # ("怎么预约？", "周末上班吗？") asks a detail the knowledge base lacks.
        # A "what is it" question is answered by a description, whatever its words (含义, 意思).
        topic = [w for w in cjk_focus if not (QUANTITY.search(w) or MONEY.search(w) or WHEN.search(w))]
        if not topic or DESCRIBE.search(query.lower()):
            return False
        return not any(self.kb.mentioned_anywhere(w) for w in topic)

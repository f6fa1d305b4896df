"""The answer engine: resolve the question, then route it to the part that answers its shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..models import Reply
from ..relevance import Evidence, RelevanceModel
from ..retrieval import Retriever
from .facts import Facts, Readers
from .followups import FollowUps
from .knowledge import Knowledge
from .question import Question
from .shapes import (
    REPORT,
    asked_field,
    ranks_cases,
    visible_query,
)
from .structured import Structured
from .topic import TopicGate


class Answerer:
    """Turns a question (plus history) into a grounded, cited reply."""

    def __init__(
        self,
        retriever: Retriever,
        relevance: RelevanceModel | None = None,
        readers: Readers | None = None,
    ) -> None:
        self.kb = Knowledge(retriever)
        self.gate = TopicGate(self.kb, relevance)
        self.facts = Facts(self.kb, self.gate, readers)
        self.structured = Structured(self.kb, self.facts)
        self.followups = FollowUps(self.kb, self.gate, self.structured)

    @property
    def retriever(self) -> Retriever:
        return self.kb.retriever

    def reader_label(self) -> str:
        """How fact spans are chosen, and which reader file does it: "span 3f2a…" (for /api/health)."""
        return self.facts.readers.label()

    def resolve(self, question: str, history: Sequence[dict[str, str]]) -> Question:
        return self.followups.resolve(question, history)

    def evidence(self, q: Question, top_case: str, hide_background: np.ndarray | None = None) -> Evidence:
        return self.gate.evidence(q, top_case, hide_background)

    def answer(self, question: str, history: Sequence[dict[str, str]] = ()) -> Reply:
        q = self.followups.resolve(question, history)
        reply = self._with_fields(self._answer(q))
        if q.query == q.text:
            return reply
        # A rewritten question is shown as it was understood: no reading the user cannot see.
        return replace(reply, answer=f"（按“{visible_query(q.query)}”理解）{reply.answer}")

    def _with_fields(self, reply: Reply) -> Reply:
        """Each citation shows the fields its case file adds beyond the known ones, as the editor wrote them."""
        cases = self.kb.cases
        cited = [replace(c, fields=dict(cases[c.case_id].fields)) if c.case_id in cases else c for c in reply.citations]
        return replace(reply, citations=cited)

    def _answer(self, q: Question) -> Reply:
        if self.structured.is_catalogue(q):
            return self.structured.catalogue(q)
        practices = [cid for cid in q.named if self.kb.cases[cid].rank is not None]
        field = asked_field(q.query)
        if practices and field:
            if field == "unit" and len(practices) == 1 and self.facts.text_names_doer(q, practices[0]):
                return self.facts.fact_about(q, practices[0])
            return self.structured.attribute(q, practices, field)
        if len(practices) >= 2:
            return self.structured.compare(q, practices)
        if field == "source" and not q.named and REPORT.search(q.query.lower()):  # "这篇报道来自哪家媒体？"
            return self.structured.sources(q)
        if field and not q.named and not ranks_cases(q.query):
            # "Which district does the tidal lane project belong to?": the practice is described,
            # not named; the passages say which one, and its front matter answers. A question that
            # ranks the practices ("哪个区县的调解成功率最高？") gets the sentence with its figure instead.
            case_id = self.facts.case_for(q)
            if case_id is not None and self.kb.cases[case_id].rank is not None:
                return self.structured.attribute(q, [case_id], field)
            return self.facts.fact_about(q, case_id)
        return self.facts.fact(q)

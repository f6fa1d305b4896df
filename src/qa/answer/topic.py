"""Is a question about the knowledge base at all? The evidence, and the learned gate that reads it."""

from __future__ import annotations

import jieba.posseg as pseg
import numpy as np

from ..relevance import Evidence, RelevanceModel, load_model
from ..text import CJK
from .knowledge import Knowledge
from .question import Question
from .shapes import (
    TOPIC_LEXICAL_CAP,
)
from .spans import (
    bigram_share,
)

EVERYDAY_MARGIN = -0.05  # see TopicGate.everyday
EVERYDAY_MARGIN_EN = -0.15


class TopicGate:
    """Decides whether a question that names no case is on-topic (see :mod:`qa.relevance`)."""

    def __init__(self, kb: Knowledge, relevance: RelevanceModel | None = None) -> None:
        self.kb = kb
        self.relevance = relevance or load_model()

    def on_topic(self, q: Question, top_case: str) -> bool:
        """Is a question that names no case (or only a place) about the knowledge base at all?

        Decided by a logistic model fitted on labelled questions (see :mod:`qa.relevance`),
        not by a hand-set cut-off: e5 puts most Chinese sentences near 0.8 of each
        other, so the evidence is relative (the best passage against the best of a
        set of everyday passages and questions, data/background.txt) plus lexical
        overlap and whether a place the knowledge base never mentions is named.
        """
        return self.relevance.on_topic(self.evidence(q, top_case))

    def everyday(self, q: Question) -> bool:
        """Does a short question read as everyday talk rather than as a question about the knowledge base?

        Its best passage is further from it than the nearest everyday sentence (data/background.txt)
        by more than ``EVERYDAY_MARGIN`` (English: ``EVERYDAY_MARGIN_EN``; multilingual e5 puts
        English questions further from Chinese passages). On dev, Chinese bare and pronoun
        follow-ups ("效果怎么样？", "它获得过多少荣誉？", 33) lay at -0.045 and above, everyday
        questions ("重庆市长是谁？", "谢谢你", 18) at -0.06 and below; English follow-ups at -0.106
        and above, English everyday questions from -0.072 ("What's the time?") to -0.188 ("What can
        you do?"). Used where a conversation makes a question about the last case likely; asked
        alone, the fitted gate (``on_topic``) decides.
        """
        nearest_everyday = float(self._background_scores(q.query).max())
        margin = EVERYDAY_MARGIN if CJK.search(q.query) else EVERYDAY_MARGIN_EN
        return self.kb.retriever.best_dense(q.query) - nearest_everyday < margin

    def _background_scores(self, query: str) -> np.ndarray:
        """Cosines of ``query`` to the everyday sentences (one 0 where there are none)."""
        background = self.kb.retriever.data.background
        return background @ self.kb.retriever.query_vector(query) if len(background) else np.zeros(1)

    def evidence(self, q: Question, top_case: str, hide_background: np.ndarray | None = None) -> Evidence:
        """What retrieval says about ``q``; ``hide_background`` masks background rows (leave-one-out fitting)."""
        background = self.kb.retriever.data.background
        scores = self._background_scores(q.query)
        if hide_background is not None and len(background):
            scores = np.where(hide_background, -1.0, scores)
        focus = [w for w in self.kb.words(q.query) + list(q.terms) if CJK.search(w)]
        lexical = min(float(self.kb.retriever.lexical_scores(q.query, q.terms).max(initial=0.0)), TOPIC_LEXICAL_CAP)
        return Evidence(
            kb_best=round(self.kb.retriever.best_dense(q.query), 6),
            background_best=round(float(scores.max()), 6),
            lexical=lexical / TOPIC_LEXICAL_CAP,
            coverage=self.coverage(focus, top_case) if focus else 0.0,
            unknown_place=self._unknown_place(q.query),
            english=not CJK.search(q.query),
        )

    def _unknown_place(self, query: str) -> bool:
        places = [w for w, flag in pseg.lcut(query) if flag == "ns" and len(w) >= 2]
        return any(not self.kb.case_texts.containing(p) for p in places)

    def coverage(self, focus: list[str], case_id: str) -> float:
        """IDF-weighted share of the topic words that the case's own text contains."""
        text = self.kb.case_text.get(case_id, "")
        total = covered = 0.0
        for word in focus:
            weight = self.kb.idf(word)
            total += weight
            if word in text or (len(word) >= 3 and bigram_share(word, text) >= 0.5):
                covered += weight
        return covered / total if total else 1.0

"""Per-index look-ups every part of the answer engine shares: cases, chunks by case and id,
figures, case texts, document frequencies. Built once per index version."""

from __future__ import annotations

import math

from ..models import Chunk, Figure
from ..retrieval import CaseInfo, Retriever
from ..substrings import SubstringIndex
from ..text import content_words, normalise
from .question import Question
from .spans import (
    word_parts,
)


class Knowledge:
    """What the answer engine knows about one index version, keyed for O(1) look-ups."""

    def __init__(
        self,
        retriever: Retriever,
    ) -> None:
        self.retriever = retriever
        self.cases: dict[str, CaseInfo] = retriever.cases
        self.batches = {str(m["id"]): str(m.get("batch") or "") for m in retriever.data.cases}  # case → selection
        self.chunks_by_case: dict[str, list[Chunk]] = {}
        for chunk in retriever.data.chunks:
            self.chunks_by_case.setdefault(chunk.case_id, []).append(chunk)
        self.figures_by_case: dict[str, list[Figure]] = {}
        for figure in retriever.data.figures:
            self.figures_by_case.setdefault(figure.case_id, []).append(figure)
        self.case_text = {cid: normalise("".join(c.text for c in cs)) for cid, cs in self.chunks_by_case.items()}
        # Counted at build time for the index's own words (qa.docfreq); other words are counted on first use.
        self.word_case_freq: dict[str, int] = dict(retriever.data.doc_freq)
        # Keyed look-ups built once per index version: no question walks every chunk or case.
        self.case_ids = list(self.case_text)  # row i of case_texts is case_ids[i]
        self.case_texts = SubstringIndex(list(self.case_text.values()))
        self.chunk_texts = retriever.chunk_texts
        self.chunks_by_id: dict[str, Chunk] = {}
        for chunk in retriever.data.chunks:
            self.chunks_by_id.setdefault(chunk.chunk_id, chunk)
        self.unit_chunks: dict[str, Chunk | None] = {}
        self.list_documents: dict[str, bool] = {}

    def documents_about(self, case_ids: list[str], query: str) -> list[str]:
        """The named cases and every other document that mentions a name the question used.

        A name narrows the search to the documents that speak of it, not to the one case that
        owns it: a follow-up report on the same practice must be readable too.
        A document that names three or more cases is a list of them (an overview), not a
        document about any one, and is only read when it is named itself.
        """
        found = dict.fromkeys(case_ids)
        for name in self.retriever.names.surfaces(query):
            if self.retriever.names.by_name.get(name) not in found:
                continue
            for i in self.case_texts.containing(normalise(name)):
                case_id = self.case_ids[i]
                if case_id not in found and not self._lists_cases(case_id):
                    found[case_id] = None
        return list(found)

    def _lists_cases(self, case_id: str) -> bool:
        if case_id not in self.list_documents:
            self.list_documents[case_id] = len(self.retriever.names.find(self.case_text.get(case_id, ""))) >= 3
        return self.list_documents[case_id]

    def idf(self, word: str) -> float:
        if word not in self.word_case_freq:
            self.word_case_freq[word] = self.case_texts.count(word)
        n = len(self.case_text)
        return math.log((n + 1) / (self.word_case_freq[word] + 0.5))

    def mentioned_anywhere(self, word: str) -> bool:
        """Some case's text speaks of ``word`` (or a two-character-plus part of it): ``mentioned`` on every case."""
        return self.case_texts.anywhere(word) or any(self.case_texts.anywhere(p) for p in word_parts(word))

    def words(self, text: str) -> list[str]:
        """The topic words of ``text`` (``content_words``), cut at the knowledge base's own words."""
        return content_words(text, self.case_texts.anywhere)

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks_by_id[chunk_id]

    def title_chunk(self, case: CaseInfo) -> Chunk:
        chunks = self.chunks_by_case.get(case.id, [])
        return next((c for c in chunks if case.title in c.text), chunks[0])

    def unit_chunk(self, case: CaseInfo) -> Chunk | None:
        """Prefer a list item "title(unit)" over a bare heading that happens to contain the unit."""
        if not case.unit:  # the schema makes unit optional; "" is in every text
            return None
        if case.unit not in self.unit_chunks:
            all_chunks = self.retriever.data.chunks
            chunks = [all_chunks[i] for i in self.chunk_texts.containing(case.unit)]
            listed = [c for c in chunks if f"({case.unit})" in c.text or f"（{case.unit}）" in c.text]
            self.unit_chunks[case.unit] = next(iter(listed or chunks), None)
        return self.unit_chunks[case.unit]

    def beside_names(self, q: Question, case_ids: list[str]) -> list[str]:
        """Topic words of the question outside the names of these cases it uses.

        Unlike :meth:`focus`, a word of a name the question does not use counts: "这几年处理的纠纷…",
        asked after a question about 渝事荣易解, speaks of 纠纷, a word of the case's other name
        荣昌便民纠纷解决中心. (For scoring spans, such words stay out: a user's partial name of a case,
        改革 and 评选 for the selection, would pull in the sentences that repeat the name.)"""
        names = self.retriever.names.names_of(case_ids)
        used = [n for n in names if n in q.query]
        return [w for w in self._asked_words(q) if w not in names and not any(w in n for n in used)]

    def focus(self, q: Question, case_ids: list[str]) -> list[str]:
        """Topic words of the question that are not just the name of a case it is about."""
        names = self.retriever.names.names_of(case_ids)
        return [w for w in self._asked_words(q) if not any(w in n for n in names)]

    def _asked_words(self, q: Question) -> list[str]:
        """The question's words and the corpus words its English ones translate to."""
        return self.words(q.query) + list(q.terms)

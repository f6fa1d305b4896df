"""A question after normalisation and follow-up resolution, and an answer under construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Chunk, Citation


@dataclass
class Draft:
    """An answer under construction: text parts and the passages they quote."""

    parts: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)

    def cite(self, chunk: Chunk, quote: str, score: float) -> str:
        for citation in self.citations:
            if citation.chunk_id == chunk.chunk_id:
                return f"[{citation.n}]"
        n = len(self.citations) + 1
        self.citations.append(
            Citation(
                n,
                chunk.case_id,
                chunk.title,
                chunk.unit,
                chunk.text,
                round(score, 4),
                chunk.chunk_id,
                chunk.paragraph,
                chunk.start,
                chunk.end,
                quote,
            )
        )
        return f"[{n}]"


@dataclass(frozen=True)
class Question:
    """A question after normalisation and follow-up resolution."""

    text: str
    query: str
    named: list[str]
    terms: tuple[str, ...] = ()  # corpus words translating an English question's words
    # Read in the light of the conversation ("那石柱呢？", "它有多少人？"): its topic words must be
    # the case's own, since a reading the user did not write must not stretch to a loose match.
    carried: bool = False

"""Plain data passed between layers. No behaviour beyond (de)serialisation."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """One practice (or the overview) as read from ``knowledge/<file>.md``.

    Only ``id`` and ``title`` are required in a file; an absent ``unit``, ``region``,
    ``level``, ``source`` or ``batch`` is "". ``fields`` keeps any other front-matter field.
    """

    id: str
    title: str
    unit: str
    region: str
    level: str
    rank: int | None
    source: str
    body: str
    path: str
    content_hash: str
    aliases: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    batch: str = ""  # the selection the case belongs to ("" = the first, unnamed one); its rank is unique within it

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]

    def meta(self) -> dict[str, Any]:
        """Everything but the body: what lists and the manifest need."""
        data = asdict(self)
        data.pop("body")
        data["aliases"] = list(self.aliases)
        data["fields"] = dict(self.fields)
        return data


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable passage. ``start``/``end`` index into the case body.

    Slotted, and read with its case's strings shared (``from_dict``): an index of
    70,000 passages holds 70,000 of these in every server.
    """

    chunk_id: str
    case_id: str
    title: str
    unit: str
    paragraph: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**_shared(data, "case_id", "title", "unit"))


@dataclass(frozen=True, slots=True)
class Figure:
    """A number stated in a case: ``metric`` ``value`` ``unit``, found at index time."""

    case_id: str
    chunk_id: str
    metric: str
    value: float
    unit: str
    clause: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        return cls(**_shared(data, "case_id", "chunk_id", "metric", "unit"))


def _shared(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``data`` with the strings under ``keys`` interned: every passage of a case repeats them."""
    return data | {k: sys.intern(data[k]) for k in keys if isinstance(data.get(k), str)}


@dataclass(frozen=True)
class Hit:
    """A chunk with its fused retrieval score."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class Citation:
    """What a reader needs to check an answer: the exact passage and where it is."""

    n: int
    case_id: str
    title: str
    unit: str
    text: str
    score: float
    chunk_id: str
    paragraph: int
    start: int
    end: int
    quote: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # the case's extra front-matter fields ("year": "2023")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reply:
    """The answer to one question. ``query`` is what was actually searched."""

    answer: str
    citations: list[Citation] = field(default_factory=list)
    grounded: bool = True
    query: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "grounded": self.grounded,
            "query": self.query,
        }

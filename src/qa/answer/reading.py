"""Where the span reader's reading lies in the passages it read.

The reader reads a case's best passages as one text (:func:`joined`); its answers are character
ranges of that text. These functions choose the passages (:func:`to_read`) and map a reading back
onto them: which passage and characters a guess falls in, whether a rule span holds it, and how
well the reader rates a span.
"""

from __future__ import annotations

import numpy as np

from ..models import Hit
from ..span_reader import Guess, Reading

SPAN_PASSAGES = 2  # passages the span reader reads: one left CMRC fold 3 at 5.9% refused, two at 2.3%
HEADING_CHARS = 40  # shorter passages are headings or one-liners: see to_read


def to_read(hits: list[Hit]) -> list[Hit]:
    """The passages the span reader reads: the best ones, up to the ``SPAN_PASSAGES``-th of at
    least ``HEADING_CHARS`` characters.

    A question naming a practice often finds its heading lines among the best passages ("3. 重庆市江北区",
    the title): short, they hold little but the name. Counted as passages they left one passage of
    text to read: "西部金融法律服务中心提供的是什么样的服务？" read the title and one paragraph and
    was refused; its answer lay in the next. Read beside two passages of text they cost a few
    tokens, and a title can hold an answer too ("持续擦亮“莎姐”品牌守护未成年人健康成长").
    """
    out: list[Hit] = []
    full = 0
    for hit in hits:
        if full == SPAN_PASSAGES:
            break
        out.append(hit)
        full += len(hit.chunk.text.strip()) >= HEADING_CHARS
    return out


def rating(reading: Reading, hits: list[Hit], candidate: tuple[Hit, int, str]) -> float | None:
    """The reader's best score for a span inside ``candidate`` (-inf where none fits in it); None
    where the reader did not read its passage."""
    hit, _, span = candidate
    for read, offset in zip(hits, offsets(hits), strict=True):
        if read.chunk.chunk_id == hit.chunk.chunk_id:
            at = hit.chunk.text.find(span.strip())
            inside = reading.best_within(offset + at, offset + at + len(span.strip())) if at >= 0 else None
            return inside if inside is not None else -np.inf  # read, but no span of it scored: as far as can be
    return None


def joined(hits: list[Hit]) -> str:
    """The passages as the span reader reads them: one text, a newline between passages."""
    return "\n".join(h.chunk.text for h in hits)


def offsets(hits: list[Hit]) -> list[int]:
    """Where each passage starts in :func:`joined`'s text."""
    starts, at = [], 0
    for hit in hits:
        starts.append(at)
        at += len(hit.chunk.text) + 1
    return starts


def locate(hits: list[Hit], guess: Guess) -> tuple[int, int, int] | None:
    """Where ``guess`` (characters of :func:`joined`'s text) lies: the passage's index in ``hits``
    and a character range of its chunk (the newline after a passage counts as the next one's)."""
    for i, (hit, offset) in enumerate(zip(hits, offsets(hits), strict=True)):
        if guess.start < offset + len(hit.chunk.text):
            return i, guess.start - offset, min(guess.end - offset, len(hit.chunk.text))
    return None


def holds(candidate: tuple[Hit, int, str], guess: tuple[Hit, int, int]) -> bool:
    """The candidate span covers the reader's answer."""
    hit, _, span = candidate
    if hit.chunk.chunk_id != guess[0].chunk.chunk_id:
        return False
    at = hit.chunk.text.find(span.strip())
    return 0 <= at <= guess[1] and guess[2] <= at + len(span.strip())

"""Reciprocal rank fusion over the top of each list: a cost that does not grow with the corpus.

``Retriever.search`` fuses a dense and a lexical ranking. Ranking every passage in
both (three full argsorts per search) grew with the corpus and was half of the
answer time at 70,000 passages; an exact shortcut that ranked only the top of each
list still paid Python for up to 512 bounds per search (docs/benchmarks.md). So
each list now gives its top *M* rows with their exact ranks, as RRF is used in
practice (Cormack et al. 2009; Elasticsearch's ``rank_window_size``), and a row a
list leaves out ranks after them at a rank estimated from a sample of that list's
scores, so that being 300th or 30,000th in one list still counts as in a full
ranking (bench/fusion_bench.py measures the agreement).

Whenever a list has at most *M* rows, every rank is exact, so the result is the
same, bit for bit, as ranking everything: the eleven real cases (50 passages) are
searched exactly as before. Above the ANN threshold the dense list comes from
HNSW or the compressed scan (``qa.index.dense_top``), which give only a top list anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RRF_K = 60
CANDIDATES = 256  # M: rows ranked exactly per list
SAMPLE = 2048  # scores per list that estimate the rank of a row beyond its top M


def rrf(ranks: np.ndarray) -> np.ndarray:
    """1 / (60 + rank) in float32."""
    return np.asarray(1.0 / (RRF_K + ranks.astype(np.float32)), dtype=np.float32)


def top_rows(scores: np.ndarray, size: int) -> np.ndarray:
    """The top rows, best first, ties by row: every row when there are at most ``size``.

    Otherwise at least ``size`` of them with the tie group at the boundary; when that
    group is huge (a coarse score) only the rows above it, which may be none.
    """
    if size >= len(scores):
        return np.argsort(-scores, kind="stable")
    boundary = scores[np.argpartition(-scores, size - 1)[size - 1]]
    above = np.flatnonzero(scores > boundary)
    above = above[np.argsort(-scores[above], kind="stable")]
    rows = np.concatenate([above, np.flatnonzero(scores == boundary)])  # ties follow, in row order
    return above if len(rows) > 4 * size else rows


def top_lexical(scores: np.ndarray, size: int) -> np.ndarray:
    """:func:`top_rows` for BM25, which gives most rows 0: only the positive rows are partitioned.

    Rows scoring 0 are never in a truncated list: they all rank after it (:func:`ranks_of`).
    """
    if size >= len(scores):
        return top_rows(scores, size)
    positive = np.flatnonzero(scores > 0)
    return positive[top_rows(scores[positive], size)]


@dataclass(frozen=True)
class TopList:
    """One ranked list as fusion needs it: its top rows exactly, the rest through a sample."""

    known: np.ndarray  # the top rows, best first (exact ranks 0, 1, …)
    score_of: Callable[[np.ndarray], np.ndarray]  # the scores of any rows
    sampled: np.ndarray  # :func:`sample` of every row's score
    size: int  # rows in the whole list

    @classmethod
    def of_scores(cls, scores: np.ndarray, m: int, lexical: bool = False) -> TopList:
        """The list of a score for every row (flat dense search, or BM25 with ``lexical``)."""
        known = top_lexical(scores, m) if lexical else top_rows(scores, m)
        return cls(known, scores.__getitem__, sample(scores), len(scores))

    def ranks(self, rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return ranks_of(rows, scores, self.known, self.sampled, self.size)


def fuse(
    dense: TopList, lexical: TopList, k: int, allowed: np.ndarray | None = None, lexical_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, fused scores and cosines of the top ``k`` (every candidate for ``k <= 0``), best first.

    Candidates are the rows of either top list, or exactly the ``allowed`` rows
    (sorted). Ties in the fused score go to the lower row, as a stable sort of every
    row would. Build each list with at least ``window(k)`` known rows. ``lexical_weight``
    weighs the lexical ranking's share against the dense one's.
    """
    rows = np.union1d(dense.known, lexical.known).astype(np.int64) if allowed is None else allowed
    cosines, matches = dense.score_of(rows), lexical.score_of(rows)
    fused = rrf(dense.ranks(rows, cosines)) + np.float32(lexical_weight) * rrf(lexical.ranks(rows, matches))
    order = np.lexsort((rows, -fused))
    order = order[:k] if k > 0 else order
    return rows[order], fused[order], cosines[order]


def window(k: int) -> int:
    """How many rows of each list are ranked exactly for a top ``k``."""
    return max(CANDIDATES, 4 * k)


def sample(scores: np.ndarray) -> np.ndarray:
    """The scores of :func:`sample_rows`, sorted: where a rank beyond the top M is estimated from."""
    return np.sort(scores[sample_rows(len(scores))])


def sample_rows(size: int) -> np.ndarray:
    """Every n-th row of ``size``, about SAMPLE of them (all of them for a small list)."""
    return np.arange(0, size, max(1, size // SAMPLE))


def ranks_of(rows: np.ndarray, scores: np.ndarray, known: np.ndarray, sampled: np.ndarray, size: int) -> np.ndarray:
    """Ranks of ``rows`` (with these ``scores``) in a list of ``size`` rows whose top is ``known``.

    A known row has its exact rank. Any other row ranks after the known ones, at the
    share of ``sampled`` scores above its own times ``size``: an estimate of its real
    rank, so that being 300th or 30,000th in one list still tells, as in a full ranking.
    """
    ranks = np.full(len(rows), -1.0, dtype=np.float64)
    if len(known):
        sorter = np.argsort(known, kind="stable")
        at = np.minimum(np.searchsorted(known, rows, sorter=sorter), len(known) - 1)
        found = known[sorter[at]] == rows
        ranks[found] = sorter[at[found]]
    rest = np.flatnonzero(ranks < 0)
    if len(rest):
        above = len(sampled) - np.searchsorted(sampled, scores[rest], side="right")
        ranks[rest] = np.maximum(above * (size / max(len(sampled), 1)), len(known))
    return ranks

"""Reciprocal rank fusion's top hits without ranking every passage: the same hits, in the same order.

``Retriever.search`` ranks all dense scores, all lexical scores and all fused
scores (three stable argsorts of every passage per search): at 70,000 passages
that is half of the answer time (docs/benchmarks.md). Only passages near the top
of one list can reach the top of the fusion, so :func:`fused_top` ranks the top
*M* of each list exactly, bounds everything else, and falls back to the full
ranking whenever a bound cannot settle the order. Ties break by row, as the
stable argsort breaks them, so the result is identical, not merely close.
"""

from __future__ import annotations

import numpy as np

RRF_K = 60
CANDIDATES = 256  # M: rows ranked exactly per list
EXACT_ROWS = 64  # rows whose exact rank may be counted one by one (a pass each) before falling back


def rrf(ranks: np.ndarray) -> np.ndarray:
    """1 / (60 + rank) in float32, computed exactly as ``retrieval._rrf`` computes it."""
    return np.asarray(1.0 / (RRF_K + ranks.astype(np.float32)), dtype=np.float32)


def fused_full(dense: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Fused scores of every row: today's path, and the fallback."""
    return rrf(_all_ranks(dense)) + rrf(_all_ranks(lexical))


def fused_top(
    dense: np.ndarray, lexical: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and fused scores of the top ``k`` (every allowed row for ``k <= 0``), best first.

    Equal to ``argsort(-fused_full, stable)``, filtered by the ``allowed`` mask, cut at ``k``.
    """
    if allowed is not None:
        return _top_allowed(dense, lexical, k, np.flatnonzero(allowed))
    if k > 0:
        found = _top_unrestricted(dense, lexical, k)
        if found is not None:
            return found
    fused = fused_full(dense, lexical)
    order = np.argsort(-fused, kind="stable")
    order = order[:k] if k > 0 else order
    return order, fused[order]


def _all_ranks(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def exact_rank(scores: np.ndarray, row: int) -> int:
    """Where ``row`` stands in the stable descending order: rows above it, then equal rows before it."""
    value = scores[row]
    return int(np.count_nonzero(scores > value) + np.count_nonzero(scores[:row] == value))


def top_ranks(scores: np.ndarray, size: int) -> dict[int, int] | None:
    """Exact ranks of the top rows: at least ``size`` of them with the tie group at the boundary.

    Every row left out ranks at least as low as the number returned. When that tie
    group is large (most BM25 scores are 0 for a rare word) only the rows above it
    are returned; None when there are none.
    """
    if size >= len(scores):
        return {int(r): i for i, r in enumerate(np.argsort(-scores, kind="stable"))}
    boundary = scores[np.argpartition(-scores, size - 1)[size - 1]]
    above = np.flatnonzero(scores > boundary)
    above = above[np.argsort(-scores[above], kind="stable")]
    rows = np.concatenate([above, np.flatnonzero(scores == boundary)])  # ties follow, in row order
    if len(rows) > 4 * size:
        rows = above  # every other row still ranks at least len(above): a valid floor
    return {int(r): i for i, r in enumerate(rows)} if len(rows) else None


def _top_allowed(dense: np.ndarray, lexical: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Only the allowed rows can appear: rank just those (one pass over each list per row)."""
    if len(rows) > EXACT_ROWS:
        fused = fused_full(dense, lexical)
        order = rows[np.argsort(-fused[rows], kind="stable")]
        order = order[:k] if k > 0 else order
        return order, fused[order]
    ranks_d = np.array([exact_rank(dense, int(r)) for r in rows], dtype=np.int64)
    ranks_l = np.array([exact_rank(lexical, int(r)) for r in rows], dtype=np.int64)
    fused = rrf(ranks_d) + rrf(ranks_l)
    order = np.lexsort((rows, -fused))  # by fused descending, then by row
    order = order[:k] if k > 0 else order
    return rows[order], fused[order]


def _top_unrestricted(dense: np.ndarray, lexical: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The top ``k`` from the top of each list, or None when the bounds cannot prove it.

    Every row in either top list gets an upper bound (a rank it lacks counts as the
    other list's first unknown rank); rows are completed (``exact_rank``) best bound
    first, until the k-th exact score beats the next bound and every row outside
    both lists.
    """
    size = max(CANDIDATES, 4 * k)
    known_d, known_l = top_ranks(dense, size), top_ranks(lexical, size)
    if known_d is None or known_l is None:
        return None
    floor_d, floor_l = rrf(np.array([len(known_d), len(known_l)]))
    parts_d, parts_l = _parts(known_d), _parts(known_l)
    bounds = sorted(
        ((parts_d.get(r, floor_d) + parts_l.get(r, floor_l), r) for r in set(known_d) | set(known_l)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if len(bounds) < k or not bounds[k - 1][0] > floor_d + floor_l:
        return None  # even the bounds cannot beat the rows outside both lists: no use counting
    exact: list[tuple[np.float32, int]] = []
    for position, (bound, row) in enumerate(bounds):
        if len(exact) >= k and _kth(exact, k) > bound:
            break
        if position >= k + EXACT_ROWS:
            return None
        rank_d = known_d[row] if row in known_d else exact_rank(dense, row)
        rank_l = known_l[row] if row in known_l else exact_rank(lexical, row)
        exact.append((np.float32(rrf(np.array([rank_d]))[0] + rrf(np.array([rank_l]))[0]), row))
    if len(exact) < k or not floor_d + floor_l < _kth(exact, k):
        return None  # a row in neither top list could tie or beat the k-th
    best = sorted(exact, key=lambda pair: (-pair[0], pair[1]))[:k]
    return np.array([r for _, r in best], dtype=np.int64), np.array([f for f, _ in best], dtype=np.float32)


def _parts(known: dict[int, int]) -> dict[int, np.float32]:
    rows = list(known)
    return dict(zip(rows, rrf(np.array([known[r] for r in rows], dtype=np.int64)), strict=True))


def _kth(scored: list[tuple[np.float32, int]], k: int) -> np.float32:
    return sorted((f for f, _ in scored), reverse=True)[k - 1]

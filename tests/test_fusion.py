"""qa.fusion: RRF over the top of each list.

Where a list has at most M rows (the eleven real cases: 50 passages) it must give
exactly the hits, order and fused scores of ranking every row, as retrieval did
before; above that, exactly its definition (top M exact, deeper ranks estimated from
a sample), written out plainly here.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa import index as store
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.fusion import CANDIDATES, TopList, fuse, top_lexical, top_rows, window
from qa.retrieval import Retriever


def full_rrf(scores: np.ndarray) -> np.ndarray:
    """1 / (60 + rank) of every row, ranking every row (stable: ties by row)."""
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores), dtype=np.float32)
    return np.asarray(1.0 / (60 + ranks), dtype=np.float32)


def ranking_everything(
    dense: np.ndarray, lexical: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[list[int], list[float]]:
    fused = full_rrf(dense) + full_rrf(lexical)
    order = np.argsort(-fused, kind="stable")
    if allowed is not None:
        order = order[np.isin(order, allowed)]
    top = order[:k] if k > 0 else order
    return [int(i) for i in top], [float(fused[i]) for i in top]


def truncated_reference(
    dense: np.ndarray, lexical: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[list[int], list[float]]:
    """The definition: each list's top M rows keep their rank; any other candidate ranks after them,
    at the share of a strided sample of that list's scores above its own, times the list's length."""
    size = max(CANDIDATES, 4 * k)
    known_d = [int(r) for r in top_rows(dense, size)]
    known_l = [int(r) for r in top_lexical(lexical, size)]
    candidates = sorted(set(known_d) | set(known_l)) if allowed is None else [int(r) for r in allowed]

    def ranks(known: list[int], scores: np.ndarray) -> dict[int, float]:
        sampled = [float(x) for x in scores[:: max(1, len(scores) // 2048)]]
        out: dict[int, float] = {row: float(i) for i, row in enumerate(known)}
        for row in candidates:
            if row not in out:
                above = sum(x > scores[row] for x in sampled)
                out[row] = max(above * len(scores) / len(sampled), float(len(known)))
        return out

    rank_d, rank_l = ranks(known_d, dense), ranks(known_l, lexical)
    fused = {
        r: np.float32(1 / np.float32(60 + np.float32(rank_d[r])))
        + np.float32(1 / np.float32(60 + np.float32(rank_l[r])))
        for r in candidates
    }
    order = sorted(candidates, key=lambda r: (-fused[r], r))
    top = order[:k] if k > 0 else order
    return top, [float(fused[r]) for r in top]


def scores(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Continuous, coarse (many ties) or mostly-zero (BM25 for a rare word) scores."""
    if kind == "continuous":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "coarse":
        return rng.integers(0, 20, n).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    out[rng.choice(n, size=min(n, 30), replace=False)] = rng.random(min(n, 30)).astype(np.float32)
    return out


def fused_rows(
    dense: np.ndarray, lexical: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[list[int], list[float]]:
    lists = TopList.of_scores(dense, window(k)), TopList.of_scores(lexical, window(k), lexical=True)
    rows, fused, cosines = fuse(*lists, k, allowed)
    assert cosines.tolist() == dense[rows].tolist()
    return rows.tolist(), fused.tolist()


KINDS = [("continuous", "continuous"), ("coarse", "continuous"), ("continuous", "sparse"), ("coarse", "coarse")]


@pytest.mark.parametrize("n", [1, 5, 50, CANDIDATES])
@pytest.mark.parametrize("kinds", KINDS)
def test_up_to_m_rows_it_is_ranking_everything(n: int, kinds: tuple[str, str]) -> None:
    rng = np.random.default_rng(n)
    for trial in range(20):
        dense, lexical = scores(rng, n, kinds[0]), scores(rng, n, kinds[1])
        allowed = np.flatnonzero(rng.random(n) < (0.05 if trial % 2 else 0.3)) if trial % 3 == 0 else None
        for k in (1, 3, 8, 0):
            assert fused_rows(dense, lexical, k, allowed) == ranking_everything(dense, lexical, k, allowed)


@pytest.mark.parametrize("n", [CANDIDATES + 1, 3000])
@pytest.mark.parametrize("kinds", KINDS)
def test_above_m_rows_it_is_rrf_over_the_top_of_each_list(n: int, kinds: tuple[str, str]) -> None:
    rng = np.random.default_rng(n)
    for trial in range(6):
        dense, lexical = scores(rng, n, kinds[0]), scores(rng, n, kinds[1])
        allowed = np.flatnonzero(rng.random(n) < 0.01) if trial % 2 else None
        for k in (1, 8, 0):
            assert fused_rows(dense, lexical, k, allowed) == truncated_reference(dense, lexical, k, allowed)


def test_a_row_high_in_both_lists_beats_one_high_in_only_one() -> None:
    dense = np.linspace(1, 0, 1000, dtype=np.float32)  # row 0 best
    lexical = np.zeros(1000, dtype=np.float32)
    lexical[[1, 999]] = [2.0, 1.0]
    rows, _ = fused_rows(dense, lexical, 3, None)
    assert rows == [1, 0, 2]  # second and first beat first and absent; row 999 (dense rank 999) is nowhere near


def test_top_rows_keeps_the_boundary_tie_group_unless_it_is_huge() -> None:
    values = np.array([5, 4, 4, 4, 1, 0], dtype=np.float32)
    assert top_rows(values, 2).tolist() == [0, 1, 2, 3]
    assert top_rows(np.zeros(100, dtype=np.float32), 2).tolist() == []
    assert top_lexical(np.array([0, 3, 0, 1] + [0] * 300, dtype=np.float32), 2).tolist() == [1, 3]


def test_on_a_real_index_search_is_the_fusion_of_its_scores(built: Settings, fake: HashingEmbedder) -> None:
    retriever = Retriever(store.load_current(built.index_dir), fake)
    for question in ["警快办有多少人注册？", "莎姐", "调解成功率是多少", "What is Jingkuaiban?", "南岸区"]:
        query = retriever.prepare(question)
        dense, lexical = retriever.dense_scores(query), retriever.lexical_scores(query)
        for case_ids in ([], retriever.names.find(query)):
            allowed = (
                np.array([i for i, c in enumerate(retriever.data.chunks) if c.case_id in case_ids])
                if case_ids
                else None
            )
            rows, fused = ranking_everything(dense, lexical, 8, allowed)
            hits = retriever.search(query, 8, case_ids)
            assert [h.chunk.chunk_id for h in hits] == [retriever.data.chunks[i].chunk_id for i in rows]
            assert [h.score for h in hits] == fused


def test_lexical_weight_tips_a_tie_of_ranks_to_the_lexical_favourite() -> None:
    # Row 0 leads the dense ranking and row 1 the lexical one, each third in the other.
    dense = np.array([0.9, 0.1, 0.5], dtype=np.float32)
    lexical = np.array([0.1, 0.9, 0.5], dtype=np.float32)
    lists = TopList.of_scores(dense, window(3)), TopList.of_scores(lexical, window(3), lexical=True)
    assert fuse(*lists, 3)[0].tolist() == [0, 1, 2]  # a tie, to the lower row
    assert fuse(*lists, 3, lexical_weight=2.0)[0].tolist()[0] == 1

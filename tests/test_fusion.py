"""qa.fusion gives exactly the hits and order of ranking every passage (Retriever.search today)."""

from __future__ import annotations

import numpy as np
import pytest

from qa import index as store
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.fusion import exact_rank, fused_full, fused_top
from qa.retrieval import Retriever, _rrf


def reference(
    dense: np.ndarray, lexical: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[list[int], list[float]]:
    """Retriever.search's ordering, as written in retrieval.py."""
    fused = _rrf(dense) + _rrf(lexical)
    order = np.argsort(-fused, kind="stable")
    if allowed is not None:
        order = order[allowed[order]]
    top = order[:k] if k > 0 else order
    return [int(i) for i in top], [float(fused[i]) for i in top]


def scores(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Continuous, coarse (many ties) or mostly-zero (BM25 for a rare word) scores."""
    if kind == "continuous":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "coarse":
        return rng.integers(0, 20, n).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    out[rng.choice(n, size=min(n, 30), replace=False)] = rng.random(min(n, 30)).astype(np.float32)
    return out


@pytest.mark.parametrize("n", [5, 300, 3000])
@pytest.mark.parametrize("kinds", [("continuous", "continuous"), ("coarse", "continuous"), ("continuous", "sparse")])
def test_same_hits_and_order_as_ranking_everything(n: int, kinds: tuple[str, str]) -> None:
    rng = np.random.default_rng(n)
    for trial in range(20):
        dense, lexical = scores(rng, n, kinds[0]), scores(rng, n, kinds[1])
        mask = rng.random(n) < (0.003 if trial % 2 else 0.3) if trial % 3 == 0 else None
        for k in (1, 3, 8, 0):
            rows, fused = fused_top(dense, lexical, k, mask)
            expected_rows, expected_fused = reference(dense, lexical, k, mask)
            assert rows.tolist() == expected_rows
            assert fused.tolist() == expected_fused


def test_exact_rank_is_the_stable_descending_position() -> None:
    values = np.array([3, 1, 3, 2, 3, 0], dtype=np.float32)
    order = np.argsort(-values, kind="stable").tolist()
    assert [exact_rank(values, row) for row in range(6)] == [order.index(row) for row in range(6)]


def test_fused_full_is_retrievals_fusion() -> None:
    rng = np.random.default_rng(1)
    dense, lexical = rng.standard_normal(500).astype(np.float32), rng.integers(0, 5, 500).astype(np.float32)
    assert np.array_equal(fused_full(dense, lexical), _rrf(dense) + _rrf(lexical))


def test_on_a_real_index_every_dev_question_gets_the_same_hits(built: Settings, fake: HashingEmbedder) -> None:
    retriever = Retriever(store.load_current(built.index_dir), fake)
    for question in ["警快办有多少人注册？", "莎姐", "调解成功率是多少", "What is Jingkuaiban?", "南岸区"]:
        query = retriever.prepare(question)
        dense, lexical = retriever.dense_scores(query), retriever.lexical_scores(query)
        for case_ids in ([], retriever.names.find(query)):
            mask = retriever._rows_of(case_ids)
            rows, _ = fused_top(dense, lexical, 8, mask)
            assert [h.chunk.chunk_id for h in retriever.search(query, 8, case_ids)] == [
                retriever.data.chunks[i].chunk_id for i in rows
            ]

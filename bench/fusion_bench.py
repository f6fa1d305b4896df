"""qa.fusion.fused_top against ranking every passage (Retriever.search today), on 70,000 synthetic scores.

    python bench/fusion_bench.py                  # 69,973 passages (bench/scale.py's 10,000 cases), 30 trials
    python bench/fusion_bench.py --passages 13973 --trials 50

Dense scores are cosines around 0.8; lexical scores are BM25-like (a fifth of the
passages match, gamma-distributed) or a rare word (0.1 % match, the rest 0, one big
tie). Every trial checks that both give the same rows in the same order; the times
are the mean per search, k = 8, one thread, and how often fused_top had to fall back.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from qa import fusion
from qa.retrieval import _rrf


def reference(dense: np.ndarray, lexical: np.ndarray, k: int) -> np.ndarray:
    fused = _rrf(dense) + _rrf(lexical)
    return np.argsort(-fused, kind="stable")[:k]


def lexical_kinds(rng: np.random.Generator, n: int) -> dict[str, Callable[[], np.ndarray]]:
    return {
        "BM25-like (20 % match)": lambda: np.where(rng.random(n) < 0.2, rng.gamma(2, 2, n), 0).astype(np.float32),
        "rare word (0.1 % match)": lambda: np.where(rng.random(n) < 0.001, rng.random(n), 0).astype(np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=69_973)
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    rng, n = np.random.default_rng(0), args.passages
    fast = {"hits": 0}
    original = fusion._top_unrestricted

    def counted(dense: np.ndarray, lexical: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        found = original(dense, lexical, k)
        fast["hits"] += found is not None
        return found

    fusion._top_unrestricted = counted
    print("| lexical scores | passages | rank everything ms | fused_top ms | fast path taken |\n|---|---|---|---|---|")
    for label, lexical_scores in lexical_kinds(rng, n).items():
        fast["hits"], spent_ref, spent_new = 0, 0.0, 0.0
        for _ in range(args.trials):
            dense, lexical = (0.8 + 0.05 * rng.standard_normal(n)).astype(np.float32), lexical_scores()
            started = time.perf_counter()
            expected = reference(dense, lexical, 8)
            spent_ref += time.perf_counter() - started
            started = time.perf_counter()
            rows, _ = fusion.fused_top(dense, lexical, 8)
            spent_new += time.perf_counter() - started
            assert rows.tolist() == expected.tolist()
        ms_ref, ms_new = spent_ref / args.trials * 1000, spent_new / args.trials * 1000
        print(f"| {label} | {n:,} | {ms_ref:.2f} | {ms_new:.2f} | {fast['hits']} of {args.trials} |")


if __name__ == "__main__":
    main()

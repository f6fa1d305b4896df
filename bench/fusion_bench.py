"""qa.fusion.fuse (RRF over each list's top M) against ranking every passage, on synthetic scores.

    python bench/fusion_bench.py                  # 69,973 passages (bench/scale.py's 10,000 cases), 30 trials
    python bench/fusion_bench.py --passages 6973 --trials 50

Dense scores are cosines around 0.8; lexical scores are BM25-like (a fifth of the
passages match, gamma-distributed) or a rare word (0.1 % match, the rest 0, one big
tie). Per search (k = 8): the mean time of each, and how often the top-M fusion
returns the same 8 rows as ranking everything, and in the same order. Tied rows
share a rank in that reference: a stable sort would rank the thousands of rows
scoring 0 by row number, so a passage's place would depend on where it sits in the
file. Independent lists are the hard case: real dense and lexical lists agree more.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from qa.fusion import TopList, fuse, window


def rank_everything(dense: np.ndarray, lexical: np.ndarray, k: int) -> np.ndarray:
    """Full RRF where tied rows share a rank (the number of rows scoring higher)."""

    def rrf(scores: np.ndarray) -> np.ndarray:
        ordered = np.sort(scores)
        above = len(scores) - np.searchsorted(ordered, scores, side="right")
        return np.asarray(1.0 / (60 + above.astype(np.float32)), dtype=np.float32)

    return np.argsort(-(rrf(dense) + rrf(lexical)), kind="stable")[:k]


def truncated(dense: np.ndarray, lexical: np.ndarray, k: int) -> np.ndarray:
    return fuse(TopList.of_scores(dense, window(k)), TopList.of_scores(lexical, window(k), lexical=True), k)[0]


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
    print("| lexical scores | passages | rank everything ms | top-M fusion ms | same 8 rows | same order |")
    print("|---|---|---|---|---|---|")
    for label, lexical_scores in lexical_kinds(rng, n).items():
        same, same_rows, spent = 0, 0, {"all": 0.0, "top": 0.0}
        for _ in range(args.trials):
            dense, lexical = (0.8 + 0.05 * rng.standard_normal(n)).astype(np.float32), lexical_scores()
            found = {}
            for name, method in (("all", rank_everything), ("top", truncated)):
                started = time.perf_counter()
                found[name] = method(dense, lexical, 8).tolist()
                spent[name] += time.perf_counter() - started
            same += found["all"] == found["top"]
            same_rows += set(found["all"]) == set(found["top"])
        ms = {name: spent[name] / args.trials * 1000 for name in spent}
        print(f"| {label} | {n:,} | {ms['all']:.2f} | {ms['top']:.2f} | {same_rows} of {args.trials} | {same} |")


if __name__ == "__main__":
    main()

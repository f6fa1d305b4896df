"""What numpy's BLAS threads cost the model that runs next (the reason for ``qa.threads``).

Each round does what a server does per question on a corpus of ``--passages`` passages:
the dense product ``vectors @ q`` (numpy, OpenBLAS), then the embedding of the next
question (torch). With two BLAS threads, OpenBLAS's workers keep spinning after the
product while torch needs the cores; with one there are none. The two settings take
turns, twice each, in one run (this machine's speed drifts).

    python bench/blas_spin.py                    # 6,973 passages (bench/scale.py's 1,000 cases)
    python bench/blas_spin.py --passages 1132    # the CMRC trial index: OpenBLAS does not split it
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=6973)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    from qa.config import Settings
    from qa.embedding import load_embedder

    embedder = load_embedder(Settings.from_env())
    vectors = np.random.default_rng(0).standard_normal((args.passages, 384)).astype(np.float32)
    embedder.embed_queries(["预热"])
    asked = 0
    print("| BLAS threads | dense product ms | embedding ms (the next question) |\n|---|---|---|")
    for threads in (2, 1, 2, 1):
        with threadpool_limits(threads, "blas"):
            product = embed = 0.0
            for i in range(args.questions):
                started = time.perf_counter()
                vectors @ vectors[i % args.passages]
                product += time.perf_counter() - started
                asked += 1  # every question new to the model: no cache anywhere
                started = time.perf_counter()
                embedder.embed_queries([f"第{asked}个问题：警快办有多少人注册？"])
                embed += time.perf_counter() - started
        n = args.questions
        print(f"| {threads} | {product / n * 1e3:.2f} | {embed / n * 1e3:.2f} |")


if __name__ == "__main__":
    main()

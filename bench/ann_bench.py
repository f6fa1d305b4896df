"""ANN above the threshold: recall@10 of the build's HNSW index and of its compressed scan against exact (flat) search, and the cost of each.

    python bench/ann_bench.py                              # 20,000 and 70,000 synthetic vectors
    python bench/ann_bench.py --sizes 20000 --queries 500
    python bench/ann_bench.py --index /tmp/qa-scale/cases-10000/index   # an index's own vectors
    python bench/ann_bench.py --index build/cmrc/index --ef 16 32 64    # one built with the real model

Synthetic vectors are 384-dimensional, normalised, drawn around one centre per 50
vectors (passages of a case sit near each other) with Gaussian noise; ``--noise``
sets how spread out they are (larger is harder for any ANN). Queries are half
perturbed passages (a question about one passage) and half fresh draws around a
random centre. With ``--index`` the vectors are a built index's, and the queries
are the dev questions encoded with that index's model (the fake hashing one for
bench/scale.py's indexes, the configured model otherwise). The HNSW index is built by ``qa.index.hnsw_ip_index``,
the very code a build runs, and searched with the manifest's efSearch and others; the compressed scan
by ``qa.index.pq_ip_index``, asked for the 256 rows retrieval asks for.
Query times are one question at a time, as the server asks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DIM, PER_CENTRE, K = 384, 50, 10


def normalised(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def synthetic(size: int, queries: int, noise: float, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``size`` clustered passage vectors and ``queries`` query vectors, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, size // PER_CENTRE), DIM)).astype(np.float32)
    vectors = normalised(centres[rng.integers(0, len(centres), size)] + noise * rng.standard_normal((size, DIM)))
    near = vectors[rng.integers(0, size, queries // 2)] + 0.3 * noise * rng.standard_normal((queries // 2, DIM))
    picked = centres[rng.integers(0, len(centres), queries - queries // 2)]
    fresh = picked + noise * rng.standard_normal((len(picked), DIM))
    return vectors, normalised(np.concatenate([near, fresh]))


def from_index(index_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A built index's vectors, the dev questions and the build's calibration queries, encoded by its model.

    The fake hashing embedder for bench/scale.py's indexes; the configured model
    (QA_EMBED_MODEL) for an index built with it.
    """
    from qa import index as store
    from qa.build import calibration_queries
    from qa.config import Settings
    from qa.embedding import HashingEmbedder, load_embedder

    data = store.load_current(index_dir)
    lines = (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    fake = HashingEmbedder()
    embedder = fake if data.manifest["model"]["name"] == fake.name else load_embedder(Settings.from_env())
    asked = np.asarray(embedder.embed_queries(questions), dtype=np.float32)
    return np.ascontiguousarray(data.vectors), asked, calibration_queries([c["title"] for c in data.cases], embedder)


def timed_search(index: object, queries: np.ndarray, depth: int = K) -> tuple[np.ndarray, float]:
    """Top-K rows for each query (of ``depth`` asked), one query at a time; returns them and the mean ms per query."""
    started = time.perf_counter()
    rows = [index.search(q.reshape(1, -1), depth)[1][0][:K] for q in queries]  # type: ignore[attr-defined]
    return np.stack(rows), (time.perf_counter() - started) * 1000 / len(queries)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-K that the approximate top-K holds (recall@K)."""
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact, strict=True)]))


def tie_recall(found: np.ndarray, exact: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> float:
    """Recall@K where a passage scoring as high as the exact K-th counts too.

    Templated passages give many vectors with the same score: which of them flat
    search lists is arbitrary, so by row ids alone an equally good answer misses.
    """
    hits = 0
    for rows, best, query in zip(found, exact, queries, strict=True):
        kth = float(np.min(vectors[best] @ query))
        hits += int(np.sum(vectors[rows[rows >= 0]] @ query >= kth - 1e-6))
    return hits / (K * len(queries))


def measure(name: str, vectors: np.ndarray, queries: np.ndarray, efs: list[int], tune: np.ndarray) -> list[str]:
    """Markdown rows: flat, HNSW at each efSearch (the one a build would choose, ``calibrate``, marked), the compressed scan.

    ``tune`` are the calibration queries (for an index, its titles asked as questions, as
    the build does; for synthetic vectors, other queries of the same kind). A build
    that finds no efSearch good enough keeps flat search: "build: flat" in the flat row.
    """
    from qa import index as store

    flat = store.flat_ip_index(vectors)
    exact, flat_ms = timed_search(flat, queries)
    started = time.perf_counter()
    hnsw = store.hnsw_ip_index(vectors)
    build_s = time.perf_counter() - started
    chosen, passage_recall = store.calibrate(hnsw, vectors, tune)
    verdict = f"build: flat (sample recall {passage_recall:.3f} at ef {store.EF_STEPS[-1]})" if chosen is None else "–"
    rows = [f"| {name} | {len(vectors):,} | flat | {verdict} | 1.0000 | 1.0000 | {flat_ms:.3f} | – |"]
    for ef in sorted({*efs, *([chosen] if chosen else [])}):
        hnsw.hnsw.efSearch = ef
        found, ms = timed_search(hnsw, queries)
        mark = f" (build's choice, sample recall {passage_recall:.3f})" if ef == chosen else ""
        rows.append(
            f"| {name} | {len(vectors):,} | HNSW | {ef}{mark} | {recall(found, exact):.4f} | {tie_recall(found, exact, vectors, queries):.4f} | {ms:.3f} | {build_s:.1f} |"
        )
    return [*rows, pq_row(name, vectors, queries, exact)]


def pq_row(name: str, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> str:
    """The compressed scan a build falls back to, asked for retrieval's depth (qa.fusion.CANDIDATES) as retrieval asks."""
    from qa import index as store

    started = time.perf_counter()
    scan = store.pq_ip_index(vectors)
    build_s = time.perf_counter() - started
    found, ms = timed_search(scan, queries, store.CANDIDATES)
    ties = tie_recall(found, exact, vectors, queries)
    return f"| {name} | {len(vectors):,} | compressed scan | – | {recall(found, exact):.4f} | {ties:.4f} | {ms:.3f} | {build_s:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 70_000])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.6, 1.5])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--ef", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--index", type=Path, help="measure a built index's vectors instead")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    head = "| vectors | count | search | efSearch | recall@10 | recall@10, ties counted | ms/query | build s |"
    print(head + "\n" + "|---" * 8 + "|")
    if args.index:
        vectors, queries, tune = from_index(args.index)
        print("\n".join(measure(f"index {args.index.parent.name}", vectors, queries, args.ef, tune)), flush=True)
        return
    for size in args.sizes:
        for noise in args.noise:
            vectors, both = synthetic(size, 2 * args.queries, noise)  # even rows tune, odd rows measure
            rows = measure(f"synthetic, noise {noise}", vectors, both[1::2], args.ef, both[0::2])
            print("\n".join(rows), flush=True)


if __name__ == "__main__":
    main()

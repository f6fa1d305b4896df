"""Index build benchmark: the real knowledge base, a synthetic corpus, and an incremental rebuild.

Each scenario runs in its own process so peak RSS belongs to that scenario alone.

    python bench/build_bench.py                      # real KB + 1,000 synthetic cases
    python bench/build_bench.py --incremental 2000   # full build of 2,000 vs. +1 case incremental
    python bench/build_bench.py --int8 --passages 400   # int8 passage embedding against fp32, same run

Uses the configured model (QA_EMBED_MODEL, default multilingual-e5-small); the model
is loaded before the clock starts, so the figures are indexing cost, not model loading.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]


def run_scenario(knowledge: Path, index: Path, full: bool) -> dict[str, float]:
    from qa.build import build_index
    from qa.config import Settings
    from qa.embedding import load_embedder

    settings = Settings.from_env(knowledge_dir=knowledge, index_dir=index)
    embedder = load_embedder(settings)
    started = time.perf_counter()
    report = build_index(settings, embedder, full=full, progress=False)
    seconds = time.perf_counter() - started
    return {
        "cases": report.cases,
        "chunks": report.chunks_after,
        "embedded": report.embedded,
        "seconds": seconds,
        "chunks_per_s": report.embedded / seconds if seconds else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(knowledge: Path, index: Path, full: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", str(knowledge), str(index)] + (["--full"] if full else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<28}{int(r['cases']):>6}{int(r['chunks']):>8}{int(r['embedded']):>9}"
        f"{r['seconds']:>9.2f}{r['chunks_per_s']:>10.1f}{r['peak_rss_mb']:>10.0f}"
    )


# ---- int8 against fp32 (issue 11 item 4) -------------------------------------------------------


def int8_corpus(count: int, root: Path) -> tuple[list[Any], list[dict[str, Any]]]:
    """The real cases' passages plus synthetic ones (distractors for hit@3), ``count`` in all; and case metadata."""
    from synthetic import write_corpus

    from qa.chunking import chunk_cases
    from qa.corpus import load_cases

    synthetic = write_corpus(root, max(1, count // 6))
    for path in synthetic.glob("*.md"):  # ranks are 1-10 within a batch: the real cases hold them
        path.write_text(re.sub(r"^rank: .*\n", "", path.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8")
    cases = load_cases(REPO / "knowledge") + load_cases(synthetic)
    chunks = chunk_cases(cases, 160, 20)[:count]
    kept = {c.case_id for c in chunks}
    return chunks, [c.meta() for c in cases if c.id in kept]


def hit_questions() -> dict[str, list[tuple[str, list[str]]]]:
    """Stand-alone questions with their expected cases: the dev set, and the frozen test split's first/switch turns."""
    rows = [json.loads(line) for line in (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    dev = [(r["question"], r["expect_cases"]) for r in rows if r["expect_cases"] and not r["history"]]
    test = []
    for line in (REPO / "bench" / "conversations.jsonl").read_text(encoding="utf-8").splitlines():
        session = json.loads(line)
        if session["split"] == "test":
            turns = session["turns"]
            test += [(t["question"], t["expect_cases"]) for t in turns if t["kind"] in {"first", "switch"}]
    return {"dev": dev, "test": [(q, cases) for q, cases in test if cases]}


class FixedQueries:
    """fp32 query vectors computed once and shared by every variant's retriever (queries stay fp32)."""

    def __init__(self, inner: Any, questions: Sequence[str]) -> None:
        self.name, self.dim, self.inner = inner.name, inner.dim, inner
        self.known = dict(zip(questions, inner.embed_queries(list(questions)), strict=True))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.known[t] if t in self.known else self.inner.embed_queries([t])[0] for t in texts])

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return np.asarray(self.inner.embed_passages(texts))


def hit_at_3(
    vectors: np.ndarray, chunks: list[Any], metas: list[dict[str, Any]], queries: FixedQueries
) -> dict[str, float]:
    """Share of questions whose expected case is among the top 3 search results' cases, per split."""
    from qa import index as store
    from qa.retrieval import Retriever

    data = store.IndexData({"model": {"name": queries.name, "dim": queries.dim}}, vectors, chunks, metas, [])
    retriever = Retriever(data, queries)
    out = {}
    for split, items in hit_questions().items():
        hits = 0
        for question, expected in items:
            found = {h.chunk.case_id for h in retriever.search(retriever.prepare(question), k=3)}
            hits += bool(found & set(expected))
        out[split] = hits / len(items)
    return out


def int8_variants(lean: Any) -> dict[str, Any]:
    """fp32 (the build's model), int8 with one activation scale per call, and int8 with one per text."""
    import copy

    from qa import bert_embedder

    def quantised(per_text: bool) -> Any:
        model = copy.copy(lean)
        model.encoder = bert_embedder.Int8BertEncoder(lean.encoder.w, lean.encoder.g, per_text)
        return model

    return {
        "fp32 (build path)": lean,
        "int8, one scale per call": quantised(False),
        "int8, one scale per text": quantised(True),
    }


def embed_in_batches(model: Any, texts: Sequence[str], size: int) -> np.ndarray:
    """As the build embeds: longest first, ``size`` texts a call."""
    from qa.build import by_length

    out, order = np.zeros((len(texts), model.dim), dtype=np.float32), by_length(texts)
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        out[rows] = model.embed_passages([texts[i] for i in rows])
    return out


def batch_dependence(model: Any, texts: Sequence[str], vectors: np.ndarray) -> float:
    """Largest change of a vector when the same texts are embedded in other company (every other one, 5 a call)."""
    picked = list(range(0, min(len(texts), 128), 2))
    again = embed_in_batches(model, [texts[i] for i in picked], 5)
    return float(np.abs(again - vectors[picked]).max())


def int8_bench(count: int, threads: int, repeats: int) -> None:
    """Each variant timed in turn in this process (best of ``repeats``), then compared with fp32's vectors."""
    import torch

    from qa.build import BATCH
    from qa.chunking import embedding_text
    from qa.config import Settings
    from qa.embedding import load_embedder

    warnings.filterwarnings("ignore", message=".*quantize.*")
    lean = load_embedder(Settings.from_env(threads=threads)).inner  # type: ignore[attr-defined]
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        chunks, metas = int8_corpus(count, Path(tmp))
    texts = [embedding_text(c) for c in chunks]
    queries = FixedQueries(lean, [q for items in hit_questions().values() for q, _ in items])
    variants = int8_variants(lean)
    best: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, model in variants.items():
            started = time.perf_counter()
            vectors[name] = embed_in_batches(model, texts, BATCH)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    base_name = next(iter(variants))
    print(f"{len(texts)} passages ({len(metas)} cases), {threads} torch threads, best of {repeats}")
    head = (
        "| variant | passages/s | × fp32 | min cos | mean cos | hit@3 dev | hit@3 test | max abs diff, other batches |"
    )
    print(head + "\n" + "|---" * 8 + "|")
    for name, found in vectors.items():
        cosines = np.sum(found * vectors[base_name], axis=1)
        hits = hit_at_3(found, chunks, metas, queries)
        moved = batch_dependence(variants[name], texts, found)
        print(
            f"| {name} | {len(texts) / best[name]:.1f} | {best[base_name] / best[name]:.2f} | {cosines.min():.4f}"
            f" | {cosines.mean():.4f} | {hits['dev']:.3f} | {hits['test']:.3f} | {moved:.1e} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=1000)
    parser.add_argument("--incremental", type=int, default=0, help="corpus size for the full-vs-incremental pair")
    parser.add_argument("--child", nargs=2, type=Path)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--int8", action="store_true", help="int8 against fp32 passage embedding instead")
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.int8:
        int8_bench(args.passages, args.threads, args.repeats)
        return
    if args.child:
        print(json.dumps(run_scenario(args.child[0], args.child[1], args.full)))
        return
    from synthetic import write_case, write_corpus

    print(f"{'scenario':<28}{'cases':>6}{'chunks':>8}{'embedded':>9}{'seconds':>9}{'chunks/s':>10}{'RSS MB':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.incremental:
            corpus = write_corpus(root / "kb", args.incremental)
            full = child(corpus, root / "index", True)
            print(row(f"full build ({args.incremental})", full))
            write_case(corpus, args.incremental + 1, "新增案例", "新增案例\n\n这是一个新增案例,累计受理纠纷321件。")
            inc = child(corpus, root / "index", False)
            print(row("incremental (+1 case)", inc))
            print(f"incremental / full time ratio: {inc['seconds'] / full['seconds']:.4f}")
            return
        print(row("real knowledge base", child(REPO / "knowledge", root / "real", True)))
        corpus = write_corpus(root / "syn", args.synthetic)
        shutil.copy(REPO / "knowledge" / "README.md", corpus / "README.md")
        print(row(f"synthetic ({args.synthetic})", child(corpus, root / "syn-index", True)))


if __name__ == "__main__":
    main()

"""Index build benchmark: the real knowledge base, a synthetic corpus, and an incremental rebuild.

Each scenario runs in its own process so peak RSS belongs to that scenario alone.

    python bench/build_bench.py                      # real KB + 1,000 synthetic cases
    python bench/build_bench.py --incremental 2000   # full build of 2,000 vs. +1 case incremental

Uses the configured model (QA_EMBED_MODEL, default multilingual-e5-small); the model
is loaded before the clock starts, so the figures are indexing cost, not model loading.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=1000)
    parser.add_argument("--incremental", type=int, default=0, help="corpus size for the full-vs-incremental pair")
    parser.add_argument("--child", nargs=2, type=Path)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
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

"""Answer cost against the size of the knowledge base: the same questions on 11, ~850 and ~2,000 cases.

The real eleven case files, alone and with synthetic cases added (each with its
own alias, unit and district, so names, typo repair and look-ups all grow), are
indexed with the fake hashing embedder; the model is not what is measured here.
Each index is loaded in its own process (load time and RSS belong to it alone),
and every dev question (``bench/questions.jsonl``, with its history) is timed
in-process, ``--rounds`` times with the reply cache emptied between rounds.

    python bench/scale.py                      # 11, 850, 2000 cases
    python bench/scale.py --sizes 11 850 --rounds 2 --work /tmp/scale

The indexes are kept in ``--work`` and reused (the format does not change with
the code timed), so ``PYTHONPATH=<other checkout>/src python bench/scale.py``
times another version of the answer engine on the very same indexes.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import PLACES, THEMES, case_text

REPO = Path(__file__).resolve().parents[1]
REAL_CASES = 11
ALIAS_CHARS = "禾青岚溪岭枫桐杉柏松梅竹兰菊荷莲芸萱蓉茵岑峰屿汀澜沁泓滢渝锦绣安康宁和顺兴盛泰昌隆丰裕嘉惠善诚信义仁德"
SUFFIXES = ["工作室", "服务站", "驿站", "联盟", "调解室", "议事厅", "帮帮团", "热线"]
OFFICES = ["司法所", "派出所", "人民法庭", "检察室", "调解中心", "综治中心"]


def synthetic_case(rng: random.Random, rank: int, alias: str) -> str:
    """One case file: a body shaped like the real ones, with its own name, unit and district."""
    title, body = case_text(rng, rank)
    place = rng.choice(PLACES)
    unit = f"{place}{rng.choice(OFFICES)}"
    front = (
        f'---\nid: syn-{rank:05d}\ntitle: "{alias}{title}"\nunit: "{unit}"\nregion: "{place}区"\n'
        f'level: "区县级"\nsource: "合成"\naliases: ["{alias}"]\n---\n\n'
    )
    return front + body.replace(title, f"“{alias}”{rng.choice(THEMES)}", 1) + "\n"


def aliases(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct made-up names (青岚调解室, 沁泓服务站…)."""
    names: dict[str, None] = {}
    while len(names) < count:
        names["".join(rng.sample(ALIAS_CHARS, 2)) + rng.choice(SUFFIXES)] = None
    return list(names)


def write_knowledge(folder: Path, cases: int, seed: int = 17) -> Path:
    """The real case files plus ``cases - 11`` synthetic ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (REPO / "knowledge").glob("*.md"):
        if path.name != "README.md":
            shutil.copy(path, folder / path.name)
    rng = random.Random(seed)
    for n, alias in enumerate(aliases(max(cases - REAL_CASES, 0), rng), start=1):
        (folder / f"syn-{n:05d}.md").write_text(synthetic_case(rng, 1000 + n, alias), encoding="utf-8")
    return folder


def ensure_index(work: Path, cases: int) -> Path:
    """The index of ``cases`` cases under ``work``, built once with the fake embedder."""
    from qa.build import build_index
    from qa.config import Settings
    from qa.embedding import HashingEmbedder

    root = work / f"cases-{cases}"
    index = root / "index"
    if not (index / "current").exists():
        knowledge = write_knowledge(root / "knowledge", cases)
        settings = Settings(knowledge_dir=knowledge, index_dir=index, cache_dir=root / "cache")
        build_index(settings, HashingEmbedder(), progress=False)
    return index


def questions() -> list[tuple[str, list[dict[str, str]]]]:
    rows = [json.loads(line) for line in (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(r["question"], r.get("history", [])) for r in rows]


def measure(index: Path, rounds: int) -> dict[str, float]:
    """Load the index, then time every question ``rounds`` times (in this process)."""
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.embedding import HashingEmbedder

    started = time.perf_counter()
    bot = Assistant.load(settings=Settings(index_dir=index), embedder=HashingEmbedder())
    load_s = time.perf_counter() - started
    latencies = []
    for _ in range(rounds):
        bot._cache.clear()
        for question, history in questions():
            started = time.perf_counter()
            bot.ask(question, history)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    state = bot._state
    return {
        "cases": len(state.data.cases),
        "chunks": len(state.data.chunks),
        "names": len(state.retriever.lexicon),
        "load_s": load_s,
        "p50_ms": latencies[len(latencies) // 2],
        "p95_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "index_mb": sum(f.stat().st_size for f in (index / "current").resolve().iterdir()) / 2**20,
    }


def child(index: Path, rounds: int) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", str(index), "--rounds", str(rounds)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def table(results: list[dict[str, float]]) -> str:
    base = results[0]
    head = "| cases | chunks | names | load s | RSS MB | index MB | p50 ms | p95 ms | p50 ratio | p95 ratio |"
    lines = [head, "|" + "---|" * 10]
    for r in results:
        lines.append(
            f"| {int(r['cases'])} | {int(r['chunks'])} | {int(r['names'])} | {r['load_s']:.2f} | {r['rss_mb']:.0f}"
            f" | {r['index_mb']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f}"
            f" | {r['p50_ms'] / base['p50_ms']:.2f} | {r['p95_ms'] / base['p95_ms']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[REAL_CASES, 850, 2000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-scale")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rounds)))
        return
    indexes = [ensure_index(args.work, n) for n in args.sizes]
    results = [child(index, args.rounds) for index in indexes]
    print(table(results))


if __name__ == "__main__":
    main()

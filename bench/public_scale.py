"""The same questions on the eleven real cases and on a public corpus indexed as cases, with the real model.

    python bench/cmrc.py                       # once: its first run builds build/cmrc/index (CMRC 2018 trial)
    python bench/public_scale.py               # 80 dev and 80 CMRC questions on both, each new to the model
    python bench/public_scale.py --rounds 3    # and asked again: query vectors cached, the engine alone

bench/scale.py grows the corpus with synthetic cases and the fake embedder; this is
the check on real text: the model encodes every query (its cost is in the figures,
as a user would see it) and each index is loaded in its own process. The ratio is
public / eleven cases for the same questions, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CMRC = REPO.parent / "shared" / "data" / "cmrc2018_trial.json"


def question_sets(count: int) -> dict[str, list[str]]:
    dev = [
        json.loads(line)["question"]
        for line in (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    passages = json.loads(CMRC.read_text(encoding="utf-8"))
    cmrc = [q["query_text"] for p in passages for q in p["qas"]]
    return {"dev": dev[:count], "cmrc": cmrc[:count]}


def measure(index: Path, questions: list[str], rounds: int) -> dict[str, float]:
    """p50/p95 in ms over ``rounds`` passes (reply cache emptied; query vectors cached after the first)."""
    from qa.assistant import Assistant
    from qa.config import Settings

    bot = Assistant.load(settings=Settings.from_env(index_dir=index))
    bot.ask("预热")  # the model's first call pays for torch's start-up
    latencies = []
    for _ in range(rounds):
        bot._cache.clear()
        for question in questions:
            started = time.perf_counter()
            bot.ask(question)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {"p50_ms": latencies[len(latencies) // 2], "p95_ms": latencies[int(len(latencies) * 0.95)]}


def child(index: Path, name: str, count: int, rounds: int) -> dict[str, float]:
    args = [
        sys.executable,
        __file__,
        "--child",
        str(index),
        "--set",
        name,
        "--count",
        str(count),
        "--rounds",
        str(rounds),
    ]
    return dict(json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=Path, default=REPO / "index")
    parser.add_argument("--public", type=Path, default=REPO / "build" / "cmrc" / "index")
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=1, help="passes; after the first, query vectors are cached")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--set", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, question_sets(args.count)[args.set], args.rounds)))
        return
    print("| questions | 11 cases p50 ms | public p50 ms | p50 ratio | 11 cases p95 ms | public p95 ms | p95 ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in ("dev", "cmrc"):
        small: dict[str, Any] = child(args.small, name, args.count, args.rounds)
        public: dict[str, Any] = child(args.public, name, args.count, args.rounds)
        print(
            f"| {args.count} {name} | {small['p50_ms']:.1f} | {public['p50_ms']:.1f} | {public['p50_ms'] / small['p50_ms']:.2f}"
            f" | {small['p95_ms']:.1f} | {public['p95_ms']:.1f} | {public['p95_ms'] / small['p95_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()

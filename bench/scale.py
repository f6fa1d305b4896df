"""Answer cost against the size of the knowledge base: the same questions on 11 to 10,000 cases.

The real eleven case files, alone and with synthetic cases added (each with its
own alias, unit and district, so names, typo repair and look-ups all grow), are
indexed by default with the fake hashing embedder: the model is not what is measured. In the
default reader mode (``--reader span``) the span reader still runs its real encoder on the
questions it reads, as in a server: its cost per read does not depend on the corpus,
but it counts in the figures (``--reader hybrid`` leaves it out).
Each index is loaded in its own process (load time and RSS belong to it alone),
and every dev question (``bench/questions.jsonl``, with its history) is timed
in-process, ``--rounds`` times with the reply cache emptied between rounds, the
sizes taking turns a round each (the machine's speed drifts; each size sees the
same drift).

    python bench/scale.py                      # 11, 1000, 2000, 10000 cases
    python bench/scale.py --sizes 11 850 --rounds 2 --work /tmp/scale
    python bench/scale.py --profile 2000 10000 # plus one profiled round on those sizes (top functions)
    python bench/scale.py --reader hybrid      # the engine without the span reader
    python bench/scale.py --embedder model --sizes 11 10000 --rounds 2   # the real model end to end

With ``--embedder model`` the configured embedding model builds the indexes (about 25
minutes for the 70,000 passages of 10,000 cases on 2 cores) and encodes the questions,
as in a server: the figures then include the model's cost, and the HNSW index is
calibrated on the vectors a real build writes (the hashing embedder's vectors of the
templated synthetic text are full of near-ties, where no efSearch finds 99 % of the
exact top 10 and a build rightly stays flat). Those indexes live in ``--work`` as
``model-cases-N``.

Each index is built once, in its own process too (the build's time and peak RSS
are reported beside the answer figures); above ``QA_ANN_THRESHOLD`` passages that
build writes an HNSW index, so the 10,000-case row also loads one.

The indexes are kept in ``--work`` and reused (the format does not change with
the code timed), so ``PYTHONPATH=<other checkout>/src python bench/scale.py``
times another version of the answer engine on the very same indexes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def ensure_index(work: Path, cases: int, embedder: str) -> Path:
    """The index of ``cases`` cases under ``work``, built once (in a child process) with ``embedder``."""
    root = work / f"{'model-' if embedder == 'model' else ''}cases-{cases}"
    if not (root / "index" / "current").exists():
        args = [sys.executable, __file__, "--build-child", str(root), "--cases", str(cases), "--embedder", embedder]
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        (root / "build.json").write_text(out.strip().splitlines()[-1], encoding="utf-8")
    return root / "index"


def make_embedder(kind: str) -> Any:
    """The fake hashing embedder, or the configured model (``QA_EMBED_MODEL``, cached under ``QA_CACHE_DIR``)."""
    from qa.config import Settings
    from qa.embedding import HashingEmbedder, load_embedder

    return load_embedder(Settings.from_env()) if kind == "model" else HashingEmbedder()


def build(root: Path, cases: int, embedder: str) -> dict[str, float]:
    """Write the corpus and build its index; the build's wall time and this process's peak RSS."""
    from qa.build import build_index
    from qa.config import Settings

    knowledge = write_knowledge(root / "knowledge", cases)
    model = make_embedder(embedder)  # loaded before the clock starts, as a server has it loaded
    settings = Settings.from_env(knowledge_dir=knowledge, index_dir=root / "index", cache_dir=root / "cache")
    started = time.perf_counter()
    report = build_index(settings, model, progress=False)
    return {
        "build_s": time.perf_counter() - started,
        "build_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "chunks": report.chunks_after,
    }


def build_figures(index: Path) -> dict[str, float]:
    path = index.parent / "build.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def questions() -> list[tuple[str, list[dict[str, str]]]]:
    rows = [json.loads(line) for line in (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(r["question"], r.get("history", [])) for r in rows]


def serve_timings(index: Path, profile: bool, reader: str, embedder: str) -> None:
    """A child process: load the index, then answer the parent's commands on stdin, one line each.

    ``clear`` empties the reply cache; ``ask N`` times dev question N and prints the
    milliseconds; ``done`` (after an optional profiled round) prints the figures.
    The parent lets the sizes take turns a round each: this machine's speed drifts by
    up to 2x over minutes, and turns give every size the same drift. (Turns of one
    question each were tried: then every process found the CPU caches filled by the
    others, which slowed the larger indexes most.)
    """
    from qa.assistant import Assistant
    from qa.config import Settings

    started = time.perf_counter()
    bot = Assistant.load(settings=Settings(index_dir=index, reader_mode=reader), embedder=make_embedder(embedder))
    load_s = time.perf_counter() - started
    asked = questions()
    print(json.dumps({"load_s": load_s}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "clear":
            bot._cache.clear()
            print("ok", flush=True)
        elif command[0] == "ask":
            question, history = asked[int(command[1])]
            started = time.perf_counter()
            bot.ask(question, history)
            print((time.perf_counter() - started) * 1000, flush=True)
        else:
            break
    if profile:
        profiled_round(bot)
    print(json.dumps(figures(bot, index, load_s)), flush=True)


def figures(bot: Any, index: Path, load_s: float) -> dict[str, Any]:
    state = bot._state
    return {
        **build_figures(index),
        "search": state.data.manifest.get("search", {}).get("kind", "flat"),
        "cases": len(state.data.cases),
        "chunks": len(state.data.chunks),
        "names": len(state.retriever.lexicon),
        "load_s": load_s,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "index_mb": sum(f.stat().st_size for f in (index / "current").resolve().rglob("*") if f.is_file()) / 2**20,
    }


def measure_all(indexes: dict[int, Path], rounds: int, profile: list[int], engine: list[str]) -> list[dict[str, Any]]:
    """Every size in its own process (loaded one after another), timed a round each in turn.

    ``engine`` is the children's ``--reader`` and ``--embedder`` arguments.
    """
    children = {}
    for n, index in indexes.items():
        args = [sys.executable, __file__, "--child", str(index), *engine] + (["--profiled"] * (n in profile))
        with contextlib.ExitStack() as files:  # the child holds its own copy of the profile file
            err = files.enter_context((index.parent / "profile.txt").open("w")) if n in profile else subprocess.DEVNULL
            child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        _read(child)  # loaded: the next one loads on a quiet machine
        children[n] = child
    latencies: dict[int, list[float]] = {n: [] for n in indexes}
    for _ in range(rounds):
        for n, child in children.items():
            _send(child, "clear")
            latencies[n] += [float(_send(child, f"ask {i}")) for i in range(len(questions()))]
    results = []
    for n, child in children.items():
        out = dict(json.loads(_send(child, "done")))
        child.wait()
        ordered = sorted(latencies[n])
        out["p50_ms"] = ordered[len(ordered) // 2]
        out["p95_ms"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        results.append(out)
    return results


def _send(child: subprocess.Popen[str], command: str) -> str:
    assert child.stdin is not None
    child.stdin.write(command + "\n")
    child.stdin.flush()
    return _read(child)


def _read(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        raise RuntimeError(f"a measuring process exited (status {child.wait()}): {' '.join(map(str, child.args))}")
    return line.strip()


def profiled_round(bot: Any) -> None:
    """Every question once more, under cProfile (reply cache emptied first)."""
    bot._cache.clear()
    profiler = cProfile.Profile()
    asked = questions()
    profiler.enable()
    for question, history in asked:
        bot.ask(question, history)
    profiler.disable()
    print_profile(profiler, len(asked))


def print_profile(profiler: cProfile.Profile, asked: int) -> None:
    """The top functions by own time and by cumulative time, per question, to stderr."""
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(order).print_stats(25)
        print(f"== {asked} questions, sorted by {order} ==\n{out.getvalue()}", file=sys.stderr)


def table(results: list[dict[str, Any]]) -> str:
    base = results[0]
    head = "| cases | chunks | names | search | build s | build RSS MB | load s | RSS MB | index MB | p50 ms | p95 ms"
    lines = [head + " | p50 ratio | p95 ratio |", "|" + "---|" * 13]
    for r in results:
        lines.append(
            f"| {int(r['cases'])} | {int(r['chunks'])} | {int(r['names'])} | {r['search']}"
            f" | {r.get('build_s', float('nan')):.1f} | {r.get('build_rss_mb', float('nan')):.0f}"
            f" | {r['load_s']:.2f} | {r['rss_mb']:.0f}"
            f" | {r['index_mb']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f}"
            f" | {r['p50_ms'] / base['p50_ms']:.2f} | {r['p95_ms'] / base['p95_ms']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[REAL_CASES, 1000, 2000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-scale")
    parser.add_argument("--profile", type=int, nargs="*", default=[], metavar="CASES", help="sizes to profile too")
    parser.add_argument("--reader", default="span", choices=["span", "hybrid", "rules"], help="QA_READER of the engine")
    parser.add_argument("--embedder", default="hashing", choices=["hashing", "model"], help="what builds and encodes")
    parser.add_argument("--profiled", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cases", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        print(json.dumps(build(args.build_child, args.cases, args.embedder)))
        return
    if args.child:
        serve_timings(args.child, args.profiled, args.reader, args.embedder)
        return
    indexes = {n: ensure_index(args.work, n, args.embedder) for n in args.sizes}
    results = measure_all(indexes, args.rounds, args.profile, ["--reader", args.reader, "--embedder", args.embedder])
    print(table(results))
    for n in args.profile:
        print(f"profile of {n} cases: {indexes[n].parent / 'profile.txt'}")


if __name__ == "__main__":
    main()

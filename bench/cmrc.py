"""CMRC 2018 trial passages as a knowledge base: how the engine does on text it was never written for.

Data: ``../shared/data/cmrc2018_trial.json`` (CMRC 2018 trial split, Cui et al. 2019,
CC BY-SA 4.0): 256 Wikipedia passages, 1,002 questions, each answer a span of its passage.

Each passage becomes one case file (only ``id`` and ``title``), the whole set is indexed
with the real model, and every question is asked with no history. The reader is trained
on CMRC, so its figures here come from 5-fold cross-validation by passage
(``fold_of``): a question is answered by a reader that never saw its passage. Metrics
follow the CMRC 2018 evaluation script: character-level F1 and exact match after
removing punctuation and spaces, best over the reference answers.

    python bench/cmrc.py                 # the shipped mode, "span" (its reader never saw fold 4)
    python bench/cmrc.py --mode choice   # the span reader weighed against the rules by a learned choice
    python bench/cmrc.py --mode hybrid   # rules + the feature reader (trained per fold)
    python bench/cmrc.py --mode rules    # the rule engine alone, for comparison
    python bench/cmrc.py --mode reader   # the feature reader picks every fact span

The span reader (``src/qa/data/span_reader.npz``) was trained on folds 0-3 and never on fold 4:
in mode "span" only ``per_fold["4"]`` is a held-out figure (``bench/train_span_reader.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "cmrc2018_trial.json"
WORK = ROOT / "build" / "cmrc"
FOLDS = 5


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def fold_of(context_id: str) -> int:
    """A passage's fold: by a hash of its id, so folds never depend on file order."""
    return int(hashlib.sha256(context_id.encode()).hexdigest(), 16) % FOLDS


def case_id(context_id: str) -> str:
    return "cmrc-" + re.sub(r"[^a-z0-9-]", "-", context_id.lower())


def write_cases(passages: list[dict[str, Any]], folder: Path) -> None:
    """One case file per passage: front matter with id and title, the passage as body."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(passages):
        title = json.dumps(p["title"].strip() or p["context_id"], ensure_ascii=False)
        text = f"---\nid: {case_id(p['context_id'])}\ntitle: {title}\n---\n{p['context_text'].strip()}\n"
        (folder / f"{i:03d}-{case_id(p['context_id'])}.md").write_text(text, encoding="utf-8")


def score(prediction: str, answers: list[str]) -> dict[str, float]:
    from qa.scoring import best_f1, contains, exact

    return {
        "em": float(exact(prediction, answers)),
        "f1": best_f1(prediction, answers),
        "contains": float(contains(prediction, answers)),
    }


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = ["em", "f1", "contains", "hit1", "refused"]
    out = {k: round(statistics.fmean(r[k] for r in rows), 3) for k in keys}
    out["n"] = len(rows)
    out["answer_chars_median"] = statistics.median(r["chars"] for r in rows)
    out["p50_ms"] = round(statistics.median(r["ms"] for r in rows), 1)
    return out


def build(settings: Any) -> None:
    from qa.build import build_index
    from qa.embedding import load_embedder

    passages = load()
    write_cases(passages, settings.knowledge_dir)
    if not (settings.index_dir / "current").exists():
        build_index(settings, load_embedder(settings), progress=True)


def evaluate(assistant: Any, passages: list[dict[str, Any]], reader_for: Callable[[int], Any] | None) -> dict[str, Any]:
    rows = []
    for p in passages:
        fold = fold_of(p["context_id"])
        if reader_for is not None:
            assistant.use_reader(reader_for(fold))
        for qa in p["qas"]:
            if not qa["query_text"].strip():  # the trial split has an empty question; it is not asked
                continue
            started = time.perf_counter()
            reply = assistant.ask(qa["query_text"], [])
            ms = (time.perf_counter() - started) * 1000
            answer = re.sub(r"\[\d+\]", "", reply.answer)
            row = score(answer, qa["answers"]) if reply.grounded else {"em": 0.0, "f1": 0.0, "contains": 0.0}
            cited = [c.case_id for c in reply.citations]
            row.update(hit1=float(bool(cited) and cited[0] == case_id(p["context_id"])))
            row.update(refused=float(not reply.grounded), chars=len(answer), ms=ms, fold=fold)
            rows.append(row)
    return {
        "all": summarise(rows),
        "per_fold": {f: summarise([r for r in rows if r["fold"] == f]) for f in range(FOLDS)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--mode", default="span", choices=["span", "choice", "rules", "hybrid", "reader"], help="how spans are chosen"
    )
    parser.add_argument("--span-reader", type=Path, help="another span reader file (e.g. one trained without fold 3)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N passages (a quick look)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from qa import reader_fit, span_reader
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.embedding import ensure_default_model

    mode = "hybrid" if args.mode in ("hybrid", "reader") else args.mode
    settings = Settings.from_env(knowledge_dir=WORK / "knowledge", index_dir=WORK / "index", reader_mode=mode)
    build(settings)
    assistant = Assistant.load(settings=settings)
    passages = load()[: args.limit or None]
    reader_for = None
    if args.span_reader:
        span = span_reader.load(ensure_default_model(settings.cache_dir), args.span_reader)
        assistant.use_readers(replace(assistant.readers, span=span))
    if args.mode in ("hybrid", "reader"):
        assistant.use_reader(None, args.mode)
        domain = reader_fit.domain_examples(ROOT / "knowledge")
        extra = domain + reader_fit.without_answer(domain)
        extra += reader_fit.dev_examples(ROOT / "bench" / "questions.jsonl", ROOT / "knowledge")
        reader_for = reader_fit.cross_validated_readers(load(), fold_of, FOLDS, extra)
    result = evaluate(assistant, passages, reader_for)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fit the weights of mode "choice"'s choice among candidate answers (``qa.answer.choice``) and write
``src/qa/data/span_choice.json``.

The choice weighs the span reader's rating of each candidate against the rules' lexical fit. Its
weights should come from questions the reader never saw, or the fit would learn to trust an
overfitted reader: so the bulk is **CMRC 2018 trial fold 3** (``bench/cmrc.py``'s folds), read by
the reader trained without fold 3 (``python bench/train_span_reader.py fit --keep-chooser`` writes
it to ``build/span/out/without_fold3.npz``). The **dev** questions of ``bench/questions.jsonl``
asked without history join them so that the domain has its say (every reader was trained on those).
Fold 4 stays held out: neither the reader nor the choice saw it.

Each question is asked through the product (``Assistant.ask``). Where the choice applies (the reader
was asked), the candidates it chose among and their features are recorded with a label each: does
the candidate, as it would be quoted, hold the answer (a gold span; every expected string). The fit
is a deterministic full-batch gradient ascent (:func:`qa.answer.choice.fit`).

    python bench/fit_span_choice.py --span-reader build/span/out/without_fold3.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHOOSE_ON = 3


def collect(assistant: Any, questions: list[tuple[str, Any]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) of every question where the product made the choice. ``questions`` are
    (question, label) pairs: ``label(candidate)`` says whether that quoted candidate answers it."""
    from qa.answer.spans import trim_span

    facts = assistant._state.answerer.facts
    pools: list[Any] = []
    original = facts.span_pool
    facts.span_pool = lambda *a, **k: _kept(pools, original(*a, **k))
    groups = []
    try:
        for question, label in questions:
            pools.clear()
            assistant.ask(question, [])
            for candidates, rows in (x for x in pools if x is not None and x[1] is not None):
                groups.append((rows, np.array([float(label(trim_span(span))) for _, _, span in candidates])))
    finally:
        del facts.span_pool
    return groups


def cmrc_questions(passages: list[dict[str, Any]], fold_of: Any) -> list[tuple[str, Any]]:
    """Fold ``CHOOSE_ON``'s questions; a candidate is right when it holds a gold answer."""
    from qa.scoring import contains

    return [
        (qa["query_text"], lambda text, answers=qa["answers"]: contains(text, answers))
        for p in passages
        if fold_of(p["context_id"]) == CHOOSE_ON
        for qa in p["qas"]
        if qa["query_text"].strip()
    ]


def domain_questions(path: Path) -> list[tuple[str, Any]]:
    """The dev questions asked without history that expect strings; right when it holds them all."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        (item["question"], lambda text, wanted=tuple(item["expect_answer"]): all(w in text for w in wanted))
        for item in items
        if not item.get("history") and item.get("grounded") and item.get("expect_answer")
    ]


def _kept(pools: list[Any], pool: Any) -> Any:
    pools.append(pool)
    return pool


def cmrc_settings(cmrc: Any) -> Any:
    from qa.config import Settings

    settings = Settings.from_env(
        knowledge_dir=cmrc.WORK / "knowledge", index_dir=cmrc.WORK / "index", reader_mode="rules"
    )
    cmrc.build(settings)
    return settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--span-reader", type=Path, required=True, help="the reader trained without fold 3")
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "qa" / "data" / "span_choice.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    import cmrc

    from qa import span_reader
    from qa.answer import Readers, choice
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.embedding import ensure_default_model

    reader = span_reader.load(ensure_default_model(Settings.from_env().cache_dir), args.span_reader)
    groups = []
    for settings, questions in (
        (cmrc_settings(cmrc), cmrc_questions(cmrc.load(), cmrc.fold_of)),
        (Settings.from_env(reader_mode="rules"), domain_questions(ROOT / "bench" / "questions.jsonl")),
    ):
        # Mode "rules" loads no weights, so none are needed to refit them; the choice is handed its reader.
        assistant = Assistant.load(settings=settings)
        assistant.use_readers(Readers("choice", None, reader, choice.SpanChoice(np.zeros(len(choice.FEATURES)), "")))
        found = collect(assistant, questions)
        print(f"{settings.index_dir}: {len(found)} of {len(questions)} questions made the choice")
        groups += found
    weights = choice.fit(groups)
    picked = [float(y[int(np.argmax(x @ weights))]) for x, y in groups]
    provenance = {
        "fitted_on": f"CMRC 2018 trial fold {CHOOSE_ON} and bench/questions.jsonl (dev): {len(groups)} questions where the choice applied",
        "reader_sha256": hashlib.sha256(args.span_reader.read_bytes()).hexdigest(),
        "holds_gold_on_fit": round(float(np.mean(picked)), 3),
        "command": "python bench/fit_span_choice.py --span-reader <reader trained without fold 3>",
    }
    choice.save(args.out, weights, provenance)
    print(dict(zip(choice.FEATURES, weights.round(3), strict=True)), provenance)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

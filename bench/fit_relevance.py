"""Fit the on-topic model (``src/qa/data/relevance.json``) on dev data only.

    .venv/bin/python bench/fit_relevance.py

1. Writes the dev split of ``bench/offtopic.jsonl`` into ``src/qa/data/background.txt``
   (between the markers), so everyday *questions* join the everyday passages that a
   question's best knowledge-base passage is compared with.
2. Builds a throwaway index of ``knowledge/`` with the configured model.
3. Computes each training question's evidence; an everyday question never sees its own
   background row (leave-one-out), or its evidence would be a perfect match.
4. Fits the logistic model and picks the threshold; prints dev figures.

Positives: dev questions that the gate applies to (no case named, or only a district),
from ``bench/questions.jsonl``, the dev conversations' complete turns and
``knowledge/checks.jsonl``. Negatives: the dev everyday questions. The frozen test
splits are never read here.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qa.answer import Answerer  # noqa: E402
from qa.build import build_index  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import background_passages, load_embedder  # noqa: E402
from qa.index import load_current  # noqa: E402
from qa.relevance import FEATURES, RelevanceModel, fit  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402

BACKGROUND = REPO / "src" / "qa" / "data" / "background.txt"
BEGIN, END = "# --- everyday questions (bench/offtopic.jsonl, dev split) ---", "# --- end ---"
MIN_RECALL = 0.95  # share of on-topic dev questions that must pass the gate


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_background(questions: list[str]) -> None:
    text = BACKGROUND.read_text(encoding="utf-8")
    head = text.split(BEGIN)[0].rstrip("\n")
    BACKGROUND.write_text("\n".join([head, BEGIN, *questions, END]) + "\n", encoding="utf-8")


def positives() -> list[str]:
    dev = [q["question"] for q in jsonl(REPO / "bench/questions.jsonl") if q["grounded"] and not q.get("history")]
    turns = [
        t["question"]
        for s in jsonl(REPO / "bench/conversations.jsonl")
        if s["split"] == "dev"
        for t in s["turns"]
        if t["grounded"] and t["kind"] in {"first", "switch", "list"}
    ]
    checks = [c["question"] for c in jsonl(REPO / "knowledge/checks.jsonl")]
    return list(dict.fromkeys(dev + turns + checks))


def negatives() -> list[str]:
    everyday = [o["question"] for o in jsonl(REPO / "bench/offtopic.jsonl") if o["split"] == "dev"]
    turns = [
        t["question"]
        for s in jsonl(REPO / "bench/conversations.jsonl")
        if s["split"] == "dev"
        for t in s["turns"]
        if t["kind"] == "offtopic"
    ]
    return list(dict.fromkeys(everyday + turns))


def gated(answerer: Answerer, question: str) -> bool:
    q = answerer.resolve(question, [])
    return not q.named or answerer.retriever.names.only_places(q.query)


def features(answerer: Answerer, question: str, lines: list[str]) -> np.ndarray:
    q = answerer.resolve(question, [])
    hits = answerer.retriever.search(q.query, k=1, case_ids=q.named or None, expand=q.terms)
    hide = np.array([line == question for line in lines])
    return answerer.evidence(q, hits[0].chunk.case_id, hide).vector()


def threshold_for(model: RelevanceModel, pos: np.ndarray, neg: np.ndarray) -> float:
    """The highest threshold that still lets MIN_RECALL of the on-topic questions through."""
    probs = np.sort([_prob(model, x) for x in pos])
    return float(probs[int(np.floor((1 - MIN_RECALL) * len(probs)))]) - 1e-6


def _prob(model: RelevanceModel, x: np.ndarray) -> float:
    z = (x - np.array(model.mean)) / np.array(model.scale)
    return float(1 / (1 + np.exp(-(z @ np.array(model.weights) + model.bias))))


def main() -> None:
    write_background(negatives())
    settings = Settings.from_env(knowledge_dir=REPO / "knowledge", index_dir=Path(tempfile.mkdtemp()) / "index")
    embedder = load_embedder(settings)
    build_index(settings, embedder, progress=False)
    placeholder = RelevanceModel((0.0,) * len(FEATURES), (1.0,) * len(FEATURES), (0.0,) * len(FEATURES), 0.0)
    answerer = Answerer(Retriever(load_current(settings.index_dir), embedder), placeholder)
    lines = background_passages()
    pos_q = [q for q in positives() if gated(answerer, q)]
    neg_q = negatives()
    pos = np.array([features(answerer, q, lines) for q in pos_q])
    neg = np.array([features(answerer, q, lines) for q in neg_q])
    x, y = np.vstack([pos, neg]), np.array([1.0] * len(pos) + [0.0] * len(neg))
    model = fit(x, y)
    model = RelevanceModel(model.mean, model.scale, model.weights, model.bias, round(threshold_for(model, pos, neg), 6))
    out = REPO / "src" / "qa" / "data" / "relevance.json"
    out.write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
    passed = sum(_prob(model, v) >= model.threshold for v in pos)
    refused = sum(_prob(model, v) < model.threshold for v in neg)
    print(f"positives {len(pos)} (gated of {len(positives())}), negatives {len(neg)}")
    print(f"dev (fitted on): on-topic passed {passed}/{len(pos)}, everyday refused {refused}/{len(neg)}")
    print(json.dumps(dict(zip(FEATURES, model.weights, strict=True)), indent=1), "threshold", model.threshold)


if __name__ == "__main__":
    main()

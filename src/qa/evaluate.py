"""``qa eval``: score the assistant and a naive pipeline on the same dev set, same run.

The naive pipeline is what a tutorial builds: RecursiveCharacterTextSplitter,
the same embedding model, FAISS top-3, and the top chunk returned as the
answer. Scoring both in one process on one machine makes the comparison a
ratio that machine noise cannot fake.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .assistant import Assistant
from .config import READER_MODES, SPAN_MODES, Settings
from .corpus import load_cases
from .embedding import Embedder
from .index import flat_ip_index
from .reader import load as load_reader

CONCISE_CHARS = 150
LIST_CHARS = 600  # a list of ten titles cannot be 150 characters; it is still judged for length
MARKER = re.compile(r"\[\d+\]")


@dataclass
class Outcome:
    category: str
    correct: bool
    concise: bool
    hit3: bool | None
    expected_refusal: bool
    refused: bool
    latency_ms: float


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        o = self.outcomes
        hits = [x.hit3 for x in o if x.hit3 is not None]
        tp = sum(x.refused and x.expected_refusal for x in o)
        refused, expected = sum(x.refused for x in o), sum(x.expected_refusal for x in o)
        latencies = sorted(x.latency_ms for x in o)
        return {
            "n": len(o),
            "accuracy": _ratio(sum(x.correct for x in o), len(o)),
            "concise_accuracy": _ratio(sum(x.correct and x.concise for x in o), len(o)),
            "hit@3": _ratio(sum(hits), len(hits)),
            "refusal_precision": _ratio(tp, refused),
            "refusal_recall": _ratio(tp, expected),
            "p50_ms": _percentile(latencies, 50),
            "p95_ms": _percentile(latencies, 95),
        }


def load_questions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_eval(settings: Settings, questions_path: Path, naive: bool = True) -> dict[str, Any]:
    questions = load_questions(questions_path)
    assistant = Assistant.load(settings=settings)
    results: dict[str, Any] = {
        "mode": settings.reader_mode,
        "ours": _score(questions, lambda q: _ask_ours(assistant, q)),
    }
    if naive:
        pipeline = NaivePipeline(settings, assistant.embedder)
        results["naive"] = _score(questions, pipeline.ask)
        results["modes"] = _other_modes(questions, assistant, settings.reader_mode)
    results["failures"] = _failures(questions, assistant)
    return results


def _other_modes(questions: list[dict[str, Any]], assistant: Assistant, shipped: str) -> dict[str, Any]:
    """The same questions with fact spans chosen by each other mode (rules, readers), same run."""
    found = {}
    served = assistant.readers
    features = served.features or load_reader()
    for mode in READER_MODES:
        if mode == shipped or (mode in SPAN_MODES and served.span is None):
            continue
        assistant.use_readers(replace(served, mode=mode, features=features))
        found[mode] = _score(questions, lambda q: _ask_ours(assistant, q))["overall"]
    assistant.use_readers(served)
    return found


def _score(questions: list[dict[str, Any]], ask: Any) -> dict[str, Any]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for item in questions:
        outcome = _judge(item, *ask(item))
        tallies[item["category"]].outcomes.append(outcome)
        tallies["overall"].outcomes.append(outcome)
    return {name: tally.summary() for name, tally in tallies.items()}


def _ask_ours(assistant: Assistant, item: dict[str, Any]) -> tuple[str, list[str], bool, float]:
    history: list[dict[str, str]] = []
    for earlier in item.get("history", []):
        reply = assistant.ask(earlier, history)
        history += [{"role": "user", "content": earlier}, {"role": "assistant", "content": reply.answer}]
    started = time.perf_counter()
    reply = assistant.ask(item["question"], history)
    latency = (time.perf_counter() - started) * 1000
    return reply.answer, [c.case_id for c in reply.citations], reply.grounded, latency


def is_right(item: dict[str, Any], answer: str, cited: list[str], grounded: bool) -> bool:
    """Right when it refuses what it should, or cites the expected cases and holds every expected string."""
    if not item["grounded"]:
        return not grounded
    return grounded and all(s in answer for s in item["expect_answer"]) and set(item["expect_cases"]) <= set(cited)


def _judge(item: dict[str, Any], answer: str, cited: list[str], grounded: bool, latency: float) -> Outcome:
    expected_refusal = not item["grounded"]
    text = MARKER.sub("", answer)
    limit = LIST_CHARS if item["category"] == "list" else CONCISE_CHARS
    correct = is_right(item, answer, cited, grounded)
    hit3 = _hit3(item, cited) if item["expect_cases"] and not expected_refusal else None
    return Outcome(item["category"], correct, len(text) <= limit, hit3, expected_refusal, not grounded, latency)


def _hit3(item: dict[str, Any], cited: list[str]) -> bool:
    top = list(dict.fromkeys(cited))[:3]
    return any(case in top for case in item["expect_cases"])


def _failures(questions: list[dict[str, Any]], assistant: Assistant) -> list[dict[str, Any]]:
    out = []
    for item in questions:
        answer, cited, grounded, latency = _ask_ours(assistant, item)
        if not _judge(item, answer, cited, grounded, latency).correct:
            out.append({"id": item["id"], "question": item["question"], "answer": answer, "cited": cited})
    return out


class NaivePipeline:
    """The baseline: fixed-size chunks, dense top-3, the top chunk verbatim, never refuses."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=200, chunk_overlap=20)
        self.chunks: list[tuple[str, str]] = [
            (case.id, text) for case in load_cases(settings.knowledge_dir) for text in splitter.split_text(case.body)
        ]
        self.embedder = embedder
        self.index = flat_ip_index(embedder.embed_passages([t for _, t in self.chunks]))

    def ask(self, item: dict[str, Any]) -> tuple[str, list[str], bool, float]:
        started = time.perf_counter()
        vector = self.embedder.embed_queries([item["question"]])
        _, ids = self.index.search(np.asarray(vector, dtype=np.float32), 3)
        top = [self.chunks[int(i)] for i in ids[0] if i >= 0]
        latency = (time.perf_counter() - started) * 1000
        return (top[0][1] if top else ""), [case for case, _ in top], True, latency


def format_table(results: dict[str, Any]) -> str:
    ours, naive = results["ours"], results.get("naive", {})
    header = f"{'category':<12}{'n':>4}  {'acc':>11}  {'concise':>11}  {'hit@3':>11}  {'refusal P/R':>17}  {'p50/p95 ms':>13}"
    lines = [
        f"ours (QA_READER={results.get('mode', 'hybrid')}) vs naive (naive in parentheses)",
        header,
        "-" * len(header),
    ]
    for name in _order(ours):
        o, b = ours[name], naive.get(name, {})
        lines.append(
            f"{name:<12}{o['n']:>4}  {_pair(o, b, 'accuracy'):>11}  {_pair(o, b, 'concise_accuracy'):>11}  "
            f"{_pair(o, b, 'hit@3'):>11}  {_fmt(o['refusal_precision'])}/{_fmt(o['refusal_recall'])}"
            f" ({_fmt(b.get('refusal_precision'))}/{_fmt(b.get('refusal_recall'))})"
            f"  {o['p50_ms']:>5.1f}/{o['p95_ms']:<6.1f}"
        )
    if naive:
        lines.append(f"naive overall p50/p95 ms: {naive['overall']['p50_ms']:.1f}/{naive['overall']['p95_ms']:.1f}")
    for mode, o in results.get("modes", {}).items():
        lines.append(f"QA_READER={mode} overall: acc {_fmt(o['accuracy'])}, concise {_fmt(o['concise_accuracy'])}")
    lines.append(f"failures (ours): {len(results['failures'])}")
    lines += [f"  {f['id']} {f['question']} → {f['answer'][:80]} {f['cited'][:3]}" for f in results["failures"]]
    return "\n".join(lines)


def _order(summary: dict[str, Any]) -> Iterable[str]:
    return [k for k in summary if k != "overall"] + ["overall"]


def _pair(ours: dict[str, Any], naive: dict[str, Any], key: str) -> str:
    return f"{_fmt(ours.get(key))} ({_fmt(naive.get(key))})"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return float(statistics.quantiles(values, n=100, method="inclusive")[pct - 1])

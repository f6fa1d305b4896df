"""Which signals could choose answers better than today's? Measured on the dev sets, never the held-out ones.

Two places in mode ``span`` decide most of what the dev sets still miss, and this script asks whether
the embedding model's sentence similarity (e5: the question against the sentence around a candidate)
would help either, beside what they use now:

1. **Choosing among the rules' candidates** (``Facts._span_part``): the rules' lexical fit, and the span
   reader's favourite place where the lead is not clear. Reported: how often the product's pick, the
   candidate of the most similar sentence, and a conditional logit over both kinds of feature
   (``qa.answer.choice.fit``, fitted leaving one dev set out at a time) hold every expected string.
2. **Refusing an absent detail** (``Absence.unknown_detail`` fired): today the span reader's no-answer
   margin decides. Reported: how well that margin, and the best sentence similarity in the case's
   passages, tell the answerable questions from the absent ones (ROC AUC; 0.5 is chance).

    .venv/bin/python bench/answer_signals.py

Read-only: it answers each question through the product and records what those two places saw.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# The dev sets only: fresh5.jsonl and fresh_after*.jsonl are held out and never read here.
DEV_SETS = ("questions", "fresh", "fresh2", "fresh3", "fresh4", *(f"fresh{i}" for i in range(6, 15)))
FEATURES = ("lexical", "lexical_gap", "reader_holds", "reader_margin_held", "e5_gap", "e5_top", "passage")


@dataclass
class Record:
    """What the two places saw for the last question asked."""

    choice: dict[str, Any] | None = None
    absent: dict[str, float] | None = None
    sentences: dict[str, np.ndarray] = field(default_factory=dict)


def similarities(embedder: Any, record: Record, query: str, sentences: list[str]) -> np.ndarray:
    """Cosines of the query to each sentence (passage vectors cached: sentences recur across questions)."""
    new = [s for s in dict.fromkeys(sentences) if s not in record.sentences]
    if new:
        record.sentences.update(zip(new, embedder.embed_passages(new), strict=True))
    if not sentences:
        return np.zeros(0)
    return np.array([record.sentences[s] for s in sentences]) @ embedder.embed_queries([query])[0]


def instrument(assistant: Any, record: Record) -> None:
    """Wrap the answerer's two decision points (on the instance) to record their inputs."""
    from qa.answer import facts as facts_module
    from qa.answer.reading import holds, to_read
    from qa.answer.shapes import SENTENCE_END
    from qa.answer.spans import sentence_around, trim_span

    facts, embedder = assistant._state.answerer.facts, assistant.embedder
    span_part, fact_part = facts._span_part, facts.fact_part

    def around(candidate: tuple[Any, int, str]) -> str:
        hit, _, span = candidate
        at = hit.chunk.text.find(span.strip())
        return sentence_around(hit.chunk.text, at, at + len(span.strip())) if at >= 0 else span

    def recorded_span_part(q: Any, case_id: str, hits: list[Any], candidates: list[Any], *rest: Any) -> Any:
        lexical = facts._score_spans(q.query, rest[0], candidates) if candidates else np.zeros(0)
        where = facts._guess(q, to_read(hits), floor=-math.inf)
        margin = facts._margin(q, hits)
        record.choice = {
            "case": case_id,
            "spans": [trim_span(c[2]) for c in candidates],
            "lexical": lexical,
            "lead": facts_module._clear_lead(lexical),
            "held": np.array([where is not None and holds(c, where) for c in candidates], dtype=float),
            "margin": -99.0 if margin is None else margin,
            "e5": similarities(embedder, record, q.query, [around(c) for c in candidates]),
            "passage": np.array([c[1] for c in candidates], dtype=float),
        }
        return span_part(q, case_id, hits, candidates, *rest)

    def recorded_fact_part(q: Any, case_id: str, draft: Any) -> Any:
        hits = facts._case_hits(q, case_id)
        asked = facts.kb.beside_names(q, [case_id]) if q.carried else facts.kb.focus(q, [case_id])
        if facts.absence.unknown_detail(q.query, asked, case_id, strict=q.carried):
            sentences = [s.strip() for h in hits for s in SENTENCE_END.split(h.chunk.text) if len(s.strip()) >= 4]
            margin = facts._margin(q, hits)
            best = similarities(embedder, record, q.query, sentences).max(initial=-1.0)
            record.absent = {"margin": -99.0 if margin is None else margin, "e5_best": float(best)}
        return fact_part(q, case_id, draft)

    facts._span_part, facts.fact_part = recorded_span_part, recorded_fact_part


def features(choice: dict[str, Any]) -> np.ndarray:
    """One row per candidate, columns as :data:`FEATURES`; the reader's columns are 0 where it was not asked."""
    lexical, e5 = choice["lexical"], choice["e5"]
    held = choice["held"] * (not choice["lead"])
    return np.column_stack(
        [
            lexical,
            lexical - lexical.max(),
            held,
            held * np.clip(choice["margin"], -12, 12) / 10,
            (e5 - e5.max()) * 10,
            (e5 == e5.max()).astype(float),
            np.minimum(choice["passage"], 2),
        ]
    )


def product_pick(choice: dict[str, Any]) -> int:
    """Mode span's rule: the candidate holding the reader's favourite place, else the best lexical fit."""
    return int(np.argmax(choice["lexical"] + 100.0 * choice["held"] * (not choice["lead"])))


def auc(scores: list[float], positive: list[bool]) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    pairs = [(a > b) + 0.5 * (a == b) for a in pos for b in neg]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def ask_all(assistant: Any, record: Record, items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Record]]:
    """Each item asked after its history; what the two places saw for its last question."""
    seen = []
    for item in items:
        history: list[dict[str, str]] = []
        for earlier in item.get("history", []):
            reply = assistant.ask(earlier, history)
            history += [{"role": "user", "content": earlier}, {"role": "assistant", "content": reply.answer}]
        record.choice, record.absent = None, None
        assistant.ask(item["question"], history)
        seen.append((item, Record(record.choice, record.absent)))
    return seen


def labels(item: dict[str, Any], choice: dict[str, Any]) -> np.ndarray:
    wanted, right_case = item["expect_answer"], choice["case"] in item["expect_cases"]
    return np.array([float(right_case and all(w in span for w in wanted)) for span in choice["spans"]])


def report_choice(seen: dict[str, list[tuple[dict[str, Any], Record]]]) -> None:
    groups = {
        name: [
            (features(r.choice), labels(item, r.choice), product_pick(r.choice), int(np.argmax(r.choice["e5"])))
            for item, r in rows
            if r.choice and len(r.choice["spans"]) > 1 and item["grounded"] and item["expect_answer"]
        ]
        for name, rows in seen.items()
    }
    usable = {name: [g for g in rows if g[1].any()] for name, rows in groups.items()}
    total = sum(len(rows) for rows in usable.values())
    product = sum(y[pick] for rows in usable.values() for _, y, pick, _ in rows)
    e5_top = sum(y[top] for rows in usable.values() for _, y, _, top in rows)
    from qa.answer.choice import fit

    held_out = 0.0
    for name, rows in usable.items():
        w = fit(
            [(x, y) for other, more in usable.items() if other != name for x, y, _, _ in more], steps=1500, rate=0.2
        )
        held_out += sum(y[int(np.argmax(x @ w))] for x, y, _, _ in rows)
    print(f"1. Choosing among the rules' candidates ({total} dev questions with two or more, one of them right)")
    print(
        f"   product's rule {product:.0f}, most similar sentence (e5) {e5_top:.0f}, logit (leave one set out) {held_out:.0f}"
    )


def report_absent(seen: dict[str, list[tuple[dict[str, Any], Record]]]) -> None:
    rows = [(item["grounded"], r.absent) for rows in seen.values() for item, r in rows if r.absent is not None]
    answerable = [g for g, _ in rows]
    print(f"2. Absent-detail test fired: {len(rows)} dev questions, {sum(answerable)} of them answerable")
    for key, what in (("margin", "span reader's margin"), ("e5_best", "best sentence similarity (e5)")):
        print(f"   ROC AUC, answerable above absent, by the {what}: {auc([a[key] for _, a in rows], answerable):.3f}")


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.evaluate import load_questions

    assistant = Assistant.load(settings=Settings.from_env())
    record = Record()
    instrument(assistant, record)
    seen = {name: ask_all(assistant, record, load_questions(ROOT / "bench" / f"{name}.jsonl")) for name in DEV_SETS}
    report_choice(seen)
    report_absent(seen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How short can an answer be cut without losing the gold span? The F1 / holds-gold frontier on CMRC.

Issue #10 asks for F1 >= 0.55 *and* "the answer holds the gold span" >= 0.85. The product answers with
the span the rules and the reader chose (a sentence or a clause); the reader's own short span has the
F1 but not the holding. This script asks whether any cut *inside* the chosen span reaches both, given
the span reader's scores:

- ``reply``: the product's answer as it is (with the case-name label "标题：" where it adds one);
- ``chosen``: the chosen span alone, without that label;
- ``reader top``: the reader's best span inside the chosen span;
- ``clause T= λ=``: the run of whole clauses of the chosen span that maximises expected F1 + λ ×
  probability of holding the answer, both under the reader's span scores softened by temperature T
  (minimum-Bayes-risk decoding, snapped to clause edges);
- ``oracle clause``: the shortest run of clauses that holds the gold span (an upper bound, not a method).

    python bench/answer_length.py --fold 3 --span-reader build/span/without_fold3.npz   # dev
    python bench/answer_length.py --fold 4                                               # held out
    python bench/answer_length.py --domain   # the dev fact questions: answers cut, expected strings lost
    ... --read-every   # mode choice asks the reader for every question, not only where no rule span leads
    ... --alone        # the reader reads the chosen span alone, not its passage (cheaper)

Fold 3 with the reader trained without it is the dev figure; fold 4 (never trained on) the held-out
one. By default the reader reads the chosen span's passage. Uses the index of ``bench/cmrc.py``
(``build/cmrc``, built there if missing); ``--domain`` the project's own (``index/``, as ``make run``
builds it).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

import cmrc  # noqa: E402

CLAUSE_END = "，,；;：:、"
MAX_TOKENS = 40  # as span_fit.MAX_ANSWER
SETTINGS = [(t, lam) for t in (0.5, 1.0, 2.0) for lam in (0.0, 2.0, 4.0)]  # (T, λ)


def span_scores(reading: Any, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Character (start, end) of every span of at most MAX_TOKENS tokens inside ``lo:hi``, and its
    best score over the windows that hold it."""
    best: dict[tuple[int, int], float] = {}
    for w in reading.windows:
        inside = np.flatnonzero((w.starts >= lo) & (w.ends <= hi))
        i, j = np.triu_indices(len(inside))
        keep = j - i < MAX_TOKENS
        i, j = i[keep], j[keep]
        score = w.start_scores[inside][i] + w.end_scores[inside][j]
        for s, e, x in zip(w.starts[inside][i], w.ends[inside][j], score, strict=True):
            key = (int(s), int(e))
            best[key] = max(best.get(key, -np.inf), float(x))
    spans = np.array(list(best), dtype=np.int64).reshape(-1, 2)
    return spans, np.array(list(best.values()))


def clause_runs(text: str, lo: int, hi: int) -> np.ndarray:
    """Every run of whole clauses of ``text[lo:hi]`` as character (start, end)."""
    cuts = sorted({lo, hi, *(i + 1 for i in range(lo, hi) if text[i] in CLAUSE_END)})
    return np.array([(a, b) for k, a in enumerate(cuts) for b in cuts[k + 1 :]], dtype=np.int64)


def minimum_risk(runs: np.ndarray, spans: np.ndarray, scores: np.ndarray, t: float, lam: float) -> np.ndarray:
    """The run maximising expected character F1 + λ × P(run holds the answer), spans ~ softmax(score / T)."""
    p = np.exp((scores - scores.max()) / t)
    p /= p.sum()
    a0, a1, s0, s1 = runs[:, :1], runs[:, 1:], spans[None, :, 0], spans[None, :, 1]
    overlap = np.clip(np.minimum(a1, s1) - np.maximum(a0, s0), 0, None)
    f1 = 2 * overlap / ((a1 - a0) + (s1 - s0))
    holds = (a0 <= s0) & (a1 >= s1)
    return runs[int(np.argmax((f1 + lam * holds) @ p))]


def answers(question: dict[str, Any], reply: Any, reader: Any, alone: bool) -> dict[str, str]:
    """Every variant's answer to one question (none where the product refused). The reader reads
    the chosen span's passage, or with ``alone`` the chosen span only (a window of ~50 tokens, not 256)."""
    if not reply.grounded or not reply.citations:
        return {}
    quoted = reply.citations[0]
    text, chosen = quoted.text, quoted.quote.strip()
    out = {"reply": re.sub(r"\[\d+\]", "", reply.answer), "chosen": chosen}
    lo = text.find(chosen)
    if alone and lo >= 0:
        text, lo = chosen, 0
    reading = reader.read(question["query_text"], text) if lo >= 0 and chosen else None
    spans, scores = span_scores(reading, lo, lo + len(chosen)) if reading is not None else (None, None)
    if spans is None or not len(spans):
        return out
    top = spans[int(np.argmax(scores))]
    out["reader top"] = text[top[0] : top[1]]
    runs = clause_runs(text, lo, lo + len(chosen))
    for t, lam in SETTINGS:
        a, b = minimum_risk(runs, spans, scores, t, lam)
        out[f"clause T={t} λ={lam}"] = text[a:b].strip(CLAUSE_END)
    out["oracle clause"] = _oracle(text, runs, question["answers"]) or chosen
    return out


def _oracle(text: str, runs: np.ndarray, gold: list[str]) -> str:
    from qa.scoring import contains

    holding = [text[a:b].strip(CLAUSE_END) for a, b in runs if contains(text[a:b], gold)]
    return min(holding, key=len, default="")


def table(rows: list[tuple[dict[str, str], list[str]]]) -> dict[str, dict[str, float]]:
    """F1, holds gold and median length per variant; a variant missing for a question falls back to
    the chosen span (the reader read nothing inside it), a refusal scores 0."""
    from qa.scoring import best_f1, contains

    names = list(dict.fromkeys(k for variants, _ in rows for k in variants))
    out = {}
    for name in names:
        picked = [(v.get(name, v.get("chosen", "")), gold) for v, gold in rows]
        out[name] = {
            "f1": round(statistics.fmean(best_f1(a, g) if a else 0.0 for a, g in picked), 3),
            "holds": round(statistics.fmean(float(contains(a, g)) if a else 0.0 for a, g in picked), 3),
            "chars": statistics.median(len(a) for a, _ in picked),
        }
    return out


def domain_table(rows: list[tuple[dict[str, str], list[str]]]) -> dict[str, dict[str, int]]:
    """Per variant: how many answers it cut, and how many that held every expected string no longer do."""
    out = {}
    # The reply adds a label, and the oracle holds one of the CMRC answers, not every expected string.
    for name in dict.fromkeys(k for variants, _ in rows for k in variants if k not in ("reply", "oracle clause")):
        cut = lost = 0
        for variants, expected in rows:
            answer = variants.get(name, variants.get("chosen", ""))
            cut += answer != variants.get("chosen")
            lost += all(e in variants.get("reply", "") for e in expected) and not all(e in answer for e in expected)
        out[name] = {"cut": cut, "lost": lost}
    return out


def ask_cmrc(assistant: Any, fold: int, alone: bool) -> list[tuple[dict[str, str], list[str]]]:
    rows = []
    for p in cmrc.load():
        for q in p["qas"] if cmrc.fold_of(p["context_id"]) == fold else []:
            if q["query_text"].strip():
                rows.append(
                    (answers(q, assistant.ask(q["query_text"], []), assistant.readers.span, alone), q["answers"])
                )
    return rows


def ask_domain(assistant: Any, alone: bool) -> list[tuple[dict[str, str], list[str]]]:
    """The one-case fact questions of ``bench/questions.jsonl`` (dev), asked alone."""
    rows = []
    for line in (ROOT / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["category"] == "fact" and item["grounded"] and not item["history"]:
            q = {"query_text": item["question"], "answers": item["expect_answer"]}
            rows.append((answers(q, assistant.ask(item["question"], []), assistant.readers.span, alone), q["answers"]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fold", type=int, default=3, help="the CMRC fold asked (cmrc.fold_of)")
    parser.add_argument("--domain", action="store_true", help="the dev fact questions of questions.jsonl instead")
    parser.add_argument("--mode", default="choice", choices=["span", "choice"], help="how the product chooses")
    parser.add_argument("--span-reader", type=Path, help="another span reader file (one trained without the fold)")
    parser.add_argument("--alone", action="store_true", help="the reader reads the chosen span alone")
    parser.add_argument("--read-every", action="store_true", help="mode choice weighs every question (no lead)")
    args = parser.parse_args()
    from qa import span_reader
    from qa.answer import facts
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.embedding import ensure_default_model

    if args.read_every:  # the lead at which mode choice stops asking the reader: never
        facts.CHOICE_LEAD = float("inf")
    if args.domain:
        settings = Settings.from_env(reader_mode=args.mode)
    else:
        work = {"knowledge_dir": cmrc.WORK / "knowledge", "index_dir": cmrc.WORK / "index"}
        settings = Settings.from_env(**work, reader_mode=args.mode)
        cmrc.build(settings)
    assistant = Assistant.load(settings=settings)
    if args.span_reader:
        reader = span_reader.load(ensure_default_model(settings.cache_dir), args.span_reader)
        assistant.use_readers(replace(assistant.readers, span=reader))
    if args.domain:
        rows = ask_domain(assistant, args.alone)
        result: dict[str, Any] = {"domain dev facts": len(rows), "variants": domain_table(rows)}
    else:
        rows = ask_cmrc(assistant, args.fold, args.alone)
        result = {"fold": args.fold, "questions": len(rows), "variants": table(rows)}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

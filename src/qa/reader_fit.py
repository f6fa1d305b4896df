"""Fitting the reader (:mod:`qa.reader`): training data, targets and the optimiser.

Only ``bench/train_reader.py`` and the benchmarks import this; the served product
loads the fitted weights and never trains.

The model is a conditional logit over a question's candidate spans: softmax of
``w · features``, trained to put its mass on the spans that best match a reference
answer (character F1, as CMRC 2018 scores). The training data is

- CMRC 2018 trial (public Wikipedia passages, CC BY-SA 4.0), and
- domain questions generated from the knowledge base: a number, date, place,
  organisation or person in a sentence is replaced by the matching question phrase,
  and the removed words are the answer (``domain_examples``); plus, optionally,
  hand-written **dev** questions with their expected strings (``dev_examples``).

Everything is seeded; the same data gives the same weights.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba.posseg as pseg
import numpy as np

from .corpus import load_cases
from .reader import DENSE, HASH_BITS, Reader, Span, candidates, sentences
from .retrieval import QUOTED
from .scoring import f1

SLOT_PHRASES = {"m": "多少", "t": "什么时候", "ns": "哪里", "nt": "哪个单位", "nr": "谁"}  # generator only
UNIT_FLAGS = frozenset({"q", "m"})


@dataclass(frozen=True)
class Example:
    question: str
    passages: list[str]
    answers: list[str]
    contains: bool = False  # True: the answer must hold every string (dev questions), not match one


# ---- targets -------------------------------------------------------------


def targets(example: Example, spans: list[Span]) -> np.ndarray | None:
    """The target distribution over the options: the no-answer option (index 0) for an example
    without answers, else uniform over the best spans; None when no span is good enough."""
    if not example.answers:
        target = np.zeros(len(spans))
        target[0] = 1.0
        return target
    if example.contains:
        fits = np.array([bool(s.text) and all(a in s.text for a in example.answers) for s in spans], dtype=bool)
        if not fits.any():
            return None
        lengths = np.array([len(s.text) for s in spans])
        good = fits & (lengths <= lengths[fits].min() + 4)
    else:
        quality = np.array([max(f1(s.text, a) for a in example.answers) if s.text else 0.0 for s in spans])
        if quality.max(initial=0.0) < 0.5:
            return None
        good = quality >= quality.max() - 1e-9
    good[0] = False  # the no-answer option never matches a reference answer
    return good / good.sum()


# ---- data -----------------------------------------------------------------


def cmrc_examples(passages: Iterable[dict[str, Any]]) -> list[Example]:
    return [Example(q["query_text"], [p["context_text"]], list(q["answers"])) for p in passages for q in p["qas"]]


def domain_examples(knowledge_dir: Path, seed: int = 13, per_case: int = 40) -> list[Example]:
    """Questions made from the knowledge base's own sentences, one removed phrase each."""
    rng = random.Random(seed)
    out: list[Example] = []
    for case in load_cases(knowledge_dir):
        made = [ex for s in sentences(case.body) for ex in _questions_from(s, case.body, _short(case.title))]
        rng.shuffle(made)
        out += made[:per_case]
    return out


def _short(title: str) -> str:
    quoted = QUOTED.findall(title)  # a quoted term names the practice, as in the case-name index
    return quoted[0] if quoted else title[:12]


def _questions_from(sentence: str, body: str, name: str) -> list[Example]:
    words = [(p.word, p.flag) for p in pseg.lcut(sentence)]
    out = []
    for i, (word, flag) in enumerate(words):
        kind = flag if flag in SLOT_PHRASES else ("nr" if flag.startswith("nr") else "")
        if not kind or (kind == "m" and not any(ch.isdigit() for ch in word)) or (len(word) < 2 and kind != "m"):
            continue
        j = i + 1
        while kind == "m" and j < len(words) and words[j][1] in UNIT_FLAGS and len(words[j][0]) <= 2:
            j += 1
        answer = "".join(w for w, _ in words[i:j])
        question = _clause_around(words, i, j, SLOT_PHRASES[kind])
        if len(question) >= 6:
            prefix = "" if name in question else f"{name}"
            out.append(Example(f"{prefix}{question}？", [body], [answer]))
    return out


def _clause_around(words: list[tuple[str, str]], i: int, j: int, phrase: str) -> str:
    """The clause holding words[i:j], with them replaced by the question phrase."""
    stops = {"，", "。", "；", "！", "？", ",", ";"}
    a = i
    while a > 0 and words[a - 1][0] not in stops:
        a -= 1
    b = j
    while b < len(words) and words[b][0] not in stops:
        b += 1
    left = "".join(w for w, _ in words[a:i])
    right = "".join(w for w, _ in words[j:b])
    return (left + phrase + right).strip("“”\"' ")


def dev_examples(path: Path, knowledge_dir: Path) -> list[Example]:
    """Hand-written dev questions (``bench/questions.jsonl``) about one case, with their expected strings."""
    bodies = {case.id: case.body for case in load_cases(knowledge_dir)}
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line) if line.strip() else None
        if not item or item.get("history") or len(item["expect_cases"]) != 1:
            continue
        body = bodies.get(item["expect_cases"][0])
        if body and (item["expect_answer"] or not item["grounded"]):  # a "missing" detail: the no-answer option
            out.append(Example(item["question"], [body], list(item["expect_answer"]), contains=True))
    return out


def null_margin(reader: Reader, examples: list[Example], refused_at_most: float = 0.03) -> float:
    """The smallest margin by which the no-answer option must beat the best span so that at most
    ``refused_at_most`` of the answerable ``examples`` are refused: a refusal costs the user an
    answer the knowledge base holds, so its rate is what is fixed, not an accuracy to maximise."""
    gaps = []
    for ex in examples:
        if not ex.answers:
            continue
        scores = reader.scores(candidates(ex.question, ex.passages))
        gaps.append(float(scores[0] - scores[1:].max()) if len(scores) > 1 else 0.0)
    if not gaps:
        return 0.0
    return max(0.0, float(np.quantile(gaps, 1.0 - refused_at_most)) + 1e-6)


def without_answer(examples: list[Example], every: int = 3) -> list[Example]:
    """No-answer examples: every ``every``-th question with the sentences holding its answer taken out.

    The question stays as it was asked, so the no-answer option learns what a passage
    that *almost* answers looks like (the case is right, the detail is absent) — the
    refusal the product needs — rather than a question about something else entirely.
    """
    out = []
    for ex in examples[::every]:
        passages = ["".join(s for s in sentences(p) if not any(a in s for a in ex.answers)) for p in ex.passages]
        if any(passages) and not any(a in p for a in ex.answers for p in passages):
            out.append(Example(ex.question, [p for p in passages if p], []))
    return out


# ---- fitting ----------------------------------------------------------------


@dataclass
class _Batch:
    ids: np.ndarray
    values: np.ndarray
    owner: np.ndarray
    target: np.ndarray


def featurise(examples: list[Example]) -> list[_Batch]:
    out = []
    for ex in examples:
        spans = candidates(ex.question, ex.passages)
        target = targets(ex, spans) if spans else None
        if target is None:
            continue
        ids = np.concatenate([s.ids for s in spans]).astype(np.int32)
        values = np.concatenate([s.values for s in spans]).astype(np.float32)
        owner = np.repeat(np.arange(len(spans)), [len(s.ids) for s in spans]).astype(np.int32)
        out.append(_Batch(ids, values, owner, target))
    return out


def fit(batches: list[_Batch], epochs: int = 12, rate: float = 0.1, l2: float = 1e-5, seed: int = 13) -> np.ndarray:
    """AdaGrad on the listwise log-loss; one question a step, in a seeded order."""
    size = len(DENSE) + (1 << HASH_BITS)
    w = np.zeros(size, dtype=np.float64)
    g2 = np.full(size, 1e-8)
    order = list(range(len(batches)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for k in order:
            b = batches[k]
            n = len(b.target)
            scores = np.bincount(b.owner, weights=w[b.ids] * b.values, minlength=n)
            p = np.exp(scores - scores.max())
            p /= p.sum()
            grad = np.bincount(b.ids, weights=(p - b.target)[b.owner] * b.values, minlength=size)
            touched = np.unique(b.ids)
            grad_t = grad[touched] + l2 * w[touched]
            g2[touched] += grad_t**2
            w[touched] -= rate * grad_t / np.sqrt(g2[touched])
    return w.astype(np.float32)


def train(examples: list[Example], calibrate: list[Example], seed: int = 13) -> Reader:
    """Fit on ``examples``; set the no-answer margin on ``calibrate`` (questions with answers)."""
    reader = Reader(fit(featurise(examples), seed=seed))
    reader.null_margin = null_margin(reader, calibrate)
    return reader


def cross_validated_readers(
    passages: list[dict[str, Any]], fold_of: Callable[[str], int], folds: int, extra: list[Example] | None = None
) -> Callable[[int], Reader]:
    """``reader_for(k)``: a reader trained on every CMRC fold but ``k`` (plus ``extra``), made on first use.

    Features are computed once for every question; each fold only refits.
    """
    folds_examples = [cmrc_examples([p for p in passages if fold_of(p["context_id"]) == k]) for k in range(folds)]
    fold_batches = {k: featurise(ex + without_answer(ex)) for k, ex in enumerate(folds_examples)}
    shared = featurise(list(extra or []))
    made: dict[int, Reader] = {}

    def reader_for(k: int) -> Reader:
        if k not in made:
            train_part = [b for j in range(folds) if j != k for b in fold_batches[j]]
            made[k] = Reader(fit(train_part + shared))
            made[k].null_margin = null_margin(made[k], [e for e in extra or [] if e.answers])
        return made[k]

    return reader_for

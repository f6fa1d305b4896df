"""The learned choice among candidate answers: the span reader's rating and the rules' lexical fit,
weighed by a fit on data instead of by hand.

Why: the reader and the rules fail differently. The reader locates the answer in context but its
favourite stretch is often a neighbouring sentence; the rules' word overlap finds the sentence that
repeats the question but not the one that answers it in other words. On CMRC fold 3 (dev, a reader
that never saw it) the sentence of the reader's favourite held the gold span for 0.83 of the
questions, the rules' lexical favourite for 0.80, a ranker over both for 0.89. A conditional logit
over a few features of every candidate, fitted on fold 3 and the dev questions
(``bench/fit_span_choice.py``), weighs them from data. Mode "choice" uses it; see ``docs/reader.md``.

A candidate's features (:data:`FEATURES`):

- ``reader``: the best reader score of a span inside it, minus the best anywhere (0 for the
  reader's own favourite, at least ``FLOOR``; 0 where the reader did not read it);
- ``unread``: 1 where the reader did not read its passage (a rule span further down the case);
- ``lexical``: the rules' fit (:func:`qa.answer.spans.span_score` plus the passage rank bonus; for a
  figure, of the clauses holding one since ``7be7995``, after the weights were fitted: refit with the next reader);
- ``lexical_gap``: that fit minus the best candidate's;
- ``passage``: the retrieval rank of its passage (capped at 2);
- ``length``: its length in hundreds of characters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ReaderMissing

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "span_choice.json"
FEATURES = ("reader", "unread", "lexical", "lexical_gap", "passage", "length")
FLOOR = -15.0  # a reader score gap beyond which a candidate is simply "not the reader's"
MISSING = (
    "答案选择权重文件 {path} 缺失或损坏（{why}）：请重新获取仓库中的该文件，或运行 python bench/fit_span_choice.py"
)


@dataclass(frozen=True)
class SpanChoice:
    """Weights of the fitted choice; :meth:`pick` takes the candidate they rate best."""

    weights: np.ndarray
    digest: str

    def pick(self, features: np.ndarray) -> int:
        return int(np.argmax(features @ self.weights))


def features(
    reader: list[float | None], top: float, lexical: np.ndarray, ranks: list[int], lengths: list[int]
) -> np.ndarray:
    """One row per candidate, columns as :data:`FEATURES`. ``reader`` holds each candidate's best
    reader score inside it (None: not read), ``top`` the best score of all it read."""
    gaps = [max(FLOOR, x - top) if x is not None else 0.0 for x in reader]
    lexical = np.asarray(lexical, dtype=np.float64)
    return np.column_stack(
        [
            np.array(gaps, dtype=np.float64),
            np.array([x is None for x in reader], dtype=np.float64),
            lexical,
            lexical - lexical.max(),
            np.minimum(np.array(ranks, dtype=np.float64), 2.0),
            np.array(lengths, dtype=np.float64) / 100.0,
        ]
    )


def fit(
    groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.01, steps: int = 3000, rate: float = 0.1
) -> np.ndarray:
    """Weights maximising the probability of the right candidates, by full-batch gradient ascent
    (deterministic: no sampling, no seed needed). ``groups`` are (features, labels) per question,
    a label 1.0 where that candidate holds the answer; a group with none teaches nothing and is skipped.
    As many weights as the rows have columns (:data:`FEATURES` for the product; ``bench/answer_signals.py``
    fits other features with it)."""
    usable = [(x, y) for x, y in groups if y.any() and len(y) > 1]
    w = np.zeros(usable[0][0].shape[1] if usable else len(FEATURES))
    for _ in range(steps):
        grad = l2 * w
        for x, y in usable:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            right = p * y / (p * y).sum()  # the model's share among the right candidates
            grad -= (right - p) @ x / len(usable)
        w -= rate * grad
    return w


def save(path: Path, weights: np.ndarray, provenance: dict[str, object]) -> None:
    record = {"features": list(FEATURES), "weights": [round(float(x), 6) for x in weights], **provenance}
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load(path: Path = DEFAULT_PATH) -> SpanChoice:
    """The shipped weights; a missing or damaged file, or one for other features, says so in Chinese."""
    try:
        raw = path.read_bytes()
        record = json.loads(raw)
        weights = np.array(record["weights"], dtype=np.float64)
        if record["features"] != list(FEATURES) or weights.shape != (len(FEATURES),):
            raise ValueError("features differ")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReaderMissing(MISSING.format(path=path, why=type(exc).__name__)) from exc
    return SpanChoice(weights, hashlib.sha256(raw).hexdigest())


@lru_cache(maxsize=1)
def shipped_choice() -> SpanChoice:
    """The shipped weights, read once per process (for callers that were not handed any)."""
    return load()

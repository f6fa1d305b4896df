"""Is a question about the knowledge base at all? A small logistic model, fitted on data.

The old check was a hand-set score (margin over background passages plus a
lexical term), tuned on the dev set; it let everyday questions through (weather,
hot pot, buses) whenever some passage shared a word or a place. This module
keeps the same evidence as *features* and learns their weights from labelled
questions: on-topic ones (the dev questions and conversation turns) against a
few hundred everyday questions (``bench/offtopic.jsonl``, dev split only). The
frozen test split is never seen by the fit.

The fitted weights are package data (``data/relevance.json``), written by
``bench/fit_relevance.py`` with a fixed seed-free solver (Newton's method on an
L2-regularised log-loss: the same data always gives the same weights).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

FEATURES = ("margin", "kb_best", "background_best", "lexical", "coverage", "unknown_place", "english")
MODEL_FILE = "data/relevance.json"


@dataclass(frozen=True)
class Evidence:
    """What retrieval says about one question, before any decision."""

    kb_best: float  # best cosine to a knowledge-base passage
    background_best: float  # best cosine to an everyday passage or question (data/background.txt)
    lexical: float  # best BM25 score, capped and scaled to [0, 1]
    coverage: float  # IDF-weighted share of the question's topic words found in the top case
    unknown_place: bool  # names a place the knowledge base never mentions
    english: bool  # no Chinese characters: dense scores run lower for English

    def vector(self) -> np.ndarray:
        return np.array(
            [
                self.kb_best - self.background_best,
                self.kb_best,
                self.background_best,
                self.lexical,
                self.coverage,
                float(self.unknown_place),
                float(self.english),
            ]
        )


@dataclass(frozen=True)
class RelevanceModel:
    """Logistic regression over standardised :class:`Evidence` vectors."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5

    def probability(self, evidence: Evidence) -> float:
        z = (evidence.vector() - np.array(self.mean)) / np.array(self.scale)
        logit = float(z @ np.array(self.weights)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))

    def on_topic(self, evidence: Evidence) -> bool:
        # Rounded so that a last-bit difference in a query vector cannot flip the decision.
        return round(self.probability(evidence), 6) >= self.threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> RelevanceModel:
        if raw.get("features") != list(FEATURES):
            raise ValueError(f"relevance model features {raw.get('features')} != {list(FEATURES)}")
        floats = lambda key: tuple(float(x) for x in raw[key])  # type: ignore[attr-defined]  # noqa: E731
        return cls(floats("mean"), floats("scale"), floats("weights"), float(raw["bias"]), float(raw["threshold"]))  # type: ignore[arg-type]


def load_model(path: Path | None = None) -> RelevanceModel:
    text = path.read_text(encoding="utf-8") if path else resources.files("qa").joinpath(MODEL_FILE).read_text("utf-8")
    return RelevanceModel.from_dict(json.loads(text))


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, threshold: float = 0.5) -> RelevanceModel:
    """L2-regularised logistic regression by Newton's method (deterministic, no learning rate to tune)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.diag([l2] * (z.shape[1] - 1) + [0.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z.T * (p * (1 - p))) @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return RelevanceModel(
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in w[:-1]),
        float(w[-1]),
        threshold,
    )

"""CMRC 2018's answer metrics (exact match, character F1) and "contains", after removing punctuation and spaces.

Kept apart from the readers so that training code on another machine (``qa.span_fit``)
scores answers the same way as ``bench/cmrc.py`` without importing jieba.
"""

from __future__ import annotations

import re

PUNCT = re.compile(r"[\s\u3000-\u303f\uff00-\uffef!-/:-@\[-`{-~《》“”‘’—…·]")


def normalise(text: str) -> str:
    return PUNCT.sub("", text.lower())


def f1(prediction: str, gold: str) -> float:
    """Character F1 by longest common substring, as CMRC 2018's evaluation script computes it."""
    p, g = normalise(prediction), normalise(gold)
    best = _lcs(p, g) if p and g else 0
    if best == 0:
        return 0.0
    precision, recall = best / len(p), best / len(g)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, answers: list[str]) -> float:
    return max((f1(prediction, a) for a in answers), default=0.0)


def exact(prediction: str, answers: list[str]) -> bool:
    return any(normalise(prediction) == normalise(a) for a in answers)


def contains(prediction: str, answers: list[str]) -> bool:
    """The answer holds a gold span whole: what a reader of a longer answer still finds in it."""
    norm = normalise(prediction)
    return any(gold and gold in norm for gold in map(normalise, answers))


def _lcs(a: str, b: str) -> int:
    table = [0] * (len(b) + 1)
    best = 0
    for ca in a:
        prev = 0
        for j, cb in enumerate(b, 1):
            cur = table[j]
            table[j] = prev + 1 if ca == cb else 0
            best = max(best, table[j])
            prev = cur
    return best

"""The reader: a learned scorer of answer spans in retrieved passages.

Why a linear span ranker over features, not a fine-tuned transformer: on 2 CPU
cores a fine-tuned e5 reader costs ~220 ms a question and a short fine-tune cut
spans mid-word. Here every candidate is a run of whole jieba words inside one
sentence (snapped to word and clause boundaries by construction), and what makes a
span the answer is learned from data (CMRC 2018 trial plus domain questions, see
:mod:`qa.reader_fit`): how the question's words align around it, its length and
shape, and crosses of the question's *unmatched* words (多少, 哪个公司, 谁 — found
by the data, not listed here) with the span's part of speech, last character and
digits. Scoring is a sparse dot product, a few milliseconds a question.

The weights are a file (``data/reader.npz``) whose SHA-256 goes into the index
manifest; a missing or damaged file raises :class:`~qa.errors.ReaderMissing`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
import jieba.posseg as pseg
import numpy as np

from .errors import ReaderMissing

DEFAULT_PATH = Path(__file__).parent / "data" / "reader.npz"
FEATURE_VERSION = 1
HASH_BITS = 18
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|\n+")
CLAUSE_PUNCT = frozenset("，,；;：:。！？!?")
PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』", "《": "》", "(": ")", "（": "）", "【": "】"}
MAX_WORDS = 8  # a span inside one clause
MAX_RUN = 3  # clauses a longer span may cover
MAX_CHARS = 80
SENTENCES = 3  # sentences read per question: those that share most with it
WINDOW = 8  # words either side that count as a span's context
DENSE = (
    "bias sent_match sent_bigram clause_match in_span left_ctx right_ctx adj_left adj_right near_left near_right "
    "sent_rank0 sent_rank1 sent_rank2 psg_rank0 psg_rank1 psg_rank2 clause_start clause_end whole_sentence "
    "crosses0 crosses1 crosses2 has_digit chars_log words_log null_bias null_match null_bigram"
).split() + [f"words_{n}" for n in range(1, 10)]
DENSE_INDEX = {name: i for i, name in enumerate(DENSE)}


@dataclass(frozen=True)
class Span:
    """A candidate answer: whole words of one sentence of one passage."""

    text: str
    sentence: str
    passage: int  # index into the passages the reader was given
    start: int  # character offset of the span in its sentence
    ids: np.ndarray  # feature ids (dense features first, then hashed crosses)
    values: np.ndarray


@dataclass(frozen=True)
class Answer:
    """The reader's choice: a span, or ``None`` when the no-answer option wins."""

    span: Span | None
    confidence: float  # softmax share of the choice among every span and the no-answer option
    no_answer: float  # softmax share of the no-answer option


@dataclass(frozen=True)
class _Words:
    words: list[str]
    flags: list[str]

    @property
    def text(self) -> str:
        return "".join(self.words)


@lru_cache(maxsize=65536)
def _tag(sentence: str) -> _Words:
    """jieba words and part-of-speech flags of a sentence, cached: passages repeat across questions."""
    pairs = [(p.word, p.flag) for p in pseg.lcut(sentence)]
    return _Words([w for w, _ in pairs], [f for _, f in pairs])


def sentences(passage: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(passage) if s and s.strip()]


def question_words(question: str) -> list[str]:
    return [w for w in jieba.lcut(question.lower()) if w.strip() and not _is_punct(w)]


def _is_punct(word: str) -> bool:
    return all(not ch.isalnum() for ch in word)


@lru_cache(maxsize=1 << 17)
def _hash(*parts: str) -> int:
    """A feature's slot: CRC-32, not Python's salted ``hash``, so every process gives the same id."""
    return len(DENSE) + (zlib.crc32("\x1f".join(parts).encode("utf-8")) & ((1 << HASH_BITS) - 1))


def _weights(qwords: list[str], texts: list[str]) -> dict[str, float]:
    """IDF of each question word over the sentences read: a word every sentence has tells nothing."""
    n = len(texts)
    return {w: math.log(1 + n / (1 + sum(w in t for t in texts))) for w in dict.fromkeys(qwords)}


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _pick_sentences(
    qwords: list[str], weights: dict[str, float], every: list[tuple[int, str]], question: str
) -> list[tuple[int, str, float]]:
    """The SENTENCES sentences sharing most with the question: (passage index, sentence, match)."""
    total = sum(weights.values()) or 1.0
    qgrams = _bigrams(question)
    scored = []
    for order, (i, s) in enumerate(every):
        match = sum(v for w, v in weights.items() if w in s) / total
        share = len(qgrams & _bigrams(s)) / (len(qgrams) or 1)
        scored.append((-(match + 0.5 * share), order, i, s, match))
    scored.sort()
    return [(i, s, match) for _, _, i, s, match in scored[:SENTENCES]]


def candidates(question: str, passages: list[str]) -> list[Span]:
    """Every option the reader scores: the no-answer option first, then spans of whole words
    inside the sentences the question shares most words with."""
    qwords = question_words(question)
    every = [(i, s) for i, p in enumerate(passages) for s in sentences(p)]
    weights = _weights(qwords, [s for _, s in every] or [""])
    picked = _pick_sentences(qwords, weights, every, question)
    out = [_no_answer(qwords, picked, question)]
    for rank, (passage, sentence, _match) in enumerate(picked):
        out += _sentence_spans(qwords, weights, sentence, passage, rank, question)
    return out


def _no_answer(qwords: list[str], picked: list[tuple[int, str, float]], question: str) -> Span:
    """The option "the passages do not answer this": how little the best sentence shares with the
    question, and which question words no sentence has (电话, 费用…), weighted by what the data taught."""
    best = max((m for _, _, m in picked), default=0.0)
    qgrams = _bigrams(question)
    bigram = max((len(qgrams & _bigrams(s)) / (len(qgrams) or 1) for _, s, _ in picked), default=0.0)
    missing = [w for w in dict.fromkeys(qwords) if not any(w in s for _, s, _ in picked)][:6]
    ids = [DENSE_INDEX["null_bias"], DENSE_INDEX["null_match"], DENSE_INDEX["null_bigram"]]
    ids += [_hash("null", w) for w in missing]
    values = [1.0, best, bigram] + [1.0] * len(missing)
    return Span("", "", -1, 0, np.array(ids, dtype=np.int64), np.array(values, dtype=np.float32))


def _clauses(words: list[str]) -> list[tuple[int, int]]:
    bounds = [0] + [i + 1 for i, w in enumerate(words) if w in CLAUSE_PUNCT]
    if bounds[-1] != len(words):
        bounds.append(len(words))
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _ranges(clauses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Word ranges: up to MAX_WORDS inside a clause, and runs of up to MAX_RUN clauses cut at a word."""
    out: set[tuple[int, int]] = set()
    for a, b in clauses:
        out.update((i, j) for i in range(a, b) for j in range(i + 1, min(b, i + MAX_WORDS) + 1))
    for ci, (a, _) in enumerate(clauses):
        for cj in range(ci + 1, min(len(clauses), ci + MAX_RUN)):
            end_a, end = clauses[ci][1], clauses[cj][1]
            out.update((i, end) for i in range(a, min(end_a, a + 6)))
            out.update((a, j) for j in range(clauses[cj][0] + 1, end + 1))
    return sorted(out)


def _trim(words: list[str], i: int, j: int) -> tuple[int, int]:
    """Drop punctuation at the edges of a word range, keeping a bracket or quote only with its partner.

    An answer never starts with "、" or ends with a comma, and "“一书一令" loses its lone quote.
    """
    while i < j and _loose_edge(words[i], words[i:j], opening=True):
        i += 1
    while j > i and _loose_edge(words[j - 1], words[i:j], opening=False):
        j -= 1
    return i, j


def _loose_edge(word: str, span: list[str], opening: bool) -> bool:
    if not _is_punct(word):
        return False
    partner = PAIRS.get(word) if opening else next((o for o, c in PAIRS.items() if c == word), None)
    return partner is None or not any(partner in w for w in span)


def _sentence_spans(
    qwords: list[str], weights: dict[str, float], sentence: str, passage: int, rank: int, question: str
) -> list[Span]:
    tagged = _tag(sentence)
    words = tagged.words
    context = _Context.of(qwords, weights, words, sentence, question)
    clauses = _clauses(words)
    seen: set[tuple[int, int]] = set()
    spans = []
    for i, j in _ranges(clauses):
        i, j = _trim(words, i, j)
        if i >= j or (i, j) in seen:
            continue
        seen.add((i, j))
        text = "".join(words[i:j])
        if len(text) > MAX_CHARS:
            continue
        ids, values = _features(context, tagged, clauses, i, j, text, passage, rank)
        spans.append(Span(text, sentence, passage, len("".join(words[:i])), ids, values))
    return spans


@dataclass(frozen=True)
class _Context:
    """Per-sentence arrays that make each span's alignment features O(1)."""

    matched: np.ndarray  # weight of each word of the sentence that is a question word
    cumulative: np.ndarray
    total: float
    sent_match: float
    sent_bigram: float
    slots: list[str]  # question words the sentence lacks: what the question asks for

    @classmethod
    def of(
        cls, qwords: list[str], weights: dict[str, float], words: list[str], sentence: str, question: str
    ) -> _Context:
        qset = set(qwords)
        matched = np.array([weights.get(w, 0.0) if w in qset else 0.0 for w in words], dtype=np.float64)
        total = sum(weights.values()) or 1.0
        present = sum(v for w, v in weights.items() if w in sentence)
        qgrams = _bigrams(question)
        slots = [w for w in dict.fromkeys(qwords) if w not in sentence][:6]
        return cls(
            matched,
            np.concatenate([[0.0], np.cumsum(matched)]),
            total,
            present / total,
            len(qgrams & _bigrams(sentence)) / (len(qgrams) or 1),
            slots,
        )

    def inside(self, i: int, j: int) -> float:
        return float(self.cumulative[j] - self.cumulative[i]) / self.total

    def nearest(self, i: int, j: int) -> tuple[float, float]:
        left = [i - k for k in range(max(0, i - WINDOW), i) if self.matched[k] > 0]
        right = [k - j + 1 for k in range(j, min(len(self.matched), j + WINDOW)) if self.matched[k] > 0]
        return (1.0 / min(left) if left else 0.0), (1.0 / min(right) if right else 0.0)


def _features(
    c: _Context, tagged: _Words, clauses: list[tuple[int, int]], i: int, j: int, text: str, passage: int, rank: int
) -> tuple[np.ndarray, np.ndarray]:
    words, flags = tagged.words, tagged.flags
    clause_of = [k for k, (a, b) in enumerate(clauses) if a < j and b > i]
    first, last = clauses[clause_of[0]], clauses[clause_of[-1]]
    near_left, near_right = c.nearest(i, j)
    n = j - i
    digit = any(ch.isdigit() for ch in text)
    dense = {
        "bias": 1.0,
        "sent_match": c.sent_match,
        "sent_bigram": c.sent_bigram,
        "clause_match": c.inside(first[0], last[1]),
        "in_span": c.inside(i, j),
        "left_ctx": c.inside(max(0, i - WINDOW), i),
        "right_ctx": c.inside(j, min(len(words), j + WINDOW)),
        "adj_left": float(i > 0 and c.matched[i - 1] > 0),
        "adj_right": float(j < len(words) and c.matched[j] > 0),
        "near_left": near_left,
        "near_right": near_right,
        f"sent_rank{min(rank, 2)}": 1.0,
        f"psg_rank{min(passage, 2)}": 1.0,
        "clause_start": float(i == first[0]),
        "clause_end": float(j >= last[1] - 1),
        "whole_sentence": float(i == 0 and j >= len(words) - 1),
        f"crosses{min(len(clause_of) - 1, 2)}": 1.0,
        "has_digit": float(digit),
        "chars_log": math.log1p(len(text)),
        "words_log": math.log1p(n),
        f"words_{min(n, 9)}": 1.0,
    }
    hashed = _crosses(c.slots, words, flags, i, j, text, digit)
    ids = np.array([DENSE_INDEX[k] for k in dense] + hashed, dtype=np.int64)
    values = np.array(list(dense.values()) + [1.0] * len(hashed), dtype=np.float32)
    return ids, values


def _crosses(slots: list[str], words: list[str], flags: list[str], i: int, j: int, text: str, digit: bool) -> list[int]:
    """Lexical features: the span's edges and neighbours, and each unmatched question word crossed with them."""
    prev_word = words[i - 1] if i > 0 else "<s>"
    next_word = words[j] if j < len(words) else "</s>"
    shape = (
        ("first", flags[i]),
        ("last", flags[j - 1]),
        ("lastch", text[-1]),
        ("digit", str(digit)),
        ("len", str(min(j - i, 9))),
        ("prev", prev_word),
        ("next", next_word),
    )
    out = [_hash(kind, value) for kind, value in shape]
    for slot in slots:
        out += [_hash("q", slot, kind, value) for kind, value in shape]
    return out


class Reader:
    """Scores spans with a weight vector over dense and hashed features."""

    def __init__(self, weights: np.ndarray, digest: str = "", null_margin: float = 0.0) -> None:
        if weights.shape != (len(DENSE) + (1 << HASH_BITS),):
            raise ReaderMissing("阅读模型文件与程序版本不匹配：请用 python bench/train_reader.py 重新训练")
        self.weights = weights.astype(np.float32)
        self.digest = digest
        # The no-answer option wins only by this much over the best span: fitted on dev questions so that
        # answerable ones are rarely refused (see reader_fit.null_margin).
        self.null_margin = null_margin

    def scores(self, spans: list[Span]) -> np.ndarray:
        return np.array([float(self.weights[s.ids] @ s.values) for s in spans], dtype=np.float64)

    def read(self, question: str, passages: list[str], null_margin: float | None = None) -> Answer:
        """The best span of ``passages`` (most relevant first) for ``question``, or no answer.

        ``null_margin`` overrides the fitted margin (0: the no-answer option wins whenever it scores best).
        """
        margin = self.null_margin if null_margin is None else null_margin
        options = candidates(question, passages)
        scores = self.scores(options)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        if len(options) == 1 or scores[0] >= scores[1:].max() + margin:
            return Answer(None, float(probs[0]), float(probs[0]))
        best = 1 + int(np.argmax(scores[1:]))
        return Answer(options[best], float(probs[best]), float(probs[0]))


def save(path: Path, weights: np.ndarray, meta: dict[str, object]) -> None:
    """Only the non-zero weights, in float16: the file stays a few MB."""
    nonzero = np.flatnonzero(weights)
    info = json.dumps({**meta, "feature_version": FEATURE_VERSION, "hash_bits": HASH_BITS}, ensure_ascii=False)
    with path.open("wb") as fh:
        np.savez_compressed(
            fh, index=nonzero.astype(np.int32), value=weights[nonzero].astype(np.float16), meta=np.array(info)
        )


def artefact_digest(path: Path = DEFAULT_PATH) -> str:
    """SHA-256 of the reader file, recorded in each index manifest: which reader served that version."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ReaderMissing(f"阅读模型文件 {path} 缺失（{type(exc).__name__}）：请重新获取仓库中的该文件") from exc


def load(path: Path = DEFAULT_PATH) -> Reader:
    try:
        raw = path.read_bytes()
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            index, value = data["index"], data["value"]
    except (OSError, ValueError, KeyError) as exc:
        raise ReaderMissing(
            f"阅读模型文件 {path} 缺失或损坏（{type(exc).__name__}）：请重新获取仓库中的该文件"
        ) from exc
    if meta.get("feature_version") != FEATURE_VERSION or meta.get("hash_bits") != HASH_BITS:
        raise ReaderMissing("阅读模型文件与程序版本不匹配：请用 python bench/train_reader.py 重新训练")
    weights = np.zeros(len(DENSE) + (1 << HASH_BITS), dtype=np.float32)
    weights[index] = value.astype(np.float32)
    return Reader(weights, hashlib.sha256(raw).hexdigest(), float(meta.get("null_margin", 0.0)))

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
    context = _Context.of(qwords, weights, tagged, sentence, question)
    clauses = context.clauses
    fixed = (_SENT_RANK[min(rank, 2)], _PSG_RANK[min(passage, 2)])
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
        ids, values = _features(context, i, j, text, fixed)
        spans.append(Span(text, sentence, passage, len("".join(words[:i])), ids, values))
    return spans


_SENT_RANK = [DENSE_INDEX[f"sent_rank{r}"] for r in range(3)]
_PSG_RANK = [DENSE_INDEX[f"psg_rank{r}"] for r in range(3)]
_CROSSES = [DENSE_INDEX[f"crosses{r}"] for r in range(3)]
_WORDS = [0] + [DENSE_INDEX[f"words_{n}"] for n in range(1, 10)]
_HEAD = [DENSE_INDEX[k] for k in "bias sent_match sent_bigram clause_match in_span left_ctx right_ctx".split()]
_HEAD += [DENSE_INDEX[k] for k in "adj_left adj_right near_left near_right".split()]
_MIDDLE = [DENSE_INDEX[k] for k in ("clause_start", "clause_end", "whole_sentence")]
_TAIL = [DENSE_INDEX[k] for k in ("has_digit", "chars_log", "words_log")]


@dataclass(frozen=True)
class _Context:
    """Per-sentence tables that make each span's features look-ups, not loops.

    Everything a span's features need that depends on one edge only (alignment
    sums, the nearest question word, the clause of a word, the hashed crosses of an
    edge word) is computed once per sentence; a sentence has ~30 words and ~170 spans.
    """

    matched: list[float]  # weight of each word of the sentence that is a question word
    cumulative: list[float]
    total: float
    sent_match: float
    sent_bigram: float
    slots: list[str]  # question words the sentence lacks: what the question asks for
    near_left: list[float]  # 1 / distance from word i back to the nearest question word (0: none in WINDOW)
    near_right: list[float]  # 1 / distance from word j - 1 on to the nearest question word at or after j
    clauses: list[tuple[int, int]]  # word ranges, cut after clause punctuation
    clause_at: list[int]  # the clause each word belongs to
    cross: list[_Crosses]  # the plain crosses, then one table per slot

    @classmethod
    def of(cls, qwords: list[str], weights: dict[str, float], tagged: _Words, sentence: str, question: str) -> _Context:
        qset, words = set(qwords), tagged.words
        matched = [weights.get(w, 0.0) if w in qset else 0.0 for w in words]
        total = sum(weights.values()) or 1.0
        present = sum(v for w, v in weights.items() if w in sentence)
        qgrams = _bigrams(question)
        slots = [w for w in dict.fromkeys(qwords) if w not in sentence][:6]
        clauses = _clauses(words)
        return cls(
            matched,
            np.concatenate([[0.0], np.cumsum(np.array(matched, dtype=np.float64))]).tolist(),
            total,
            present / total,
            len(qgrams & _bigrams(sentence)) / (len(qgrams) or 1),
            slots,
            [_near(matched, range(i - 1, max(0, i - WINDOW) - 1, -1), i) for i in range(len(words) + 1)],
            [_near(matched, range(j, min(len(words), j + WINDOW)), j - 1) for j in range(len(words) + 1)],
            clauses,
            [k for k, (a, b) in enumerate(clauses) for _ in range(a, b)],
            [_Crosses.of((), tagged)] + [_Crosses.of(("q", slot), tagged) for slot in slots],
        )

    def inside(self, i: int, j: int) -> float:
        return (self.cumulative[j] - self.cumulative[i]) / self.total


def _near(matched: list[float], positions: range, origin: int) -> float:
    """1 / distance from ``origin`` to the first matched position (in the order given), else 0."""
    return next((1.0 / abs(k - origin) for k in positions if matched[k] > 0), 0.0)


@dataclass(frozen=True)
class _Crosses:
    """Hashed ids of one prefix (none, or ("q", slot)) crossed with each edge shape, by word position."""

    first: list[int]  # part of speech of word i, as the span's first
    last: list[int]  # indexed by j: part of speech of word j - 1
    lastch: list[int]  # indexed by j: last character of word j - 1
    digit: tuple[int, int]
    length: list[int]  # indexed by min(words, 9)
    prev: list[int]  # indexed by i: word i - 1 (or <s>)
    next: list[int]  # indexed by j: word j (or </s>)

    @classmethod
    def of(cls, prefix: tuple[str, ...], tagged: _Words) -> _Crosses:
        words, flags, n = tagged.words, tagged.flags, len(tagged.words)
        return cls(
            [_hash(*prefix, "first", f) for f in flags],
            [0] + [_hash(*prefix, "last", f) for f in flags],
            [0] + [_hash(*prefix, "lastch", w[-1]) for w in words],
            (_hash(*prefix, "digit", "False"), _hash(*prefix, "digit", "True")),
            [0] + [_hash(*prefix, "len", str(m)) for m in range(1, 10)],
            [_hash(*prefix, "prev", words[i - 1] if i > 0 else "<s>") for i in range(n + 1)],
            [_hash(*prefix, "next", words[j] if j < n else "</s>") for j in range(n + 1)],
        )

    def ids(self, i: int, j: int, digit: bool) -> list[int]:
        """In the order of the shape features: first, last, lastch, digit, len, prev, next."""
        return [
            self.first[i], self.last[j], self.lastch[j], self.digit[digit], self.length[min(j - i, 9)],
            self.prev[i], self.next[j],
        ]  # fmt: skip


def _features(c: _Context, i: int, j: int, text: str, fixed: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Dense features (ids in a fixed order), then the hashed crosses: the same ids and values as the
    named features of feature version 1, built from the per-sentence tables."""
    n_words = len(c.matched)
    first_clause, last_clause = c.clause_at[i], c.clause_at[j - 1]
    first, last = c.clauses[first_clause], c.clauses[last_clause]
    n = j - i
    digit = any(ch.isdigit() for ch in text)
    values = [
        1.0,
        c.sent_match,
        c.sent_bigram,
        c.inside(first[0], last[1]),
        c.inside(i, j),
        c.inside(max(0, i - WINDOW), i),
        c.inside(j, min(n_words, j + WINDOW)),
        float(i > 0 and c.matched[i - 1] > 0),
        float(j < n_words and c.matched[j] > 0),
        c.near_left[i],
        c.near_right[j],
        1.0,
        1.0,
        float(i == first[0]),
        float(j >= last[1] - 1),
        float(i == 0 and j >= n_words - 1),
        1.0,
        float(digit),
        math.log1p(len(text)),
        math.log1p(n),
        1.0,
    ]
    ids = [*_HEAD, *fixed, *_MIDDLE, _CROSSES[min(last_clause - first_clause, 2)], *_TAIL, _WORDS[min(n, 9)]]
    for table in c.cross:
        ids += table.ids(i, j, digit)
    values += [1.0] * (len(ids) - len(values))
    return np.array(ids, dtype=np.int64), np.array(values, dtype=np.float32)


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

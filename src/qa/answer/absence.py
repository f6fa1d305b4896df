"""Absent details, told by the question's words: what the case's text (or the whole knowledge base)
never speaks of cannot be its answer.

Only the words decide here. Where a word test is weak evidence on its own (a paraphrase shares no
word with its answer), :mod:`qa.answer.facts` weighs it against the span reader before refusing.
"""

from __future__ import annotations

import jieba

from ..text import CJK, word_class
from .knowledge import Knowledge
from .shapes import CONTACT, DESCRIBE, EFFECT, WHICH, WHO, asks_amount
from .spans import is_mentioned

# jieba's classes of words that name no thing: verbs and adverbs say what was done, idioms and set
# phrases how (前前后后), pronouns point (那些), the rest are grammar (conjunctions, prepositions, particles).
NO_THING = ("v", "d", "i", "l", "r", "c", "p", "u", "y", "e", "o")
# Adjectives say what a thing is like (明显, 方便), never which detail is asked.
QUALITY = ("a",)


class Absence:
    """Word tests of a detail the case lacks, over one knowledge base."""

    def __init__(self, kb: Knowledge) -> None:
        self.kb = kb

    def missing_contact(self, query: str, focus: list[str], case_id: str) -> bool:
        """A contact detail (电话, 地址…) the case never mentions cannot be answered."""
        cjk_focus, mentioned = self.mentioned(focus, case_id)
        return bool(cjk_focus) and bool(CONTACT.search(query.lower())) and not any(CONTACT.search(w) for w in mentioned)

    def mentioned(self, focus: list[str], case_id: str) -> tuple[list[str], list[str]]:
        """The Chinese topic words, and those of them the case's text speaks of."""
        cjk_focus = [w for w in focus if CJK.search(w) and not EFFECT.search(w)]
        text = self.kb.case_text.get(case_id, "")
        return cjk_focus, [w for w in cjk_focus if is_mentioned(w, text)]

    def unknown_detail(self, query: str, focus: list[str], case_id: str, strict: bool = False) -> bool:
        """A "who" (or carried-over) topic the case never mentions, or topic words the whole
        knowledge base never mentions: by its words, a detail the case lacks.

        Other questions are not refused for unfamiliar words: a paraphrase
        ("打官司有没有更方便的办法") shares no words with its answer by design.
        """
        cjk_focus, mentioned = self.mentioned(focus, case_id)
        if not cjk_focus:
            return False
        # A question carried over from another case names its topic exactly ("功能区"): absent means absent.
        # What a "who" question asks for (哪位**检察官**) is the kind of answer, no sign that the case
        # speaks of it: "莎姐是照着哪位检察官起的名？" is not answered by "416名检察官".
        kind = asked_kind(query)
        if (strict or bool(WHO.search(query.lower()))) and not [w for w in mentioned if w != kind]:
            return True
        # A question whose every topic word no passage of the whole knowledge base speaks of
        # ("怎么预约？", "周末上班吗？") asks a detail the knowledge base lacks.
        # A "what is it" question is answered by a description, whatever its words (含义, 意思), and so
        # is how the practice works ("是怎么运作的", "是怎么个搞法"); how the user does a thing ("怎么预约")
        # asks a detail. Dev: fresh9.jsonl and fresh10.jsonl +3, the chat's 怎么预约 still refused.
        # A single character names no detail ("一般去哪儿？": 去), it only says what is done: alone it
        # is no sign of an absent detail, though beside other words one the text uses is a sign of a present one.
        topic = detail_words(cjk_focus)
        if not any(len(w) >= 2 for w in topic) or DESCRIBE.search(query.lower()):
            return False
        if any(self.kb.mentioned_anywhere(w) for w in topic):
            return False
        # An adjective says how much, not what ("在哪一段效果明显？": 明显): unknown, it names no lacking detail.
        # Dev: fresh.jsonl +1, nothing else moved (dropping known adjectives too lost three figures).
        return not all(word_class(w).startswith(QUALITY) for w in topic)

    def only_unknown_words(self, focus: list[str]) -> bool:
        """Detail words (two characters or more), none of which a passage of the knowledge base mentions."""
        known = self._known_long_details(focus)
        return bool(known) and not any(known)

    def unknown_thing(self, focus: list[str]) -> bool:
        """Some detail word (two characters or more) that no passage mentions and that names a thing
        (``NO_THING``): a *thing* the knowledge base never names (平均年龄), not another way of saying what
        was done (办成 for 办事, 实施 for 推行) or how (前前后后), nor a pronoun (那些). jieba's dictionary
        gives the class; a word it lacks counts as a thing."""
        return any(
            not self.kb.mentioned_anywhere(w) and not word_class(w).startswith(NO_THING)
            for w in detail_words(focus)
            if len(w) >= 2
        )

    def _known_long_details(self, focus: list[str]) -> list[bool]:
        """For each detail word of two characters or more: does some passage mention it?"""
        return [self.kb.mentioned_anywhere(w) for w in detail_words(focus) if len(w) >= 2]


def asked_kind(query: str) -> str | None:
    """The kind of thing a "which" asks for: the word after 哪位, 哪个, 哪家 ("哪位检察官" → 检察官)."""
    which = WHICH.search(query)
    if which is None:
        return None
    words = [w for w in jieba.lcut(query[which.end() :]) if w.strip()]
    return words[0] if words and CJK.fullmatch(words[0]) else None


def detail_words(focus: list[str]) -> list[str]:
    """The Chinese topic words that name a detail, not the asking for an amount, a sum, a time or an effect
    (多少, 几点, 效果)."""
    return [w for w in focus if CJK.search(w) and not asks_amount(w) and not EFFECT.search(w)]

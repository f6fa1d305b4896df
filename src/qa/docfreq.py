"""Per-word document frequencies, counted once by the build and stored in the index.

The answer engine weighs a question's words by IDF over *cases*: how many cases'
texts contain the word (as a substring, the way ``Answerer._idf`` counts). Counted
at question time, each new word costs a look-up over the whole knowledge base; the
build counts every word the corpus's own text offers once, and the index stores
the table (``docfreq.json``, read by ``qa.index.load_doc_freq``). A word missing
from the table (a question word the corpus never tokenises) is still counted on
demand, so the table only ever saves work and never changes a weight.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Chunk
from .substrings import SubstringIndex
from .text import content_words, normalise


def case_texts(chunks: Iterable[Chunk]) -> dict[str, str]:
    """Each case's passages joined and normalised, in order of first appearance: the texts IDF counts over.

    The same construction as ``Answerer.case_text``, so a count here is the count there.
    """
    parts: dict[str, list[str]] = {}
    for chunk in chunks:
        parts.setdefault(chunk.case_id, []).append(chunk.text)
    return {case_id: normalise("".join(texts)) for case_id, texts in parts.items()}


def corpus_words(texts: Iterable[str]) -> list[str]:
    """The topic words (``content_words``) of every case text, sorted: what questions are likely to ask about."""
    return sorted({word for text in texts for word in content_words(text)})


def document_frequencies(chunks: Iterable[Chunk]) -> dict[str, int]:
    """Word → number of cases whose text contains it, for every topic word of the corpus."""
    texts = list(case_texts(chunks).values())
    index = SubstringIndex(texts)
    return {word: index.count(word) for word in corpus_words(texts)}

"""Document frequencies stored by the build equal what the answer engine counts at question time."""

from __future__ import annotations

from qa import index as store
from qa.answer import Answerer
from qa.config import Settings
from qa.docfreq import case_texts, document_frequencies
from qa.embedding import HashingEmbedder
from qa.retrieval import Retriever
from qa.substrings import SubstringIndex


def test_case_texts_are_the_answer_engines(built: Settings, fake: HashingEmbedder) -> None:
    data = store.load_current(built.index_dir)
    answerer = Answerer(Retriever(data, fake))
    assert case_texts(data.chunks) == answerer.kb.case_text


def test_stored_table_equals_counting_at_question_time(built: Settings) -> None:
    data = store.load_current(built.index_dir)
    texts = list(case_texts(data.chunks).values())
    counts = SubstringIndex(texts)
    assert len(data.doc_freq) > 200
    assert data.doc_freq == {w: sum(w in t for t in texts) for w in data.doc_freq}
    assert all(data.doc_freq[w] == counts.count(w) for w in list(data.doc_freq)[:50])
    assert data.doc_freq["警快办"] >= 1


def test_prefilled_table_gives_the_same_idf(built: Settings, fake: HashingEmbedder) -> None:
    """What the answer owner's one-line change (seed ``word_case_freq`` from the table) must preserve."""
    data = store.load_current(built.index_dir)
    lazy, seeded = Answerer(Retriever(data, fake)), Answerer(Retriever(data, fake))
    seeded.kb.word_case_freq = dict(data.doc_freq)
    for word in ["警快办", "调解", "注册", "不存在的词", "Jingkuaiban", "的"]:
        assert seeded.kb.idf(word) == lazy.kb.idf(word)


def test_built_twice_the_same(built: Settings) -> None:
    data = store.load_current(built.index_dir)
    assert document_frequencies(data.chunks) == data.doc_freq

"""BM25 tokenised by the build and stored in the version (issue 17): the same scores, without tokenising at load."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa import index as store
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.errors import IndexCorrupt
from qa.retrieval import Retriever, bm25_index
from qa.text import tokens

QUERIES = ["警快办有多少人注册", "莎姐", "调解 成功率", "南岸区 潮汐车道", "jingkuaiban", "不存在的词语"]


def test_a_build_stores_bm25_and_a_server_reads_it_memory_mapped(built: Settings, fake: HashingEmbedder) -> None:
    data = store.load_current(built.index_dir)
    assert data.bm25 is not None
    assert isinstance(data.bm25.scores["data"], np.memmap)
    retriever = Retriever(data, fake)
    assert retriever.bm25 is data.bm25
    rebuilt = bm25_index(data.chunks, retriever.cases)  # what a server computed at load before
    for query in QUERIES:
        expected = np.asarray(rebuilt.get_scores(list(tokens(query))), dtype=np.float32)
        np.testing.assert_array_equal(retriever.lexical_scores(query), expected)


def test_a_version_without_stored_bm25_still_serves_and_the_next_build_adds_it(
    built: Settings, fake: HashingEmbedder
) -> None:
    folder = store.current_dir(built.index_dir)
    shutil.rmtree(folder / store.BM25_DIR)
    data = store.load_current(built.index_dir)
    assert data.bm25 is None
    assert Retriever(data, fake).search("警快办有多少人注册", 3)  # tokenised at load, as before
    report = build_index(built, fake, progress=False)
    assert report.version != data.version  # not "up to date": rebuilt once to gain the stored index
    assert store.load_current(built.index_dir).bm25 is not None


def test_stored_bm25_for_other_chunks_is_corrupt(built: Settings) -> None:
    params = store.current_dir(built.index_dir) / store.BM25_DIR / "params.index.json"
    values = json.loads(params.read_text(encoding="utf-8"))
    values["num_docs"] += 1
    params.write_text(json.dumps(values), encoding="utf-8")
    with pytest.raises(IndexCorrupt):
        store.load_current(built.index_dir)


def test_a_damaged_bm25_file_is_corrupt(built: Settings) -> None:
    (store.current_dir(built.index_dir) / store.BM25_DIR / "vocab.index.json").write_text("{", encoding="utf-8")
    with pytest.raises(IndexCorrupt):
        store.load_current(built.index_dir)


def test_teaching_jieba_the_same_names_twice_changes_nothing() -> None:
    """jieba.add_word raises the dictionary's total on every call: repeated loads used to shift every cut."""
    import jieba

    from qa.text import add_words

    add_words(["测试名称甲", "测试名称乙"])
    total = jieba.dt.total
    add_words(["测试名称甲", "测试名称乙"])
    assert jieba.dt.total == total

"""ANN above a threshold (issue 17): the build chooses flat, HNSW or the compressed scan, records it, the loader honours it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa import index as store
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.errors import IndexCorrupt
from qa.retrieval import Retriever


def _small_threshold(settings: Settings) -> Settings:
    return dataclasses.replace(settings, ann_threshold=5)


def _graph_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """HNSW falls short of the recall, as on templated near-duplicate passages."""
    monkeypatch.setattr(store, "calibrate", lambda index, vectors, queries: (None, 0.947))


def test_default_threshold_keeps_flat_search(built: Settings) -> None:
    data = store.load_current(built.index_dir)
    assert data.manifest["search"] == {"kind": "flat", "threshold": built.ann_threshold}
    assert isinstance(data.faiss_index, faiss.IndexFlatIP)


def test_above_the_threshold_the_build_writes_hnsw_and_the_manifest_says_so(
    settings: Settings, fake: HashingEmbedder
) -> None:
    build_index(_small_threshold(settings), fake, progress=False)
    data = store.load_current(settings.index_dir)
    assert data.manifest["search"]["kind"] == "hnsw"
    assert data.manifest["search"]["threshold"] == 5
    assert isinstance(data.faiss_index, faiss.IndexHNSWFlat)
    assert data.faiss_index.hnsw.efSearch == data.manifest["search"]["ef_search"]
    np.testing.assert_allclose(np.linalg.norm(data.vectors, axis=1), 1.0, atol=1e-5)


def test_hnsw_search_agrees_with_flat_on_a_small_corpus(settings: Settings, fake: HashingEmbedder) -> None:
    build_index(_small_threshold(settings), fake, progress=False)
    data = store.load_current(settings.index_dir)
    flat = store.flat_ip_index(data.vectors)
    for text in ["警快办有多少人注册？", "莎姐", "调解成功率", "What is Jingkuaiban?", "社区矫正"]:
        query = fake.embed_queries([text])[0]
        rows, scores = store.dense_top(data, query, 10)
        exact_scores, exact_rows = flat.search(query.reshape(1, -1), 10)
        assert set(rows.tolist()) == set(exact_rows[0].tolist())
        np.testing.assert_allclose(np.sort(scores), np.sort(exact_scores[0]), atol=1e-5)


def test_dense_top_on_flat_is_exact(built: Settings, fake: HashingEmbedder) -> None:
    data = store.load_current(built.index_dir)
    query = fake.embed_queries(["警快办"])[0]
    rows, scores = store.dense_top(data, query, 5)
    expected = np.sort(data.vectors @ query)[::-1][:5]
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert len(rows) == 5 and store.dense_top(data, query, 0)[0].size == 0


@pytest.mark.parametrize("kind", ["hnsw", "pq"])
def test_an_ann_rebuild_is_byte_identical(
    settings: Settings, fake: HashingEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    if kind == "pq":
        _graph_fails(monkeypatch)
    first = _small_threshold(settings)
    second = dataclasses.replace(first, index_dir=tmp_path / "again")
    build_index(first, fake, progress=False, full=True)
    build_index(second, fake, progress=False, full=True)
    assert store.load_current(first.index_dir).manifest["search"]["kind"] == kind
    a, b = (store.current_dir(s.index_dir) / store.VECTORS for s in (first, second))
    assert a.read_bytes() == b.read_bytes()


def test_changing_the_threshold_rebuilds_with_the_other_kind(built: Settings, fake: HashingEmbedder) -> None:
    before = store.current_version(built.index_dir)
    report = build_index(_small_threshold(built), fake, progress=False)
    assert report.version != before
    assert store.load_current(built.index_dir).manifest["search"]["kind"] == "hnsw"
    again = build_index(_small_threshold(built), fake, progress=False)
    assert again.version == report.version  # same kind wanted: nothing to publish


def test_a_manifest_that_disagrees_with_the_file_is_corrupt(built: Settings) -> None:
    folder = store.current_dir(built.index_dir)
    manifest = json.loads((folder / store.MANIFEST).read_text(encoding="utf-8"))
    manifest["search"] = {"kind": "hnsw", "threshold": 5}
    (folder / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorrupt):
        store.load_dir(folder)


def test_a_version_without_a_search_entry_loads_as_flat(built: Settings) -> None:
    folder = store.current_dir(built.index_dir)
    manifest = json.loads((folder / store.MANIFEST).read_text(encoding="utf-8"))
    del manifest["search"]
    (folder / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert store.search_kind(store.load_dir(folder).manifest) == "flat"


def test_hnsw_is_kept_only_when_it_reaches_the_recall(settings: Settings, fake: HashingEmbedder) -> None:
    build_index(_small_threshold(settings), fake, progress=False)
    search = store.load_current(settings.index_dir).manifest["search"]
    assert search["recall_at_10"] >= store.ANN_RECALL and search["ef_search"] in store.EF_STEPS


def test_a_corpus_hnsw_cannot_search_well_enough_stays_flat(
    settings: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ANN_RECALL", 1.01)  # neither an efSearch nor the compressed scan can reach it
    build_index(_small_threshold(settings), fake, progress=False)
    data = store.load_current(settings.index_dir)
    search = data.manifest["search"]
    assert search["kind"] == "flat" and "hnsw_recall_at_10" in search and search["pq_recall_at_10"] <= 1.0
    assert isinstance(data.faiss_index, faiss.IndexFlatIP)


def test_a_flat_fallback_is_up_to_date_on_the_next_build(
    settings: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ANN_RECALL", 1.01)
    first = build_index(_small_threshold(settings), fake, progress=False)
    assert build_index(_small_threshold(settings), fake, progress=False).version == first.version


def test_retrieval_over_an_hnsw_version_uses_the_graph_and_finds_what_flat_finds(
    built: Settings, fake: HashingEmbedder
) -> None:
    """50 passages: the graph returns every one of them, so its top list is the full ranking."""
    flat = Retriever(store.load_current(built.index_dir), fake)
    build_index(_small_threshold(built), fake, progress=False)
    graph = Retriever(store.load_current(built.index_dir), fake)
    assert graph.approximate and not flat.approximate
    for question in ["警快办有多少人注册？", "莎姐", "调解成功率是多少", "What is Jingkuaiban?"]:
        query = flat.prepare(question)
        for case_ids in ([], flat.names.find(query)):
            expected = [(h.chunk.chunk_id, h.score) for h in flat.search(query, 8, case_ids)]
            assert [(h.chunk.chunk_id, h.score) for h in graph.search(query, 8, case_ids)] == expected
        assert graph.best_dense(query) == pytest.approx(flat.best_dense(query), abs=1e-6)


def test_where_the_graph_falls_short_the_compressed_scan_is_written(
    settings: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _graph_fails(monkeypatch)
    first = build_index(_small_threshold(settings), fake, progress=False)
    data = store.load_current(settings.index_dir)
    search = data.manifest["search"]
    assert search["kind"] == "pq" and search["hnsw_recall_at_10"] == 0.947
    assert search["recall_at_10"] >= store.ANN_RECALL and search["k_factor"] == store.PQ_K_FACTOR
    assert isinstance(data.faiss_index, faiss.IndexRefineFlat) and data.faiss_index.k_factor == store.PQ_K_FACTOR
    np.testing.assert_allclose(np.linalg.norm(data.vectors, axis=1), 1.0, atol=1e-5)
    assert build_index(_small_threshold(settings), fake, progress=False).version == first.version  # settled


def test_retrieval_over_the_compressed_scan_finds_what_flat_finds(
    built: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its candidates are re-ranked on the float vectors: scores are exact, not the codes' estimates."""
    flat = Retriever(store.load_current(built.index_dir), fake)
    _graph_fails(monkeypatch)
    build_index(_small_threshold(built), fake, progress=False)
    scan = Retriever(store.load_current(built.index_dir), fake)
    assert scan.approximate
    for question in ["警快办有多少人注册？", "莎姐", "调解成功率是多少", "What is Jingkuaiban?"]:
        query = flat.prepare(question)
        for case_ids in ([], flat.names.find(query)):
            expected = [(h.chunk.chunk_id, h.score) for h in flat.search(query, 8, case_ids)]
            assert [(h.chunk.chunk_id, h.score) for h in scan.search(query, 8, case_ids)] == expected


def test_the_compressed_scan_finds_the_exact_top_10_among_near_ties() -> None:
    """Tight clusters (near-duplicate passages): asked for retrieval's 256 rows, re-ranked, its top 10 is exact."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((40, 64)).astype(np.float32)
    vectors = np.repeat(centres, 50, axis=0) + 0.02 * rng.standard_normal((2000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[::40] + 0.01 * rng.standard_normal((50, 64)).astype(np.float32)
    exact = store.flat_ip_index(vectors).search(queries, 10)[1]
    found = store.pq_ip_index(vectors).search(queries, store.CANDIDATES)[1][:, :10]
    assert all(set(f) == set(e) for f, e in zip(found, exact, strict=True))
    assert store.search_index(vectors, threshold=100, queries=queries)[1]["recall_at_10"] >= store.ANN_RECALL

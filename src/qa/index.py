"""The index folder on disk, and its atomic, versioned writes.

Layout (``QA_INDEX_DIR``, default ``index/``)::

    index/
      current -> versions/<id>     symlink: the version being served
      previous                     text file: the version ``--rollback`` returns to
      .lock                        held by the one ``qa index`` allowed at a time
      versions/<id>/
        manifest.json              how it was built: model, dim, fingerprint, chunker, case hashes
        vectors.faiss              normalised vectors, inner product (= cosine): flat, or HNSW above
                                   the ANN threshold (the manifest's "search" says which)
        docfreq.json               per word, how many cases' texts contain it (answer-time IDF)
        bm25/                      the BM25 index over every chunk (bm25s's files), memory-mapped at load
        chunks.jsonl               chunk metadata, row i = vector i
        cases.json                 case metadata and extracted figures

A version is written in full into a hidden temporary folder, fsynced, renamed
into ``versions/``, and only then published by atomically replacing the
``current`` symlink. A crash at any point leaves the served version untouched.
Readers resolve ``current`` once and read every file from that one folder, so
they never mix two versions.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from .errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing
from .fusion import CANDIDATES
from .models import Chunk, Figure

FORMAT_VERSION = 1
KEEP_VERSIONS = 3
MANIFEST, VECTORS, CHUNKS, CASES = "manifest.json", "vectors.faiss", "chunks.jsonl", "cases.json"
BACKGROUND = "background.npy"
DOCFREQ = "docfreq.json"
BM25_DIR = "bm25"
# HNSW settings: M links per node, the candidate list while building and while searching.
# bench/ann_bench.py measures recall@10 against flat search with these (≥ 0.99 required).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 256
# A build keeps HNSW only if some efSearch reaches this recall@10 on its titles asked as questions;
# else the compressed scan below, if it reaches it; else flat.
ANN_RECALL, EF_STEPS, CALIBRATION_QUERIES = 0.99, (64, 128, 256, 512, 1024), 200
# The compressed scan: a 4-bit product-quantiser code per dimension, looked through for this many
# candidates per row asked for, which are then re-ranked on the float vectors.
PQ_BITS, PQ_K_FACTOR = 4, 4
SEARCH_KINDS: dict[str, Any] = {"flat": faiss.IndexFlatIP, "hnsw": faiss.IndexHNSWFlat, "pq": faiss.IndexRefineFlat}


@dataclass
class IndexData:
    """Everything one index version holds, in memory."""

    manifest: dict[str, Any]
    vectors: np.ndarray
    chunks: list[Chunk]
    cases: list[dict[str, Any]]
    figures: list[Figure]
    version: str = ""
    faiss_index: Any = field(default=None, repr=False)
    # Vectors of everyday off-topic passages: the per-query baseline for "is this about us at all?"
    background: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.float32), repr=False)
    # English lemma → corpus words (CC-CEDICT), for picking clauses for English questions.
    glossary: dict[str, list[str]] = field(default_factory=dict, repr=False)
    # Word → number of cases whose text contains it, precomputed by the build (qa.docfreq).
    doc_freq: dict[str, int] = field(default_factory=dict, repr=False)
    # The BM25 index (bm25s.BM25) the build tokenised, or None (older versions): retrieval then builds it.
    bm25: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.faiss_index is None:
            self.faiss_index = flat_ip_index(self.vectors)

    def check_model(self, model_name: str, dim: int) -> None:
        built = self.manifest.get("model", {})
        if built.get("name") != model_name or int(built.get("dim", -1)) != dim:
            raise IndexMismatch(f"{built.get('name')} ({built.get('dim')}d)", f"{model_name} ({dim}d)")


def flat_ip_index(vectors: np.ndarray) -> Any:
    """Exact inner-product search: below the ANN threshold exact beats approximate."""
    dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1
    index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def hnsw_ip_index(vectors: np.ndarray, ef_search: int = HNSW_EF_SEARCH) -> Any:
    """An HNSW graph over the vectors (inner product), built on one thread.

    FAISS adds to a graph in parallel with locks, so the links, and the file's
    bytes, would depend on thread timing; one thread makes a rebuild identical.
    """
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = ef_search
    with _one_faiss_thread():
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def pq_ip_index(vectors: np.ndarray) -> Any:
    """A scan of compact codes whose best candidates are re-ranked on the float vectors.

    FAISS's fast-scan product quantiser: a 4-bit code per dimension (192 bytes for 384
    dimensions, against 1,536 as floats), compared through SIMD look-up tables. Still
    linear in the passages, but at 70,000 passages it took ~1.5 ms a query where the
    float scan took 5-10 (docs/benchmarks.md). Its top 10 is exact unless a true top-10
    passage scores outside the best ``PQ_K_FACTOR`` × k codes (k = 256 in retrieval).
    A code per two dimensions was twice as fast and found every title's top 10, but
    only 94 % of the dev questions' on near-duplicate passages. Trained (k-means per
    sub-space, seeded) on one thread, so a rebuild writes the same file.
    """
    dim = vectors.shape[1]
    index = faiss.IndexRefineFlat(faiss.IndexPQFastScan(dim, dim, PQ_BITS, faiss.METRIC_INNER_PRODUCT))
    index.k_factor = PQ_K_FACTOR
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    with _one_faiss_thread():
        index.train(data)
        index.add(data)
    return index


@contextlib.contextmanager
def _one_faiss_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread for the block: a parallel build's bytes depend on thread timing."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def search_index(vectors: np.ndarray, threshold: int, queries: np.ndarray | None = None) -> tuple[Any, dict[str, Any]]:
    """The FAISS index for these vectors and its manifest entry: flat up to ``threshold`` passages, ANN above.

    Chosen at build time and recorded, so every server loading the version searches
    it the same way. HNSW is kept only with the smallest efSearch that finds at least
    ANN_RECALL of the exact top 10 for ``queries`` (the build asks its case titles as
    questions). Near-duplicate passages can defeat the graph (templated synthetic cases
    did, hashed or embedded by the real model); then the compressed scan, checked the
    same way; a corpus where neither reaches the recall stays flat, and so does one with
    no queries to check on.
    """
    if len(vectors) <= threshold:
        return flat_ip_index(vectors), {"kind": "flat", "threshold": threshold}
    queries = queries if queries is not None else vectors[:0]
    index = hnsw_ip_index(vectors)
    ef_search, measured = calibrate(index, vectors, queries)
    if ef_search is not None:
        index.hnsw.efSearch = ef_search
        entry = {"kind": "hnsw", "threshold": threshold, "m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION}
        return index, entry | {"ef_search": ef_search, "recall_at_10": measured}
    tried = {"threshold": threshold, "hnsw_recall_at_10": measured}
    scan = pq_ip_index(vectors)
    # Checked with a quarter of the candidates retrieval re-ranks: titles flatter, as for efSearch above.
    recall = _recall(scan, queries, _exact_top(vectors, queries), CANDIDATES // 4) if len(queries) else 0.0
    if recall >= ANN_RECALL:
        return scan, tried | {"kind": "pq", "bits": PQ_BITS, "k_factor": PQ_K_FACTOR, "recall_at_10": recall}
    return flat_ip_index(vectors), tried | {"kind": "flat", "pq_recall_at_10": recall}


def search_settled(manifest: dict[str, Any], chunks: int, threshold: int) -> bool:
    """The version's search is what :func:`search_index` would choose now: flat up to ``threshold``
    passages; above it an ANN kind, or flat where both ANN kinds were built and fell short."""
    kind = search_kind(manifest)
    if chunks <= threshold:
        return kind == "flat"
    return kind != "flat" or "pq_recall_at_10" in manifest.get("search", {})


def calibrate(index: Any, vectors: np.ndarray, queries: np.ndarray) -> tuple[int | None, float]:
    """An efSearch with room to spare, and its recall@10 on ``queries`` against exact search.

    The kept value is one step above the smallest in EF_STEPS reaching ANN_RECALL (none
    if that is the last): calibration queries are easier than real ones. Passages, or
    midpoints of two, reached 0.99 where questions got 0.80-0.83; titles asked as
    questions came closer but still flattered (bench/ann_bench.py).
    """
    if not len(queries):
        return None, 0.0
    exact = _exact_top(vectors, queries)
    for step, ef_search in enumerate(EF_STEPS[:-1]):
        index.hnsw.efSearch = ef_search
        if _recall(index, queries, exact) >= ANN_RECALL:
            index.hnsw.efSearch = kept = EF_STEPS[step + 1]
            return kept, _recall(index, queries, exact)
    index.hnsw.efSearch = EF_STEPS[-1]
    return None, _recall(index, queries, exact)


def _exact_top(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return flat_ip_index(vectors).search(np.ascontiguousarray(queries, dtype=np.float32), 10)[1]


def _recall(index: Any, queries: np.ndarray, exact: np.ndarray, depth: int = 10) -> float:
    """The share of the exact top 10 that ``index`` puts in its own top 10 when asked for ``depth`` rows."""
    found = index.search(np.ascontiguousarray(queries, dtype=np.float32), depth)[1][:, :10]
    return round(float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])), 4)


def search_kind(manifest: dict[str, Any]) -> str:
    """How a version's vectors are searched ("flat" for versions built before the choice was recorded)."""
    return str(manifest.get("search", {}).get("kind", "flat"))


def dense_top(data: IndexData, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and cosines of the ``k`` passages nearest ``query``, best first, through the version's own index.

    Exact below the ANN threshold, HNSW above it: the cost stays near-flat in the
    number of passages, where ``vectors @ query`` grows with every one of them.
    """
    size = min(k, int(data.faiss_index.ntotal))
    if size <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores, rows = data.faiss_index.search(np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), size)
    keep = rows[0] >= 0  # HNSW may return fewer than asked for, padded with -1
    return rows[0][keep], scores[0][keep]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---- writing -----------------------------------------------------------------


def write_version(root: Path, data: IndexData) -> Path:
    """Write ``data`` as a new, not yet published version; returns its folder."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
    try:
        _write_files(tmp, data)
        final = versions / data.version
        os.rename(tmp, final)
        _fsync_dir(versions)
        return final
    except BaseException:  # includes KeyboardInterrupt: never leave a half-written folder behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_files(folder: Path, data: IndexData) -> None:
    faiss.write_index(data.faiss_index, str(folder / VECTORS))
    lines = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in data.chunks)
    _write_text(folder / CHUNKS, lines)
    cases = {"cases": data.cases, "figures": [f.to_dict() for f in data.figures], "glossary": data.glossary}
    _write_text(folder / CASES, json.dumps(cases, ensure_ascii=False, indent=1))
    np.save(folder / BACKGROUND, np.asarray(data.background, dtype=np.float32))
    _write_text(folder / DOCFREQ, json.dumps(data.doc_freq, ensure_ascii=False, sort_keys=True))
    if data.bm25 is not None:
        data.bm25.save(folder / BM25_DIR, show_progress=False)
        for path in sorted((folder / BM25_DIR).iterdir()):
            _fsync_file(path)
        _fsync_dir(folder / BM25_DIR)
    # The manifest goes last: a folder with a manifest is a complete folder.
    _write_text(folder / MANIFEST, json.dumps(data.manifest, ensure_ascii=False, indent=2))
    for name in (VECTORS, CHUNKS, CASES, BACKGROUND, DOCFREQ, MANIFEST):
        _fsync_file(folder / name)


def remove_stale_temp(root: Path) -> None:
    """Delete half-written folders left by a killed build. Call only while holding the build lock."""
    for tmp in (root / "versions").glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def publish(root: Path, version: str) -> None:
    """Make ``version`` the served one, remembering the old one for rollback."""
    old = current_version(root)
    link_tmp = root / f".current-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    os.symlink(Path("versions") / version, link_tmp)
    os.replace(link_tmp, root / "current")
    if old and old != version:
        _write_text(root / "previous", old)
    _fsync_dir(root)
    _prune(root, keep={version, old or ""})


def rollback(root: Path) -> str:
    """Serve the previous version again; returns its id."""
    previous_file = root / "previous"
    if not previous_file.exists():
        raise IndexMissing("no previous version", "没有可回滚的上一个索引版本。")
    previous = previous_file.read_text(encoding="utf-8").strip()
    if not (root / "versions" / previous / MANIFEST).exists():
        raise IndexMissing(f"previous version {previous} is gone", f"上一个索引版本 {previous} 已不存在。")
    publish(root, previous)
    return previous


def _prune(root: Path, keep: set[str]) -> None:
    versions = sorted((p for p in (root / "versions").iterdir() if not p.name.startswith(".")), reverse=True)
    for path in versions[KEEP_VERSIONS:]:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync_file(path)


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One builder at a time; a second one fails fast with a clear message."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLocked("another qa index holds the lock") from exc
            raise
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- reading -----------------------------------------------------------------


def current_version(root: Path) -> str | None:
    link = root / "current"
    if not link.is_symlink() and not link.exists():
        return None
    return Path(os.readlink(link)).name if link.is_symlink() else None


def current_dir(root: Path) -> Path:
    """The served version's folder, resolved once so a concurrent swap cannot mix files."""
    version = current_version(root)
    if version is None:
        raise IndexMissing(f"no index at {root}")
    folder = (root / "versions" / version).resolve()
    if not (folder / MANIFEST).exists():
        raise IndexCorrupt(f"index version {version} has no manifest")
    return folder


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"cannot read manifest in {folder}: {exc}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorrupt(f"unsupported index format {manifest.get('format_version')}")
    return manifest


def load_dir(folder: Path) -> IndexData:
    """Load one version folder completely, or raise IndexCorrupt."""
    manifest = read_manifest(folder)
    try:
        index = faiss.read_index(str(folder / VECTORS))
        chunks = [Chunk.from_dict(json.loads(line)) for line in _lines(folder / CHUNKS)]
        meta = json.loads((folder / CASES).read_text(encoding="utf-8"))
        figures = [Figure.from_dict(f) for f in meta["figures"]]
        vectors = stored_vectors(index)
        background = np.load(folder / BACKGROUND)
    except Exception as exc:  # faiss raises RuntimeError, json ValueError, files OSError/KeyError
        raise IndexCorrupt(f"cannot read index in {folder}: {exc}") from exc
    if index.ntotal != len(chunks) or index.d != int(manifest["model"]["dim"]):
        raise IndexCorrupt(f"{folder}: {index.ntotal} vectors for {len(chunks)} chunks")
    _honour_search(folder, index, manifest)
    data = IndexData(manifest, vectors, chunks, meta["cases"], figures, folder.name, index, background)
    data.glossary = meta.get("glossary", {})
    data.doc_freq = load_doc_freq(folder)
    data.bm25 = load_bm25(folder, len(chunks))
    return data


def load_bm25(folder: Path, chunks: int) -> Any:
    """The stored BM25 index, memory-mapped (pages are read as queries touch them); None if not stored."""
    if not (folder / BM25_DIR).is_dir():
        return None
    try:
        index = bm25s.BM25.load(folder / BM25_DIR, mmap=True, show_progress=False)
    except Exception as exc:  # json, numpy and OS errors alike mean the folder is damaged
        raise IndexCorrupt(f"cannot read {folder / BM25_DIR}: {exc}") from exc
    if int(index.scores["num_docs"]) != chunks:
        raise IndexCorrupt(f"{folder / BM25_DIR}: BM25 over {index.scores['num_docs']} chunks, {chunks} in the version")
    return index


class _Held:
    """Exposes the vectors a FAISS index stores as an array that keeps the index alive (its ``base``)."""

    def __init__(self, index: Any, view: np.ndarray) -> None:
        self.index = index
        self.__array_interface__ = view.__array_interface__


def stored_vectors(index: Any) -> np.ndarray:
    """The vectors inside ``index`` (flat or HNSW), read-only, without a second copy.

    ``reconstruct_n`` copied them: at 70,000 passages that is 107 MB more resident
    memory for the same numbers. The array's base holds the index, so the memory
    stays valid as long as anyone holds the array.
    """
    if not index.ntotal:
        return np.zeros((0, index.d), np.float32)
    storage: Any = index
    if isinstance(index, faiss.IndexHNSWFlat):
        storage = faiss.downcast_index(index.storage)
    elif isinstance(index, faiss.IndexRefineFlat):  # the float vectors the codes' candidates are re-ranked on
        storage = faiss.downcast_index(index.refine_index)
    view = faiss.rev_swig_ptr(storage.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
    vectors = np.asarray(_Held(index, view))
    vectors.setflags(write=False)
    return vectors


def _honour_search(folder: Path, index: Any, manifest: dict[str, Any]) -> None:
    """Check the file is the kind of index the manifest records, and apply its search settings."""
    kind = search_kind(manifest)
    expected: Any = SEARCH_KINDS.get(kind)
    if expected is None or not isinstance(index, expected):
        raise IndexCorrupt(f"{folder}: manifest says {kind} search, {VECTORS} holds {type(index).__name__}")
    # The build's calibrated values (also in the file; the manifest is what an operator edits).
    if kind == "hnsw":
        index.hnsw.efSearch = int(manifest["search"].get("ef_search", HNSW_EF_SEARCH))
    if kind == "pq":
        index.k_factor = float(manifest["search"].get("k_factor", PQ_K_FACTOR))


def load_doc_freq(folder: Path) -> dict[str, int]:
    """Per-word case counts stored by the build; empty for versions built before they were stored.

    An empty table is still correct for its readers: a word it lacks is counted at question time.
    """
    path = folder / DOCFREQ
    if not path.exists():
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"cannot read {path}: {exc}") from exc
    return {str(word): int(count) for word, count in table.items()}


def load_current(root: Path) -> IndexData:
    return load_dir(current_dir(root))


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

"""Building an index version: incremental, checked, then published atomically.

Only cases whose content hash changed are embedded again; every other vector is
copied from the served version, and every passage embedded before (by this model,
in any build, finished or not) comes from the vector cache (``vector_cache.py``).
A new version is loaded back from disk and checked before it replaces the served
one. A check is either an error, which blocks publishing (a golden question in
``knowledge/checks.jsonl`` that misses, an index that does not load), or a
warning, which is reported and published (a case not found by its own title,
unless the case has a golden question or the build is strict).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from tqdm import tqdm

from . import index as store
from .answer.choice import shipped_choice
from .chunking import SEPARATORS, chunk_cases, embedding_text
from .config import Settings
from .corpus import checks_problems, load_cases
from .docfreq import document_frequencies
from .embedding import Embedder, background_passages, fingerprint
from .errors import CorpusError, IndexCheckFailed, QAError
from .figures import figures_for
from .glossary import build_glossary
from .models import Case, Chunk
from .reader import artefact_digest as reader_digest
from .retrieval import CaseInfo, Retriever, bm25_index
from .span_reader import artefact_digest as span_digest
from .text import normalise
from .vector_cache import VectorCache

BATCH = 64
TITLE_SAMPLE = 100
# A full build checks every case's title up to this many cases; above, this many (plus every guarded case).
TITLE_CHECK_ALL = 2000


@dataclass
class BuildReport:
    """What a build did (or, for a dry run, would do)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    cases: int = 0
    chunks_before: int = 0
    chunks_after: int = 0
    embedded: int = 0
    cached: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0
    version: str = ""
    full: bool = False
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_index(
    settings: Settings,
    embedder: Embedder,
    full: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    step: Callable[[str], None] | None = None,
    strict: bool | None = None,
) -> BuildReport:
    """Build (or preview) a new index version from ``settings.knowledge_dir``.

    ``step`` is told, in Chinese, which stage has started (the admin page shows it).
    ``strict`` (default: ``settings.strict_build``) makes every title check an error.
    """
    say = step or _quiet
    strict = settings.strict_build if strict is None else strict
    started = time.perf_counter()
    say("读取并校验案例文件和 checks.jsonl")
    notices: list[str] = []
    cases = load_cases(settings.knowledge_dir, notices)
    problems = checks_problems(settings.knowledge_dir, {c.id for c in cases})
    if problems:  # on every build, dry run and "nothing changed" included: a broken check would never run
        raise CorpusError(problems)
    if dry_run:
        report = _plan(cases, _reusable(settings, embedder, full), settings, full, _cache(settings, embedder, full))
        report.dry_run, report.seconds = True, time.perf_counter() - started
        report.warnings += notices
        return report
    with store.build_lock(settings.index_dir):
        store.remove_stale_temp(settings.index_dir)
        previous = _reusable(settings, embedder, full)
        cache = _cache(settings, embedder)
        report = _plan(cases, previous, settings, full, None if full else cache)
        report.warnings += notices
        if previous is not None and _up_to_date(previous, report, settings.ann_threshold):
            report.version, report.seconds, report.embedded = previous.version, time.perf_counter() - started, 0
            report.warnings.append("案例没有变化，索引已是最新，未发布新版本（需要时用 --full 强制重建）")
            return report
        say(f"生成向量（{report.embedded} 个片段需要嵌入，{report.cached} 个取自向量缓存）")
        data = _assemble(cases, previous, report, settings, embedder, progress, cache, full)
        say("写入新索引版本")
        folder = store.write_version(settings.index_dir, data)
        say("检查新索引（按标题检索每个案例，以及 checks.jsonl）")
        titles = _titles_to_check(report, _golden_cases(settings.knowledge_dir / "checks.jsonl"))
        report.warnings += _sampled_note(report, titles)
        report.warnings += _verify(folder, embedder, settings.knowledge_dir, titles, strict)
        say("发布新索引")
        store.publish(settings.index_dir, data.version)
        report.warnings += _tidy_cache(cache, data.chunks)
    report.version, report.seconds = data.version, time.perf_counter() - started
    return report


def _cache(settings: Settings, embedder: Embedder, skip: bool = False) -> VectorCache | None:
    """This model's vector cache under the index folder (None when ``skip``: ``--full`` reads no old vectors)."""
    if skip:
        return None
    return VectorCache(settings.index_dir, embedder.name, embedder.dim, fingerprint(embedder))


def _tidy_cache(cache: VectorCache | None, chunks: list[Chunk]) -> list[str]:
    """Merge the cache's shards, keeping the passages now published; a failure here costs nothing but space."""
    if cache is None:
        return []
    try:
        cache.keep_only([*(embedding_text(c) for c in chunks), *background_passages()])
    except OSError as exc:
        return [f"向量缓存整理失败（不影响已发布的索引）：{exc}"]
    return []


def _quiet(message: str) -> None:
    """The default ``step``: the CLI shows its report at the end instead."""


def chunker_settings(settings: Settings) -> dict[str, Any]:
    return {
        "splitter": "RecursiveCharacterTextSplitter",
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "separators": SEPARATORS,
    }


def _reusable(settings: Settings, embedder: Embedder, full: bool) -> store.IndexData | None:
    """The served version, if its vectors can be reused for this model and chunker."""
    if full:
        return None
    try:
        data = store.load_current(settings.index_dir)
        data.check_model(embedder.name, embedder.dim)
    except QAError:
        return None
    if data.manifest.get("chunker") != chunker_settings(settings):
        return None
    return data


def _plan(
    cases: list[Case], previous: store.IndexData | None, settings: Settings, full: bool, cache: VectorCache | None
) -> BuildReport:
    old: dict[str, str] = previous.manifest["cases"] if previous else {}
    report = BuildReport(full=full or previous is None, cases=len(cases))
    for case in cases:
        bucket = (
            report.added
            if case.id not in old
            else (report.unchanged if old[case.id] == case.content_hash else report.changed)
        )
        bucket.append(case.id)
    current = {c.id for c in cases}
    report.removed = sorted(set(old) - current)
    report.chunks_before = len(previous.chunks) if previous else 0
    chunks = chunk_cases(cases, settings.chunk_size, settings.chunk_overlap)
    report.chunks_after = len(chunks)
    seen = {embedding_text(c) for c in previous.chunks} if previous else set()
    new = {embedding_text(c) for c in chunks} - seen
    report.cached = len(cache.known(new)) if cache is not None else 0
    report.embedded = len(new) - report.cached  # what a build would embed
    return report


def _up_to_date(previous: store.IndexData | None, report: BuildReport, ann_threshold: int) -> bool:
    """Nothing to do: same cases, code, background and search kind. Publishing anyway would make every server reload.

    A version from before document frequencies and BM25 were stored is rebuilt once to gain them.
    """
    if previous is None or report.full or report.added or report.changed or report.removed:
        return False
    manifest = previous.manifest
    if not store.search_settled(manifest, report.chunks_after, ann_threshold):
        return False
    if previous.chunks and not (previous.doc_freq and previous.bm25 is not None):
        return False
    return manifest.get("qa_version") == _package_version() and manifest.get("background") == _digest(
        background_passages()
    )


def _assemble(
    cases: list[Case],
    previous: store.IndexData | None,
    report: BuildReport,
    settings: Settings,
    embedder: Embedder,
    progress: bool,
    cache: VectorCache | None,
    full: bool,
) -> store.IndexData:
    chunks = chunk_cases(cases, settings.chunk_size, settings.chunk_overlap)
    embed_started = time.perf_counter()
    vectors, report.embedded, report.cached = _vectors(chunks, previous, embedder, progress, cache, full)
    report.embed_seconds = time.perf_counter() - embed_started
    version = _version_id()
    titles = [c.title for c in cases]
    queries = calibration_queries(titles, embedder) if len(chunks) > settings.ann_threshold else None
    faiss_index, search = store.search_index(vectors, settings.ann_threshold, queries)
    manifest: dict[str, Any] = {
        "format_version": store.FORMAT_VERSION,
        "version": version,
        "built_at": store.now_iso(),
        "qa_version": _package_version(),
        "model": {"name": embedder.name, "dim": embedder.dim, "fingerprint": fingerprint(embedder)},
        "chunker": chunker_settings(settings),
        "cases": {c.id: c.content_hash for c in cases},
        "counts": {"cases": len(cases), "chunks": len(chunks)},
        "background": _digest(background_passages()),
        "search": search,
        "reader": {"sha256": reader_digest(), "span_sha256": span_digest(), "choice_sha256": shipped_choice().digest},
    }
    metas = [c.meta() for c in cases]
    data = store.IndexData(manifest, vectors, chunks, metas, figures_for(chunks), version, faiss_index)
    data.background = _background(previous, manifest["background"], embedder, cache, full)
    data.glossary = build_glossary(normalise(c.text) for c in chunks)
    data.doc_freq = document_frequencies(chunks)
    # Tokenised once here and stored, not by every server at load (30 s and 300 MB at 70,000 passages).
    data.bm25 = bm25_index(chunks, {m["id"]: CaseInfo.from_meta(m) for m in metas}) if chunks else None
    return data


def calibration_queries(titles: Sequence[str], embedder: Embedder) -> np.ndarray:
    """A fixed sample of case titles, encoded as questions: what an ANN index must find as flat search would."""
    distinct = sorted(set(titles))
    sample = random.Random(len(distinct)).sample(distinct, min(store.CALIBRATION_QUERIES, len(distinct)))
    return np.asarray(embedder.embed_queries(sample), dtype=np.float32)


def _vectors(
    chunks: list[Chunk],
    previous: store.IndexData | None,
    embedder: Embedder,
    progress: bool,
    cache: VectorCache | None,
    full: bool,
) -> tuple[np.ndarray, int, int]:
    """Reuse every vector whose exact input text was embedded before; embed the rest.

    Keyed on the text the model saw (title and unit included), so an unchanged
    case costs nothing and an edited case re-embeds only the passages that changed.
    Returns the vectors, how many passages were embedded and how many came from the cache.
    """
    old = {embedding_text(c): i for i, c in enumerate(previous.chunks)} if previous else {}
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    cached = 0
    for i, chunk in enumerate(chunks):
        text = embedding_text(chunk)
        row = old.get(text)
        hit = None if full or cache is None or row is not None else cache.get(text)
        if previous is not None and row is not None:
            vectors[i] = previous.vectors[row]
        elif hit is not None:
            vectors[i], cached = hit, cached + 1
        else:
            todo.setdefault(text, []).append(i)
    texts = list(todo)
    fresh = _embed(texts, embedder, progress, cache)
    for text, row in zip(texts, fresh, strict=True):
        vectors[todo[text]] = row
    return vectors, len(texts), cached


def _background(
    previous: store.IndexData | None, digest: str, embedder: Embedder, cache: VectorCache | None, full: bool
) -> np.ndarray:
    """The off-topic baseline vectors, reused while the background text is unchanged (or all of them are cached)."""
    if previous is not None and previous.manifest.get("background") == digest and len(previous.background):
        return previous.background
    texts = background_passages()
    hits = [] if full or cache is None else [cache.get(t) for t in texts]
    if hits and all(h is not None for h in hits):
        return np.stack(hits)  # type: ignore[arg-type]
    vectors = embedder.embed_passages(texts)  # one call, as a build without a cache makes it
    if cache is not None:
        cache.add(texts, vectors)
    return vectors


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def by_length(texts: Sequence[str]) -> list[int]:
    """Positions of ``texts``, longest first (ties in input order): a batch of similar lengths pads little.

    Embedding in this order instead of file order is what makes passage embedding
    faster (bench/embed_bench.py); the vectors differ from file order's by float
    rounding only (< 1e-6), and a rebuild gives the same order, so the same bytes.
    """
    return sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))


def _embed(texts: Sequence[str], embedder: Embedder, progress: bool, cache: VectorCache | None) -> np.ndarray:
    """Embed longest first in batches; each batch goes into the cache as soon as it is done.

    The progress bar counts passages, so tqdm shows passages per second and an ETA.
    """
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = by_length(texts)
    with tqdm(total=len(texts), desc="嵌入", unit="段", disable=not progress or not texts) as bar:
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            batch = [texts[i] for i in rows]
            vectors[rows] = embedder.embed_passages(batch)
            if cache is not None:
                cache.add(batch, vectors[rows])
            bar.update(len(batch))
    return vectors


def _titles_to_check(report: BuildReport, guarded: set[str]) -> set[str] | None:
    """Every case on a full build of up to TITLE_CHECK_ALL cases; otherwise the cases that matter plus a sample.

    Each title costs one search over every passage, so checking every title grows
    with cases × passages (10,000 cases: over an hour on two cores). Above the
    limit a full build checks a fixed-size sample plus every case a golden question
    guards (whose miss is an error); an incremental one checks the new and changed
    cases plus a sample of the rest, since unchanged passages keep their vectors.
    """
    if report.full:
        every = sorted(report.added + report.changed + report.unchanged)
        if len(every) <= TITLE_CHECK_ALL:
            return None
        return set(random.Random(len(every)).sample(every, TITLE_CHECK_ALL)) | (guarded & set(every))
    sample = random.Random(len(report.unchanged)).sample(report.unchanged, min(TITLE_SAMPLE, len(report.unchanged)))
    return set(report.added) | set(report.changed) | set(sample)


def _sampled_note(report: BuildReport, titles: set[str] | None) -> list[str]:
    """A warning when a full build checked only a sample of the titles: the editor should know what was not checked."""
    if not report.full or titles is None:
        return []
    return [f"案例较多（{report.cases} 个），按标题检索只抽查了其中 {len(titles)} 个"]


def _verify(folder: Path, embedder: Embedder, knowledge_dir: Path, titles: set[str] | None, strict: bool) -> list[str]:
    """Load the new version back from disk and check it; errors discard it and raise, warnings are returned."""
    try:
        retriever = Retriever(store.load_dir(folder), embedder)
    except QAError as exc:
        _discard(folder, [f"新索引无法加载：{exc.user_message}"])
    golden = knowledge_dir / "checks.jsonl"
    guarded = _golden_cases(golden)
    errors, warnings = [], []
    for case_id, message in _check_titles(retriever, titles):
        if strict or case_id in guarded:
            errors.append(message)
        else:
            warnings.append(f"{message}（仍已发布；用 --strict 或在 checks.jsonl 为它加检查问题，可让此项阻止发布）")
    golden_failures, golden_warnings = _check_golden(retriever, golden)
    if errors + golden_failures:
        _discard(folder, errors + golden_failures)
    return warnings + golden_warnings


def _discard(folder: Path, failures: list[str]) -> NoReturn:
    shutil.rmtree(folder, ignore_errors=True)
    detail = "\n".join(f"  - {f}" for f in failures)
    raise IndexCheckFailed(f"{len(failures)} check(s) failed", f"新索引未通过检查，仍使用旧索引：\n{detail}")


def _check_titles(retriever: Retriever, only: set[str] | None) -> list[tuple[str, str]]:
    """(case id, message) for each case its own title does not retrieve in the top 3."""
    misses = []
    cases = [c for c in retriever.cases.values() if only is None or c.id in only]
    for start in range(0, len(cases), BATCH):
        batch = cases[start : start + BATCH]
        retriever.warm([c.title for c in batch])  # one model call per batch, not one per title
        for case in batch:
            found = {h.chunk.case_id for h in retriever.search(case.title, k=3)}
            if case.id not in found:
                misses.append((case.id, f"案例 {case.id} 无法通过其标题“{case.title}”检索到"))
    return misses


def _golden_cases(path: Path) -> set[str]:
    """The cases the editors' golden questions expect: their title check is an error, not a warning."""
    if not path.exists():
        return set()
    expected = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            expected.add(str(json.loads(line)["expect_case"]))
        except (ValueError, KeyError, TypeError):
            continue  # reported by _check_golden
    return expected


def _check_golden(retriever: Retriever, path: Path) -> tuple[list[str], list[str]]:
    if not path.exists():
        return [], []
    failures, warnings = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question, expected = str(item["question"]), str(item["expect_case"])
        except (ValueError, KeyError, TypeError):
            failures.append(f"checks.jsonl 第 {number} 行格式错误")
            continue
        if expected not in retriever.cases:
            warnings.append(f"checks.jsonl 第 {number} 行期望的案例 {expected} 已不存在，跳过")
            continue
        query = retriever.prepare(question)
        found = {h.chunk.case_id for h in retriever.search(query, k=3, case_ids=retriever.names.find(query))}
        if expected not in found:
            failures.append(f"检查问题“{question}”未检索到期望案例 {expected}")
    return failures, warnings


def _version_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _package_version() -> str:
    try:
        return version("qa")
    except PackageNotFoundError:
        return "0+unknown"

"""The editor's lifecycle: incremental rebuilds, checks before swap, rollback, one builder at a time."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import write_case
from tests.test_determinism import version_files

from qa import build as build_module
from qa import index as store
from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import PROBE, HashingEmbedder, background_passages
from qa.errors import CorpusError, IndexCheckFailed, IndexLocked


class Counting(HashingEmbedder):
    """Counts passages embedded, to prove what an incremental build re-embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed_passages(texts, progress)


NEW_CASE = "11.重庆市测试区\n\n智慧调解平台\n\n测试区智慧调解平台上线一年,累计受理纠纷3210件,群众满意率96.5%。"


def test_only_new_cases_are_embedded_and_answer_at_once(built: Settings) -> None:
    counting = Counting()
    write_case(
        built.knowledge_dir,
        "01-test.md",
        "test-platform",
        "智慧调解平台",
        NEW_CASE,
        rank=1,
        batch='"2024年十大改革最佳实践"',  # rank 11 would be refused: a batch is a selection of ten
        aliases="[智慧调解平台]",
    )
    report = build_index(built, counting, progress=False)
    assert report.added == ["test-platform"] and not report.changed and not report.removed
    chunks = [t for t in counting.embedded if t != PROBE]  # the probe is the model fingerprint
    assert report.embedded == len(chunks) == 3
    assert all(t.startswith("智慧调解平台（") for t in chunks)
    bot = Assistant.load(settings=built, embedder=counting)
    reply = bot.ask("智慧调解平台受理了多少纠纷？")
    assert "3210件" in reply.answer and reply.citations[0].case_id == "test-platform"
    listing = bot.ask("有哪些案例？")
    assert "1. 智慧调解平台" in listing.answer and "“2024年十大改革最佳实践”共收录 1 个" in listing.answer


def test_changed_case_gets_the_new_figure(built: Settings, fake: HashingEmbedder) -> None:
    path = next(built.knowledge_dir.glob("04-*.md"))
    path.write_text(path.read_text(encoding="utf-8").replace("1714万", "1800万"), encoding="utf-8")
    report = build_index(built, fake, progress=False)
    assert report.changed == ["jingkuaiban"] and report.embedded == 1
    reply = Assistant.load(settings=built, embedder=fake).ask("警快办注册人数是多少？")
    assert "1800万" in reply.answer and "1714万" not in reply.answer


def test_deleted_case_disappears(built: Settings, fake: HashingEmbedder) -> None:
    next(built.knowledge_dir.glob("06-*.md")).unlink()
    report = build_index(built, fake, progress=False)
    assert report.removed == ["shajie-minors"]
    bot = Assistant.load(settings=built, embedder=fake)
    assert all(c.chunk.case_id != "shajie-minors" for c in bot._state.retriever.search("莎姐检察官", k=50))
    assert "莎姐" not in bot.ask("十大实践有哪些？").answer


def test_dry_run_reports_without_writing(built: Settings, fake: HashingEmbedder) -> None:
    before = store.current_version(built.index_dir)
    write_case(built.knowledge_dir, "12-x.md", "x-case", "某案例", "某案例正文。")
    report = build_index(built, fake, dry_run=True, progress=False)
    assert report.dry_run and report.added == ["x-case"] and report.chunks_after > report.chunks_before
    assert store.current_version(built.index_dir) == before


def test_broken_file_leaves_the_old_index(built: Settings, fake: HashingEmbedder) -> None:
    before = store.current_version(built.index_dir)
    (built.knowledge_dir / "99-broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        build_index(built, fake, progress=False)
    assert "99-broken.md" in info.value.user_message
    assert store.current_version(built.index_dir) == before


def test_failing_check_blocks_the_swap(built: Settings, fake: HashingEmbedder) -> None:
    before = store.current_version(built.index_dir)
    checks = built.knowledge_dir / "checks.jsonl"
    checks.write_text(json.dumps({"question": "潮汐车道拥堵减少多少", "expect_case": "jingkuaiban"}) + "\n", "utf-8")
    with pytest.raises(IndexCheckFailed) as info:
        build_index(built, fake, full=True, progress=False)
    assert "潮汐车道拥堵减少多少" in info.value.user_message
    assert store.current_version(built.index_dir) == before
    assert len(list((built.index_dir / "versions").iterdir())) == 1


def test_rollback_returns_to_the_previous_version(built: Settings, fake: HashingEmbedder) -> None:
    first = store.current_version(built.index_dir)
    path = next(built.knowledge_dir.glob("04-*.md"))
    path.write_text(path.read_text(encoding="utf-8").replace("1714万", "1800万"), encoding="utf-8")
    build_index(built, fake, progress=False)
    assert store.rollback(built.index_dir) == first
    assert store.current_version(built.index_dir) == first
    assert "1714万" in Assistant.load(settings=built, embedder=fake).ask("警快办注册人数").answer


def test_a_second_concurrent_build_is_refused(built: Settings) -> None:
    started, release = threading.Event(), threading.Event()

    class Blocking(HashingEmbedder):
        def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
            started.set()
            release.wait(10)
            return super().embed_passages(texts, progress)

    errors: list[BaseException] = []
    first = threading.Thread(target=lambda: _build_catching(built, Blocking(), errors))
    first.start()
    assert started.wait(10)
    with pytest.raises(IndexLocked) as info:
        build_index(built, HashingEmbedder(), full=True, progress=False)
    assert "另一个 `qa index` 正在运行" in info.value.user_message
    release.set()
    first.join(20)
    assert not errors
    Assistant.load(settings=built, embedder=HashingEmbedder())


def _build_catching(settings: Settings, embedder: HashingEmbedder, errors: list[BaseException]) -> None:
    try:
        build_index(settings, embedder, full=True, progress=False)
    except BaseException as exc:  # surfaced by the assertion in the test thread
        errors.append(exc)


def test_chunker_change_forces_full_rebuild(built: Settings, fake: HashingEmbedder, tmp_path: Path) -> None:
    other = Settings(**{**built.__dict__, "chunk_size": 80})
    report = build_index(other, fake, progress=False)
    assert report.full and report.embedded > 0
    assert report.embedded + report.cached == report.chunks_after  # a paragraph short enough to stay whole is cached


def _miss(case_id: str) -> Callable[..., list[tuple[str, str]]]:
    """A title check that does not find ``case_id`` (a real miss needs a real model and a crowded corpus)."""
    return lambda retriever, only: [(case_id, f"案例 {case_id} 无法通过其标题检索到")]


def test_a_title_miss_is_a_warning_and_the_version_is_published(
    settings: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "_check_titles", _miss("jingkuaiban"))
    report = build_index(settings, fake, progress=False)
    assert store.current_version(settings.index_dir) == report.version
    assert any("jingkuaiban" in w and "仍已发布" in w for w in report.warnings)


def test_a_title_miss_blocks_when_strict_or_guarded_by_a_golden_question(
    settings: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "_check_titles", _miss("jingkuaiban"))
    with pytest.raises(IndexCheckFailed):
        build_index(settings, fake, progress=False, strict=True)
    with pytest.raises(IndexCheckFailed):
        build_index(dataclasses.replace(settings, strict_build=True), fake, progress=False)
    checks = settings.knowledge_dir / "checks.jsonl"
    checks.write_text(json.dumps({"question": "警快办注册人数", "expect_case": "jingkuaiban"}) + "\n", "utf-8")
    with pytest.raises(IndexCheckFailed) as info:
        build_index(settings, fake, progress=False)
    assert "jingkuaiban" in info.value.user_message
    assert store.current_version(settings.index_dir) is None


def test_a_failed_check_keeps_every_vector_for_the_retry(settings: Settings) -> None:
    checks = settings.knowledge_dir / "checks.jsonl"
    checks.write_text(json.dumps({"question": "潮汐车道拥堵减少多少", "expect_case": "jingkuaiban"}) + "\n", "utf-8")
    first = Counting()
    with pytest.raises(IndexCheckFailed):
        build_index(settings, first, progress=False)
    checks.unlink()
    retry = Counting()
    report = build_index(settings, retry, progress=False)
    assert [t for t in retry.embedded if t != PROBE] == []  # nothing embedded twice
    assert report.embedded == 0 and report.cached == report.chunks_after
    assert len([t for t in first.embedded if t != PROBE]) == report.chunks_after + len(background_passages())
    again = dataclasses.replace(settings, index_dir=settings.index_dir.parent / "fresh")
    fresh = build_index(again, HashingEmbedder(), progress=False)
    assert version_files(settings.index_dir) == version_files(again.index_dir)  # cached vectors are the computed ones
    assert fresh.embedded == fresh.chunks_after


def test_a_killed_build_resumes_where_it_stopped(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "BATCH", 8)

    class Killed(Counting):
        def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
            if len([t for t in self.embedded if t != PROBE]) >= 16:
                raise KeyboardInterrupt
            return super().embed_passages(texts, progress)

    with pytest.raises(KeyboardInterrupt):
        build_index(settings, Killed(), progress=False)
    assert store.current_version(settings.index_dir) is None
    retry = Counting()
    report = build_index(settings, retry, progress=False)
    assert report.cached == 16 and report.embedded == report.chunks_after - 16
    background = len(background_passages())  # embedded after the passages, so the killed build never reached it
    assert len([t for t in retry.embedded if t != PROBE]) == report.embedded + background
    shards = list((settings.index_dir / "embeddings").glob("*/*.npz"))
    assert len(shards) == 1  # merged after publishing


def test_full_rebuild_reads_no_cached_vector(built: Settings) -> None:
    counting = Counting()
    report = build_index(built, counting, full=True, progress=False)
    assert report.cached == 0 and report.embedded == report.chunks_after


def test_a_case_without_unit_region_or_level_builds_and_answers(built: Settings, fake: HashingEmbedder) -> None:
    (built.knowledge_dir / "11-hat-p-2b.md").write_text(
        "---\nid: hat-p-2b\ntitle: HAT-P-2b\n分类: 系外行星\n---\nHAT-P-2b 是一颗热木星，质量约为木星的 9 倍。\n",
        "utf-8",
    )
    report = build_index(built, fake, progress=False)
    assert report.added == ["hat-p-2b"]
    bot = Assistant.load(settings=built, embedder=fake)
    hits = bot._state.retriever.search("HAT-P-2b 质量", k=3)
    assert hits[0].chunk.case_id == "hat-p-2b"
    assert bot.ask("有哪些案例？").answer

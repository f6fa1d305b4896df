"""Shared fixtures. Fast tests use the fake hashing embedder and tmp dirs only."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder

if TYPE_CHECKING:
    from tests.browser import PageOpener

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = REPO / "knowledge"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A copy of the real case files, without the editors' golden checks (tuned for the real model)."""
    target = tmp_path / "knowledge"
    target.mkdir()
    for path in KNOWLEDGE.glob("*.md"):
        if path.name != "README.md":
            shutil.copy(path, target / path.name)
    return target


@pytest.fixture
def fake() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def settings(tmp_path: Path, kb_dir: Path) -> Settings:
    return Settings(
        knowledge_dir=kb_dir,
        index_dir=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        db_path=tmp_path / "questions.sqlite3",
        # The span reader runs the real e5 encoder; fast tests keep to the fake embedder's world.
        # The default mode ("span") is tested with the real model (tests/test_span_reader.py, *_real.py).
        reader_mode="hybrid",
    )


@pytest.fixture
def built(settings: Settings, fake: HashingEmbedder) -> Settings:
    build_index(settings, fake, progress=False)
    return settings


@pytest.fixture
def bot(built: Settings, fake: HashingEmbedder) -> Iterator[Assistant]:
    yield Assistant.load(settings=built, embedder=fake)


def write_case(folder: Path, name: str, case_id: str, title: str, body: str, **extra: object) -> Path:
    """A case file as an editor would write it."""
    meta = {"id": case_id, "title": title, "unit": "测试单位", "region": "测试区", "level": "区", "source": "测试"}
    meta.update(extra)
    lines = ["---", *(f"{k}: {v}" for k, v in meta.items()), "---", "", body, ""]
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ---- browser tests (tests/browser.py is the harness) ----------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (skipped without /usr/bin/chromium).

    Not per session: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is started, so every later test that calls ``asyncio.run`` (the fuzz and
    contract tests) would fail with "cannot be called from a running event loop".
    """
    from tests.browser import launch

    with launch() as chromium:
        yield chromium


@pytest.fixture
def open_page(browser: Any) -> Iterator[PageOpener]:
    """``open_page(url, network=None, width=1280, height=900)``: a page in a fresh context, closed after the test."""
    from tests.browser import PageOpener

    opener = PageOpener(browser)
    yield opener
    opener.close()

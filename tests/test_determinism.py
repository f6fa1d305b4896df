"""Same question, same index, same answer: across hash seeds, batching, and rebuilds.

Replicas and restarts run with different ``PYTHONHASHSEED`` values, and the
server batches concurrent questions into one model call; neither may change a
reply. The replies compared are every dev question and every conversation in
``bench/`` (multi-turn included), asked in fresh processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import KNOWLEDGE, REPO

from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder, load_embedder

SEEDS = ("0", "1", "8")
# Each replay is a fresh process asking every dev and conversation question (about a minute on
# 2 cores, several when the machine is shared); pytest's default 600 s per test is too tight.
REPLAY_TIMEOUT = 1800
TIMESTAMPS = ("built_at", "version")


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = Settings.from_env(knowledge_dir=KNOWLEDGE, index_dir=tmp_path_factory.mktemp("det") / "index")
    build_index(settings, load_embedder(settings), progress=False)
    return settings.index_dir


def replay(index: Path, seed: str, *extra: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "QA_KNOWLEDGE_DIR": str(KNOWLEDGE)}
    command = [sys.executable, str(REPO / "tests" / "replay.py"), "--index", str(index), *extra]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=REPLAY_TIMEOUT)
    return done.stdout


@pytest.fixture(scope="module")
def first_seed(real_index: Path) -> str:
    return replay(real_index, SEEDS[0])


@pytest.mark.slow
@pytest.mark.timeout(REPLAY_TIMEOUT)
def test_replies_do_not_depend_on_the_hash_seed(real_index: Path, first_seed: str) -> None:
    outputs = {SEEDS[0]: first_seed} | {seed: replay(real_index, seed) for seed in SEEDS[1:]}
    rows = first_seed.splitlines()
    assert len(rows) > 300  # every dev question and conversation turn was asked
    for seed in SEEDS[1:]:
        differ = [(a, b) for a, b in zip(rows, outputs[seed].splitlines(), strict=True) if a != b]
        assert not differ, f"PYTHONHASHSEED={seed} changed {len(differ)} replies, e.g. {differ[0]}"


@pytest.mark.slow
@pytest.mark.timeout(REPLAY_TIMEOUT)
def test_batched_query_vectors_give_the_same_replies(real_index: Path, first_seed: str) -> None:
    assert replay(real_index, SEEDS[0], "--batched") == first_seed


def version_files(index_dir: Path) -> dict[str, bytes]:
    folder = (index_dir / "current").resolve()
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    manifest = json.loads(files.pop("manifest.json"))
    for key in TIMESTAMPS:
        manifest.pop(key, None)
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def test_two_builds_of_the_same_knowledge_are_byte_identical(settings: Settings, tmp_path: Path) -> None:
    again = dataclasses.replace(settings, index_dir=tmp_path / "again")
    build_index(settings, HashingEmbedder(), progress=False)
    build_index(again, HashingEmbedder(), progress=False)
    first, second = version_files(settings.index_dir), version_files(again.index_dir)
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []


@pytest.mark.slow
def test_a_real_model_rebuild_is_byte_identical(real_index: Path, tmp_path: Path) -> None:
    settings = Settings.from_env(knowledge_dir=KNOWLEDGE, index_dir=tmp_path / "index")
    build_index(settings, load_embedder(settings), progress=False)
    first, second = version_files(real_index), version_files(settings.index_dir)
    assert [name for name in first if first[name] != second[name]] == []

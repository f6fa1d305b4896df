from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qa import index as store
from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.errors import IndexCorrupt, IndexMismatch, IndexMissing


def test_round_trip_keeps_vectors_chunks_and_manifest(built: Settings, fake: HashingEmbedder) -> None:
    data = store.load_current(built.index_dir)
    manifest = data.manifest
    assert manifest["model"] == {"name": fake.name, "dim": fake.dim, "fingerprint": manifest["model"]["fingerprint"]}
    assert manifest["chunker"]["chunk_size"] == built.chunk_size
    assert set(manifest["cases"]) == {c["id"] for c in data.cases}
    assert manifest["built_at"] and manifest["qa_version"]
    assert data.vectors.shape == (len(data.chunks), fake.dim)
    np.testing.assert_allclose(np.linalg.norm(data.vectors, axis=1), 1.0, atol=1e-5)


def test_missing_index_has_a_chinese_message(settings: Settings, fake: HashingEmbedder) -> None:
    with pytest.raises(IndexMissing) as info:
        Assistant.load(settings=settings, embedder=fake)
    assert "qa index" in info.value.user_message


def test_model_mismatch_refuses_to_serve(built: Settings) -> None:
    other = HashingEmbedder(dim=128, name="other-model")
    with pytest.raises(IndexMismatch) as info:
        Assistant.load(settings=built, embedder=other)
    assert "索引由模型 fake-hashing" in info.value.user_message and "other-model" in info.value.user_message


def test_same_name_other_weights_is_a_mismatch(built: Settings) -> None:
    impostor = HashingEmbedder(dim=256)
    impostor.embed_passages = lambda texts, progress=False: -HashingEmbedder().embed_passages(texts)  # type: ignore[method-assign]
    with pytest.raises(IndexMismatch):
        Assistant.load(settings=built, embedder=impostor)


def test_corrupt_vectors_file_is_reported(built: Settings, fake: HashingEmbedder) -> None:
    folder = store.current_dir(built.index_dir)
    (folder / store.VECTORS).write_bytes(b"not a faiss index")
    with pytest.raises(IndexCorrupt):
        Assistant.load(settings=built, embedder=fake)


SLOW_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from qa.build import build_index
    from qa.config import Settings
    from qa.embedding import HashingEmbedder

    class Slow(HashingEmbedder):
        def embed_passages(self, texts, progress=False):
            print("embedding", flush=True)
            time.sleep(0.5)
            return super().embed_passages(texts)

    settings = Settings(knowledge_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))
    build_index(settings, Slow(), full=True, progress=False)
    """
)


def test_killing_a_build_leaves_the_old_index_serving(built: Settings, fake: HashingEmbedder, tmp_path: Path) -> None:
    before = store.current_version(built.index_dir)
    script = tmp_path / "slow_build.py"
    script.write_text(SLOW_BUILD, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(built.knowledge_dir), str(built.index_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "embedding"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert store.current_version(built.index_dir) == before
    bot = Assistant.load(settings=built, embedder=fake)
    assert bot.ask("警快办注册人数是多少？").grounded
    # the next build cleans up whatever the killed one left behind
    build_index(built, fake, progress=False)
    assert not list((built.index_dir / "versions").glob(".tmp-*"))


def test_manifest_is_json_with_one_hash_per_case(built: Settings) -> None:
    manifest = json.loads((store.current_dir(built.index_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert all(len(h) == 64 for h in manifest["cases"].values())
    assert manifest["counts"]["chunks"] > manifest["counts"]["cases"]

"""A persistent, content-addressed cache of passage vectors, so no passage is embedded twice.

Vectors are keyed by the model (name, dimension, fingerprint) and the exact text
the model saw. Each embedded batch is written at once, atomically, as its own
shard file under ``<index>/embeddings/<model-key>/``: a build that fails a check,
is killed or crashes keeps every batch it finished, and the next build embeds only
the passages it never embedded. After a successful publish the shards are merged
into one file holding only the passages in use.

The stored values are the float32 vectors the model returned, so a vector read
from the cache is bit-for-bit the one that was computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

FOLDER = "embeddings"
SHARD_GLOB = "shard-*.npz"
MERGED = "shard-0-merged.npz"
KEY_BYTES = 16


def text_key(text: str) -> bytes:
    """The 16-byte content address of one passage text."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


def model_key(name: str, dim: int, fingerprint: str) -> str:
    return hashlib.sha256(f"{name}\n{dim}\n{fingerprint}".encode()).hexdigest()[:16]


class VectorCache:
    """The vectors one model has computed, by passage text. Not thread-safe (builds hold the build lock)."""

    def __init__(self, index_dir: Path, name: str, dim: int, fingerprint: str) -> None:
        self.folder = index_dir / FOLDER / model_key(name, dim, fingerprint)
        self.dim = dim
        self._vectors: dict[bytes, np.ndarray] | None = None

    def _load(self) -> dict[bytes, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            for shard in sorted(self.folder.glob(SHARD_GLOB)):
                self._read(shard)
        return self._vectors

    def _read(self, shard: Path) -> None:
        assert self._vectors is not None
        try:
            with np.load(shard) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError, EOFError):
            return  # a damaged shard only costs re-embedding its passages
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or keys.shape != (len(vectors), KEY_BYTES):
            return
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors[key.tobytes()] = vector

    def __len__(self) -> int:
        return len(self._load())

    def known(self, texts: Iterable[str]) -> set[str]:
        """Which of ``texts`` have a cached vector."""
        vectors = self._load()
        return {t for t in texts if text_key(t) in vectors}

    def get(self, text: str) -> np.ndarray | None:
        return self._load().get(text_key(text))

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Remember a freshly embedded batch, on disk before returning."""
        if not len(texts):
            return
        keys = [text_key(t) for t in texts]
        rows = np.asarray(vectors, dtype=np.float32)
        self._write(keys, rows, self.folder / f"shard-{time.time_ns()}-{os.getpid()}.npz")
        cache = self._load()
        for key, vector in zip(keys, rows, strict=True):
            cache[key] = vector

    def keep_only(self, texts: Iterable[str]) -> None:
        """Merge every shard into one holding just ``texts`` (called after a successful publish)."""
        cache = self._load()
        keys = sorted({text_key(t) for t in texts} & cache.keys())
        old = [p for p in self.folder.glob("*.npz") if p.name != MERGED]
        vectors = np.stack([cache[k] for k in keys]) if keys else np.zeros((0, self.dim), dtype=np.float32)
        self._write(keys, vectors, self.folder / MERGED)
        for shard in old:  # older shards, and temporary files a killed build left behind
            shard.unlink(missing_ok=True)
        self._vectors = {k: cache[k] for k in keys}

    def _write(self, keys: list[bytes], vectors: np.ndarray, target: Path) -> None:
        """Write a shard atomically: a killed build leaves a whole shard or none."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                packed = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)
                np.savez(handle, keys=packed, vectors=vectors)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

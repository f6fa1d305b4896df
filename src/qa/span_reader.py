"""The span reader: a fine-tuned e5-small encoder marks the answer's first and last token.

Why a transformer here, when :mod:`qa.reader` scores hand-made features: the feature reader
tops out where the answer's wording differs from the question's (F1 0.455 on held-out CMRC
passages); a fine-tuned encoder reads the passage in context. It was dropped once because a
plain fine-tune cut spans mid-word and cost ~220 ms a question. Here

- the windows are short (``span_fit.MAX_LEN`` = 256 tokens, question included) and the encoder
  runs in torch's int8 kernels, as the embedder can;
- only the upper layers were trained: the word embeddings and lower layers are the embedding
  model's own, read from its folder, so the shipped file holds what training changed (int8);
- the span it marks is widened to whole words by the caller (:mod:`qa.answer.spans`), so a
  token boundary inside a word never reaches the user.

Training: ``bench/train_span_reader.py`` (seeded; see ``docs/reader.md``). A missing or damaged
file, or one trained on another base model, raises :class:`~qa.errors.ReaderMissing`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import span_fit
from .bert_embedder import BertEncoder, BertMeanEmbedder, Geometry, Int8BertEncoder, _geometry, linear_names
from .errors import ReaderMissing

DEFAULT_PATH = Path(__file__).parent / "data" / "span_reader.npz"
FORMAT = 1
MISSING = "答案抽取模型文件 {path} 缺失或损坏（{why}）：请重新获取仓库中的该文件"
MISMATCH = "答案抽取模型与嵌入模型不匹配（{why}）：请用 python bench/train_span_reader.py 重新训练"


@dataclass(frozen=True)
class Guess:
    """The reader's answer: characters ``start:end`` of the context it read."""

    start: int
    end: int
    margin: float  # the span's score minus the no-answer option's: above 0, the reader would answer


@dataclass(frozen=True)
class Window:
    """One window's context tokens: their characters in the context read, and their start and end scores."""

    starts: np.ndarray
    ends: np.ndarray
    start_scores: np.ndarray
    end_scores: np.ndarray


@dataclass(frozen=True)
class Reading:
    """What the reader saw in one context: its best span (``guess``, as :meth:`SpanReader.guess`
    returns it), the score of that span (``top``), and every window's token scores.

    Kept whole, not just the winner, so that a caller can ask how well the reader rates any stretch
    of the context (:meth:`best_within`): a sentence the rules propose is weighed by the best span the
    reader sees inside it (:mod:`qa.answer.choice`)."""

    guess: Guess
    top: float
    windows: tuple[Window, ...]

    def best_within(self, start: int, end: int) -> float | None:
        """The best score of a span (at most ``span_fit.MAX_ANSWER`` tokens) lying inside characters
        ``start:end``, over every window; None when no token lies inside."""
        best = None
        for w in self.windows:
            inside = np.flatnonzero((w.starts >= start) & (w.ends <= end))
            if not len(inside):
                continue
            s, e = w.start_scores[inside], w.end_scores[inside]
            i, j = np.arange(len(inside))[:, None], np.arange(len(inside))[None, :]
            band = (j >= i) & (j < i + span_fit.MAX_ANSWER)
            score = float(np.where(band, s[:, None] + e[None, :], -np.inf).max())
            best = score if best is None else max(best, score)
        return best


class SpanReader:
    def __init__(self, encoder: BertEncoder, head: tuple[Any, Any], tokenizer: Any, digest: str) -> None:
        self.encoder = encoder
        self.head = head
        self.tokenizer = tokenizer
        self.specials = span_fit.Specials.of(tokenizer)
        self.digest = digest

    def guess(self, question: str, context: str) -> Guess | None:
        """The best span of ``context`` for ``question`` (None for an empty context)."""
        reading = self.read(question, context)
        return reading.guess if reading is not None else None

    def read(self, question: str, context: str) -> Reading | None:
        """Every span's score in ``context`` for ``question`` (None for an empty context)."""
        import torch

        q = self.tokenizer.encode(question, add_special_tokens=False)
        c = self.tokenizer.encode(context, add_special_tokens=False)
        if not c.ids:
            return None
        windows = span_fit.encode(q.ids, c.ids, c.offsets, self.specials)
        ids, mask, _ = span_fit.tensors(windows, "cpu")
        with torch.inference_mode():
            logits = torch.nn.functional.linear(self.encoder(ids, mask), *self.head)
        start, end = logits[..., 0].numpy(), logits[..., 1].numpy()
        best = span_fit.best_spans(start, end, windows)
        row, margin = span_fit.choose(best)
        i, j = int(best[row, 0]), int(best[row, 1])
        guess = Guess(int(windows.offsets[row, i, 0]), int(windows.offsets[row, j, 1]), margin)
        return Reading(
            guess, float(best[row, 2]), tuple(_window(windows, r, start[r], end[r]) for r in range(len(best)))
        )


def _window(windows: span_fit.Windows, row: int, start: np.ndarray, end: np.ndarray) -> Window:
    lo, hi = int(windows.ctx_start[row]), int(windows.ctx_end[row])
    offsets = windows.offsets[row, lo:hi]
    return Window(offsets[:, 0].astype(np.int64), offsets[:, 1].astype(np.int64), start[lo:hi], end[lo:hi])


def load(
    model_folder: Path, path: Path = DEFAULT_PATH, int8: bool = True, shared: BertMeanEmbedder | None = None
) -> SpanReader:
    """The reader over the embedding model in ``model_folder``.

    ``shared`` is the embedder already loaded from that folder, when the caller has one: the
    reader then uses its weight table (word embeddings, lower layers) and its tokenizer (~290 MB
    for the 250,000-piece vocabulary) instead of loading them again. Without it the reader is
    loaded once per process and file version (a second ``Assistant``, or a benchmark, reuses it)."""
    try:
        stamp = path.stat()
    except OSError as exc:
        raise ReaderMissing(MISSING.format(path=path, why=type(exc).__name__)) from exc
    if shared is not None:
        return _build(model_folder, path, int8, shared.encoder.w, shared.tokenizer)
    return _load(model_folder.resolve(), path.resolve(), int8, stamp.st_mtime_ns, stamp.st_size)


@lru_cache(maxsize=2)
def _load(model_folder: Path, path: Path, int8: bool, _mtime_ns: int, _size: int) -> SpanReader:
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    weights = dict(load_file(str(model_folder / "model.safetensors")))
    return _build(model_folder, path, int8, weights, Tokenizer.from_file(str(model_folder / "tokenizer.json")))


def _build(model_folder: Path, path: Path, int8: bool, base: dict[str, Any], tokenizer: Any) -> SpanReader:
    """``tokenizer`` may truncate (at 512 tokens, as the embedder's does) and pad batches: the
    reader encodes one text at a time, and reads at most the first 512 tokens of a context."""
    stored, meta, digest = read(path)
    geometry = _geometry(json.loads((model_folder / "config.json").read_text(encoding="utf-8")))
    _check(meta, geometry, model_folder)
    geometry = replace(geometry, layers=int(meta["layers"]))  # a reader may run only the lower layers
    weights = dict(base)  # the trained layers replace the embedder's in this copy only
    trained, head = unpack(stored)
    weights.update(trained)
    if not int8:
        encoder = BertEncoder(weights, geometry)
    else:
        encoder = Int8BertEncoder(weights, geometry, per_text=True)
        for name in linear_names(geometry):  # packed now; the float copies of trained layers would cost ~57 MB
            weights.pop(name + ".weight")
    return SpanReader(encoder, head, tokenizer, digest)


def artefact_digest(path: Path = DEFAULT_PATH) -> str:
    """SHA-256 of the shipped file, recorded in each index manifest: which reader served that version."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ReaderMissing(MISSING.format(path=path, why=type(exc).__name__)) from exc


def unpack(stored: dict[str, np.ndarray]) -> tuple[dict[str, Any], tuple[Any, Any]]:
    """The trained layers as float32 tensors under the encoder's names, and the head (weight, bias)."""
    import torch

    trained = {k: torch.from_numpy(v) for k, v in span_fit.dequantise(stored).items()}
    return trained, (trained.pop("qa_head.weight"), trained.pop("qa_head.bias"))


def read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], str]:
    """The stored arrays, the metadata and the file's SHA-256; a missing or damaged file raises."""
    try:
        raw = path.read_bytes()
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            stored = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError) as exc:
        raise ReaderMissing(MISSING.format(path=path, why=type(exc).__name__)) from exc
    return stored, meta, hashlib.sha256(raw).hexdigest()


def _check(meta: dict[str, Any], geometry: Geometry, model_folder: Path) -> None:
    layers = meta.get("layers")
    if meta.get("format") != FORMAT or not isinstance(layers, int) or not 0 < layers <= geometry.layers:
        raise ReaderMissing(MISMATCH.format(why=f"format {meta.get('format')}, {meta.get('layers')} layers"))
    if meta.get("model") != model_folder.name:
        raise ReaderMissing(MISMATCH.format(why=f"trained on {meta.get('model')}, not {model_folder.name}"))


def save(path: Path, stored: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    arrays: dict[str, Any] = {"meta": np.array(json.dumps({**meta, "format": FORMAT}, ensure_ascii=False)), **stored}
    with path.open("wb") as fh:
        np.savez(fh, **arrays)

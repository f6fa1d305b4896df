"""Fine-tuning the span reader (:mod:`qa.span_reader`): windows, the trainable network, the loop.

The reader is the embedding model's own encoder (multilingual-e5-small) with a start/end head,
as in BERT's SQuAD recipe: the question and a window of the passage go in as
``<s> question </s> passage </s>``, and every token gets a start and an end score. The first
token's pair is the **no-answer option**: it wins where the window does not hold the answer,
so a refusal is learned the same way as a span. Spans are whole tokens of the passage, and the
product widens them to whole words afterwards.

Only the upper layers are trained (``first_trained`` on); the word embeddings and the lower
layers stay exactly the embedder's, so the product shares them with the embedder and the
shipped file holds only what training changed.

This module imports numpy, torch and :mod:`qa.scoring` only (no jieba, FAISS or web stack):
``bench/train_span_reader.py fit`` runs it on whatever machine trains, a CPU or a lent GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bert_embedder import PROJECTIONS, BertEncoder, Geometry, attention_mask

MAX_LEN = 256  # tokens per window, question included: what the product reads per question
MAX_QUESTION = 48
MAX_ANSWER = 40  # tokens in a span
LINEAR = tuple(p for p in PROJECTIONS if not p.endswith("LayerNorm"))


@dataclass(frozen=True)
class Specials:
    bos: int
    eos: int
    pad: int

    @staticmethod
    def of(tokenizer: Any) -> Specials:
        """The ids of ``<s>``, ``</s>`` and ``<pad>`` in a ``tokenizers`` tokenizer."""
        return Specials(*(int(tokenizer.token_to_id(t)) for t in ("<s>", "</s>", "<pad>")))


@dataclass
class Windows:
    """Encoded windows, one row each. ``offsets`` are character offsets into the example's context
    (meaningful for context tokens only); ``start``/``end`` are label tokens, 0 where the window
    does not hold the answer (the no-answer option)."""

    ids: np.ndarray
    lengths: np.ndarray
    ctx_start: np.ndarray
    ctx_end: np.ndarray
    offsets: np.ndarray
    example: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> Windows:
        return Windows(*(getattr(self, f)[rows] for f in FIELDS))

    @staticmethod
    def join(parts: Sequence[Windows]) -> Windows:
        return Windows(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


FIELDS = ("ids", "lengths", "ctx_start", "ctx_end", "offsets", "example", "start", "end")


def encode(
    question: list[int],
    context: list[int],
    offsets: list[tuple[int, int]],
    specials: Specials,
    answer: tuple[int, int] | None = None,
    example: int = 0,
) -> Windows:
    """Windows over ``context`` (token ids with character ``offsets``), half-overlapping.

    ``answer`` is a character range of the context; a window holding all of it is labelled with
    its first and last token, every other window with the no-answer option.
    """
    q = question[:MAX_QUESTION]
    room = MAX_LEN - len(q) - 3
    token_span = _token_span(offsets, answer) if answer else None
    starts = list(range(0, max(1, len(context) - room + room // 2), max(1, room // 2)))
    rows = []
    for w0 in starts:
        w1 = min(len(context), w0 + room)
        label = (0, 0)
        if token_span and w0 <= token_span[0] and token_span[1] < w1:
            label = (len(q) + 2 + token_span[0] - w0, len(q) + 2 + token_span[1] - w0)
        rows.append((w0, w1, label))
        if w1 == len(context):
            break
    return _rows(q, context, offsets, specials, rows, example)


def _rows(
    q: list[int],
    context: list[int],
    offsets: list[tuple[int, int]],
    specials: Specials,
    rows: list[tuple[int, int, tuple[int, int]]],
    example: int,
) -> Windows:
    n = len(rows)
    ids = np.full((n, MAX_LEN), specials.pad, dtype=np.int32)
    offs = np.zeros((n, MAX_LEN, 2), dtype=np.int32)
    lengths, ends, labels = np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros((n, 2), np.int32)
    first = len(q) + 2
    for r, (w0, w1, label) in enumerate(rows):
        tokens = [specials.bos, *q, specials.eos, *context[w0:w1], specials.eos]
        ids[r, : len(tokens)] = tokens
        offs[r, first : first + w1 - w0] = offsets[w0:w1]
        lengths[r], ends[r], labels[r] = len(tokens), first + w1 - w0, label
    starts = np.full(n, first, np.int32)
    return Windows(ids, lengths, starts, ends, offs, np.full(n, example, np.int32), labels[:, 0], labels[:, 1])


def _token_span(offsets: list[tuple[int, int]], answer: tuple[int, int]) -> tuple[int, int] | None:
    """The first and last token overlapping the character range ``answer``."""
    a, b = answer
    inside = [i for i, (s, e) in enumerate(offsets) if e > a and s < b]
    return (inside[0], inside[-1]) if inside else None


class SpanModel(BertEncoder):
    """The encoder (:class:`qa.bert_embedder.BertEncoder`, the served forward pass) with its
    upper layers trainable and dropout while training, and the start/end head (torch modules)."""

    def __init__(self, weights: dict[str, Any], geometry: Geometry, first_trained: int, dropout: float = 0.1) -> None:
        import torch

        weights = {k: v for k, v in weights.items() if _layer_of(k) < geometry.layers}  # the layers it runs
        trained = [k for k in weights if _layer_of(k) >= first_trained]
        self.frozen = {k: v for k, v in weights.items() if k not in trained}
        self.params = torch.nn.ParameterDict({_key(k): torch.nn.Parameter(weights[k].clone()) for k in trained})
        self.head = torch.nn.Linear(geometry.hidden, 2)
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)
        super().__init__(self._weights(), geometry)
        self.first_trained, self.rate = first_trained, dropout

    def _weights(self) -> dict[str, Any]:
        return {**self.frozen, **{k.replace("__", "."): v for k, v in self.params.items()}}

    def train(self, training: bool) -> None:
        self.dropout = self.rate if training else 0.0

    def parameters(self) -> list[Any]:
        return [*self.params.values(), *self.head.parameters()]

    def to(self, device: str) -> SpanModel:
        self.frozen = {k: v.to(device) for k, v in self.frozen.items()}
        self.params.to(device)
        self.head.to(device)
        self.w = self._weights()
        return self

    def __call__(self, ids: Any, mask: Any) -> tuple[Any, Any]:
        """Start and end scores per token, (batch, length) each."""
        import torch
        import torch.nn.functional as F

        attend = attention_mask(mask)
        with torch.no_grad():
            x = self.layers(self.embed(ids), attend, 0, self.first_trained)
        x = self.layers(x, attend, self.first_trained, self.g.layers)
        logits = F.linear(x, self.head.weight, self.head.bias).float()
        return logits[..., 0], logits[..., 1]

    def trained_weights(self) -> dict[str, np.ndarray]:
        """What training changed, in float32, under the encoder's names (the head as ``qa_head.*``)."""
        out = {k.replace("__", "."): v.detach().float().cpu().numpy() for k, v in self.params.items()}
        out["qa_head.weight"] = self.head.weight.detach().float().cpu().numpy()
        out["qa_head.bias"] = self.head.bias.detach().float().cpu().numpy()
        return out


def _key(name: str) -> str:
    return name.replace(".", "__")


def _layer_of(name: str) -> int:
    parts = name.split(".")
    return int(parts[2]) if parts[:2] == ["encoder", "layer"] else -1


# ---- training and prediction ------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    epochs: int = 6
    rate: float = 5e-5
    batch: int = 32
    warmup: float = 0.1
    seed: int = 13


def fit(
    model: SpanModel,
    windows: Windows,
    schedule: Schedule,
    device: str = "cpu",
    stop_after: int | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> None:
    """AdamW with linear warm-up and decay over ``schedule.epochs``; ``stop_after`` ends early on the
    same schedule (so an epoch count chosen on held-out data is reproduced exactly)."""
    import torch

    torch.manual_seed(schedule.seed)
    rng = np.random.default_rng(schedule.seed)
    steps_per_epoch = math.ceil(len(windows) / schedule.batch)
    total = schedule.epochs * steps_per_epoch
    optimiser = torch.optim.AdamW(model.parameters(), lr=schedule.rate, weight_decay=0.01)
    warm = max(1, int(schedule.warmup * total))
    lr = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    for epoch in range(1, (stop_after or schedule.epochs) + 1):
        model.train(True)
        order = rng.permutation(len(windows))
        for b in range(steps_per_epoch):
            loss = _loss(model, windows.take(order[b * schedule.batch : (b + 1) * schedule.batch]), device)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            lr.step()
        model.train(False)
        if on_epoch is not None:
            on_epoch(epoch)


def _loss(model: SpanModel, batch: Windows, device: str) -> Any:
    import torch
    import torch.nn.functional as F

    ids, mask, allowed = tensors(batch, device)
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        start, end = model(ids, mask)
    start, end = start.masked_fill(~allowed, -1e4), end.masked_fill(~allowed, -1e4)
    gold_start = torch.as_tensor(batch.start, dtype=torch.long, device=device)
    gold_end = torch.as_tensor(batch.end, dtype=torch.long, device=device)
    return (F.cross_entropy(start, gold_start) + F.cross_entropy(end, gold_end)) / 2


def tensors(batch: Windows, device: str) -> tuple[Any, Any, Any]:
    """Ids and mask cut to the batch's longest window, and where a label may point (the first
    token or the context)."""
    import torch

    width = int(batch.lengths.max())
    positions = np.arange(width)[None, :]
    mask = positions < batch.lengths[:, None]
    allowed = (positions == 0) | ((positions >= batch.ctx_start[:, None]) & (positions < batch.ctx_end[:, None]))
    as_t = lambda a, dtype: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    return as_t(batch.ids[:, :width], torch.long), as_t(mask, torch.long), as_t(allowed, torch.bool)


def predict(model: SpanModel, windows: Windows, device: str = "cpu", batch: int = 64) -> np.ndarray:
    """Per window, as :func:`best_spans`."""
    import torch

    out = np.zeros((len(windows), 4), dtype=np.float32)
    for b in range(0, len(windows), batch):
        part = windows.take(np.arange(b, min(b + batch, len(windows))))
        ids, mask, _ = tensors(part, device)
        with (
            torch.no_grad(),
            torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")),
        ):
            start, end = model(ids, mask)
        out[b : b + len(part)] = best_spans(start.float().cpu().numpy(), end.float().cpu().numpy(), part)
    return out


def best_spans(start: np.ndarray, end: np.ndarray, windows: Windows) -> np.ndarray:
    """Per window: the best context span of at most ``MAX_ANSWER`` tokens (first token, last token,
    score) and the no-answer option's score."""
    width = start.shape[1]
    i, j = np.arange(width)[:, None], np.arange(width)[None, :]
    band = (j >= i) & (j < i + MAX_ANSWER)
    out = np.zeros((len(start), 4), dtype=np.float32)
    for r in range(len(start)):
        inside = (np.arange(width) >= windows.ctx_start[r]) & (np.arange(width) < windows.ctx_end[r])
        scores = np.where(band & inside[:, None] & inside[None, :], start[r][:, None] + end[r][None, :], -np.inf)
        flat = int(np.argmax(scores))
        out[r] = (flat // width, flat % width, scores.flat[flat], start[r, 0] + end[r, 0])
    return out


def choose(best: np.ndarray) -> tuple[int, float]:
    """Of one example's windows (rows of :func:`best_spans`): the row whose span scores best, and
    that score minus the lowest no-answer score of any window (above 0, the reader answers).

    The product's rule (:meth:`qa.span_reader.SpanReader.guess`), shared so that training
    reports what the product does."""
    row = int(np.argmax(best[:, 2]))
    return row, float(best[row, 2] - best[:, 3].min())


# ---- the shipped file ---------------------------------------------------------


def quantise(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Matrices as int8 per row with a float32 scale each (a quarter of float32's size); vectors as
    float32. The product packs the rows for torch's int8 kernels unchanged."""
    out = {}
    for name, w in weights.items():
        if w.ndim == 2 and name.startswith("encoder."):
            scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0
            out[name + ":int8"] = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
            out[name + ":scale"] = scale.astype(np.float32)
        else:
            out[name] = w.astype(np.float32)
    return out


def dequantise(stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for key, value in stored.items():
        if key.endswith(":int8"):
            name = key[: -len(":int8")]
            out[name] = value.astype(np.float32) * stored[name + ":scale"][:, None]
        elif not key.endswith(":scale"):
            out[key] = value
    return out

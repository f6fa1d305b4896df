"""Replies are computed by the same kernels on every x86 CPU (``qa.kernels``).

torch, MKL, OpenBLAS and fbgemm pick their kernels by the CPU; an AVX-512 kernel rounds
otherwise than an AVX2 one, and the encoder's int8 activations turn a rounding into another
answer. Importing ``qa`` asks each for AVX2. Each case runs in a fresh process, because each
library looks at the CPU once; only a CPU with AVX-512 can tell the kernels apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.kernels import PINS

# One hash per library: fbgemm's int8 product, torch's softmax, numpy's BLAS product.
SCRIPT = """
import qa  # first, as every entry point does: it pins the kernels
import hashlib, numpy as np, torch
from qa.bert_embedder import linear_int8, pack_int8
digest = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]
g = torch.Generator().manual_seed(0)
weights = {"w.weight": torch.randn(384, 384, generator=g), "w.bias": torch.randn(384, generator=g)}
x = torch.randn(32, 384, generator=g) * 4  # wide activations: large products, as in the encoder
y = torch.randn(64, 500, generator=g).numpy()
print(digest(linear_int8(x, pack_int8(weights, "w")).numpy()), digest(torch.softmax(x, -1).numpy()), digest(x.numpy() @ y[:, :384].T))
"""


def cpu_flags() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.read_text() if cpuinfo.exists() else ""


def products(**chosen: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    env.update(chosen)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_importing_qa_pins_every_library_and_leaves_an_operators_choice() -> None:
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    script = "import os, qa; print([os.environ[k] for k in qa.kernels.PINS])"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(list(PINS.values()))
    env["ATEN_CPU_CAPABILITY"] = "default"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().startswith("['default'")


@pytest.mark.skipif("avx512f" not in cpu_flags(), reason="only a CPU with AVX-512 runs both kinds of kernel")
def test_every_cpu_computes_what_the_avx2_kernels_compute() -> None:
    pinned = products()
    assert pinned == products(**PINS)
    wide = products(ATEN_CPU_CAPABILITY="avx512", OPENBLAS_CORETYPE="SkylakeX", FBGEMM_ENABLE_INSTRUCTIONS="AVX512")
    assert wide[1] != pinned[1] and wide[2] != pinned[2]  # the setup tells torch's and numpy's kernels apart
    if "avx512_vnni" in cpu_flags():
        assert products(FBGEMM_ENABLE_INSTRUCTIONS="AVX512_E1")[0] != pinned[0]

"""The span reader's int8 layers compute the same numbers on every x86 CPU.

fbgemm picks its kernels by the CPU: AVX2 adds two u8 x s8 products into a saturating int16,
AVX-512 VNNI into an exact int32, so the two give other numbers, and the reader refused other
questions on another machine. ``pack_int8`` asks for the AVX2 kernels everywhere. Each case runs
in a fresh process, because fbgemm looks at the CPU once; only a CPU with VNNI runs both kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import hashlib, torch
from qa.bert_embedder import linear_int8, pack_int8
g = torch.Generator().manual_seed(0)
weights = {"w.weight": torch.randn(384, 384, generator=g), "w.bias": torch.randn(384, generator=g)}
x = torch.randn(32, 384, generator=g) * 4  # wide activations: large products, as in the encoder
print(hashlib.sha256(linear_int8(x, pack_int8(weights, "w")).numpy().tobytes()).hexdigest())
"""


def has_vnni() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.exists() and "avx512_vnni" in cpuinfo.read_text()


def product(instructions: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "FBGEMM_ENABLE_INSTRUCTIONS"}
    if instructions is not None:
        env["FBGEMM_ENABLE_INSTRUCTIONS"] = instructions
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(not has_vnni(), reason="only a CPU with AVX-512 VNNI runs both of fbgemm's kernels")
def test_the_readers_layers_take_the_kernels_every_cpu_has() -> None:
    assert product("AVX512_E1") != product("AVX2")  # the setup tells the two kernels apart
    assert product(None) == product("AVX2")

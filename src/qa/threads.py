"""The process's thread pools: torch's for the models, a single thread for numpy's BLAS.

Why one BLAS thread. A server runs the models (torch, with its OpenMP threads) and the dense
search (``vectors @ q`` in numpy, on OpenBLAS) in the same request threads, on 2 cores.
Above a few thousand passages OpenBLAS splits that product over its own workers, and after
each product they keep spinning, waiting for more work, while torch's threads need the same
cores. On ``bench/scale.py``'s 1,000-case index a span reader's read took 119 ms instead of
39 ms, and ``bench/blas_spin.py`` shows the embedder's next query at 56-65 ms instead of
20 ms. Alone, the product takes about twice as long on one thread (0.29 against 0.14 ms
for 6,973 passages); interleaved with torch, it was faster on one.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def limit_torch(threads: int) -> None:
    """Intra-op threads of each torch call (``QA_THREADS``)."""
    try:
        import torch

        torch.set_num_threads(max(1, threads))
    except ImportError:
        log.debug("torch not importable; thread limit not applied")


def limit_blas() -> None:
    """numpy's BLAS to one thread, for the whole process (see the module's docstring)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")

"""Process-level tuning for ``qa serve`` on a small machine (see docs/benchmarks.md for the figures).

The deployment target has 2 cores and a model of ~470 MB, which decides the rest:

* One worker process. A second uvicorn worker would load a second copy of the
  model and tokenizer (RSS doubles, past the 1.5 GB budget) to gain nothing for
  novel questions: the model calls already keep both cores busy, and the
  Python part of an answer takes ~3 ms.
* ``QA_THREADS`` (torch intra-op threads, default 1): :class:`qa.batching.BatchingEmbedder`
  serialises and batches the embedder's calls, and the span reader's reads run in the request
  threads beside it, so one thread each keeps the two cores busy without oversubscribing them.
* At most 2 malloc arenas. glibc gives every thread that allocates its own arena
  (up to 8 per core); with a thread pool of 40 request threads each keeping freed
  tensor memory for itself, RSS crept up by ~250 MB under a stream of novel
  questions. Two arenas halve that, and it levels off (measured, same throughput).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # from glibc's malloc.h
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for threads started from now on; False where there is no glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # musl and others have no mallopt: nothing to tune
        log.debug("mallopt unavailable; malloc arenas not limited")
        return False


__all__ = ["limit_malloc_arenas"]

"""A serving process keeps numpy's BLAS on one thread (qa.threads explains the 3x slowdown otherwise)."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from qa.assistant import Assistant
from qa.config import Settings
from qa.embedding import HashingEmbedder


def blas_threads() -> set[int]:
    return {int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_loading_an_assistant_leaves_numpy_one_blas_thread(built: Settings, fake: HashingEmbedder) -> None:
    threadpool_limits(limits=2, user_api="blas")
    assert blas_threads() == {2}  # the machine has 2 cores; the limit took, so the next check can fail
    Assistant.load(settings=built, embedder=fake)
    assert blas_threads() == {1}

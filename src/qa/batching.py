"""One model call at a time, with the questions that arrive meanwhile batched into the next.

The server answers in a thread pool. Left alone, 16 concurrent novel questions
would start 16 model calls at once, each asking torch for its own threads, on a
machine with 2 cores: the calls slow each other down and every one of them ends
late. :class:`BatchingEmbedder` instead lets one call run, collects the single
queries that arrive while it runs, and encodes them together in the next call.
A batch of 16 short questions costs little more than one (the model is small and
the questions are short), so throughput grows with load while a lone question,
with nothing to wait for, is encoded at once: there is no batching delay.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .embedder_base import Embedder

MAX_BATCH = 32  # questions per model call; more would only lengthen the wait of the first


@dataclass
class _Job:
    text: str
    done: bool = False
    vector: np.ndarray | None = None
    error: BaseException | None = None

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        assert self.vector is not None
        return self.vector[None, :]


class BatchingEmbedder:
    """Wraps an embedder: serialises its calls and batches concurrent single queries.

    One thread at a time is the leader: it runs model calls for everything queued
    until its own query is done. The others wait on a condition and return as soon
    as a batch that held their query is published, without waiting for the leader
    to finish a later batch.
    """

    def __init__(self, inner: Embedder, max_batch: int = MAX_BATCH) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_batch = max_batch
        self._pending: list[_Job] = []
        self._cond = threading.Condition()
        self._busy = False  # a model call (or a leader's run of them) is under way
        self._batches = 0  # batches of questions run so far (bulk work alternates with them)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:  # already a batch (index checks, warm-up): take turns, a slice at a time
            return self._in_turns(self.inner.embed_queries, texts)
        job = _Job(texts[0])
        with self._cond:
            self._pending.append(job)
            while self._busy and not job.done:
                self._cond.wait()
            if job.done:
                return job.result()
            self._busy = True  # no call took our query along: lead
        try:
            while not job.done:
                self._run_batch()
        finally:
            self._release()
        return job.result()

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if progress:  # `qa index` in a terminal: one call, so one progress bar (no server is waiting)
            with self._turn():
                return self.inner.embed_passages(texts, progress)
        return self._in_turns(self.inner.embed_passages, texts)

    def _in_turns(self, encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` a slice at a time, letting waiting questions in between.

        A rebuild from the admin page embeds every changed passage with the
        server's embedder; in one call, questions would wait for all of it.
        """
        parts = []
        for start in range(0, len(texts), self.max_batch):
            with self._turn(polite=True):
                parts.append(encode(texts[start : start + self.max_batch]))
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    @contextlib.contextmanager
    def _turn(self, polite: bool = False) -> Iterator[None]:
        """Hold the model. ``polite``: if questions are queued, let one batch of them go first."""
        with self._cond:
            batches = self._batches
            while self._busy or (polite and self._pending and self._batches == batches):
                self._cond.wait()
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def _run_batch(self) -> None:
        """One model call for the oldest waiting queries; only the leader calls this."""
        with self._cond:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        try:
            vectors = list(self.inner.embed_queries([job.text for job in batch]))
        except BaseException as exc:  # every waiter gets the failure, not a hang
            self._publish(batch, [None] * len(batch), exc)
            return
        self._publish(batch, vectors, None)

    def _publish(self, batch: list[_Job], vectors: Sequence[np.ndarray | None], error: BaseException | None) -> None:
        with self._cond:
            for job, vector in zip(batch, vectors, strict=True):
                job.vector, job.error, job.done = vector, error, True
            self._batches += 1
            self._cond.notify_all()


__all__ = ["BatchingEmbedder"]

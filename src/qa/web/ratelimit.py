"""Per-client rate limiting of questions (per address and per chat session), and which address "the client" is.

Every front end that answers questions (``POST /api/ask``, so also the widget;
the Gradio chat page; the Gradio ``/ask`` endpoint) goes through
:class:`~qa.web.service.ChatService`, which asks :class:`RateLimiter` first. So
one limit covers them all, and a client cannot get around it by switching front end.

The limit is a token bucket per client address: a client may ask
``QA_RATE_LIMIT`` questions in a burst, then one every ``60 / QA_RATE_LIMIT``
seconds. A bucket is cheaper than a sliding window (two numbers per client, not
one timestamp per question) and forgives a burst followed by a pause, which is
how people ask. ``QA_RATE_LIMIT=0`` turns it off (benchmarks, loopback tests).

An intranet often sends all its staff through one NAT address, and then they all
share one address bucket. :class:`ClientLimits` adds a second bucket per chat
session (the widget's and the chat page's session id, within its address):
``QA_SESSION_RATE_LIMIT`` per session, while ``QA_RATE_LIMIT`` becomes the
ceiling for the whole address and can be raised to fit the office. The session
bucket is taken first, so one person over their own limit does not use up the
address's shared budget. A session id is chosen by the client, so it is a
fairness tool, not a defence: the address limit is what bounds a client that
invents a new session per question. Requests without a session id (``curl``)
meet only the address limit.

Behind a reverse proxy every request comes from the proxy's address. The client's
own address is then read from ``X-Forwarded-For``, but only on requests whose
peer is listed in ``QA_TRUSTED_PROXIES``: anyone else could write any address
there and get a fresh bucket per request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..errors import RateLimited

MAX_CLIENTS = 100_000  # buckets kept; beyond this the least recently seen are forgotten (bounded memory)
UNKNOWN_CLIENT = "unknown"  # requests without a peer address (e.g. a Unix socket) share one bucket


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by client address; thread-safe (handlers run in a thread pool)."""

    def __init__(
        self, per_minute: int, max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = max(0, per_minute)
        self.rate = self.per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def check(self, client: str | None) -> None:
        """Take one question from ``client``'s bucket, or raise RateLimited (Chinese, with Retry-After)."""
        wait = self.take(client)
        if wait > 0:
            raise RateLimited(self.per_minute, max(1, math.ceil(wait)))

    def take(self, client: str | None) -> float:
        """0 when the question may go ahead, else the seconds until it may."""
        if not self.enabled:
            return 0.0
        key = client or UNKNOWN_CLIENT
        now = self.clock()
        with self._lock:
            bucket = self._bucket(key, now)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def __len__(self) -> int:
        return len(self._buckets)


class ClientLimits:
    """The two limits every question passes: its chat session's, then its address's."""

    def __init__(
        self,
        per_address: int,
        per_session: int,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addresses = RateLimiter(per_address, max_clients, clock)
        self.sessions = RateLimiter(per_session, max_clients, clock)

    def check(self, address: str | None, session: str | None = None) -> None:
        """RateLimited (Chinese, with Retry-After) when the session or the address has asked too often."""
        if session:
            self.sessions.check(f"{address or UNKNOWN_CLIENT} {session}")  # a session id counts within its address
        self.addresses.check(address)


def trust_proxies(app: FastAPI, proxies: tuple[str, ...]) -> None:
    """Let requests from ``proxies`` take their client address from X-Forwarded-For (no-op without proxies).

    Uvicorn's middleware does the parsing: it walks the header from the right and
    takes the first address that is not itself a trusted proxy, so a client cannot
    choose its key by sending its own X-Forwarded-For through the proxy. It also
    honours X-Forwarded-Proto, which Gradio needs to build https URLs behind TLS.
    """
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))


__all__ = ["ClientLimits", "RateLimiter", "trust_proxies"]

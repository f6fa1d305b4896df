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
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..errors import RateLimited
from .messages import error

MAX_CLIENTS = 100_000  # buckets kept; beyond this the least recently seen are forgotten (bounded memory)
UNKNOWN_CLIENT = "unknown"  # requests without a peer address (e.g. a Unix socket) share one bucket
# Requests with a body, per address, per question allowed: a chat question is one Gradio request, a like
# or a 清空对话 one or two more. Beyond this a client is sending something other than a person's chat.
REQUESTS_PER_QUESTION = 4
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class FeedbackRateLimited(RateLimited):
    """Too many likes and dislikes from one client (``QA_RATE_LIMIT`` a minute, as questions)."""

    def __init__(self, per_minute: int, retry_after: int) -> None:
        super().__init__(per_minute, retry_after)
        self.user_message = f"评价过于频繁：每分钟最多 {per_minute} 次，请 {retry_after} 秒后再试。"


class RequestRateLimited(RateLimited):
    """Too many requests with a body from one address, whatever the route."""

    def __init__(self, per_minute: int, retry_after: int) -> None:
        super().__init__(per_minute, retry_after)
        self.user_message = f"请求过于频繁：每分钟最多 {per_minute} 个请求，请 {retry_after} 秒后再试。"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by client address; thread-safe (handlers run in a thread pool)."""

    def __init__(
        self,
        per_minute: int,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
        error: Callable[[int, int], RateLimited] = RateLimited,
    ) -> None:
        self.per_minute = max(0, per_minute)
        self.error = error
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
            raise self.error(self.per_minute, max(1, math.ceil(wait)))

    def take(self, client: str | None) -> float:
        """0 when the question may go ahead, else the seconds until it may."""
        return self._take(client, consume=True)

    def peek(self, client: str | None) -> float:
        """Like :meth:`take`, without taking anything: 0 while ``client`` has a token left."""
        return self._take(client, consume=False)

    def _take(self, client: str | None, consume: bool) -> float:
        if not self.enabled:
            return 0.0
        key = client or UNKNOWN_CLIENT
        now = self.clock()
        with self._lock:
            bucket = self._bucket(key, now)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0 if consume else 0.0
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
        error: Callable[[int, int], RateLimited] = RateLimited,
    ) -> None:
        self.addresses = RateLimiter(per_address, max_clients, clock, error)
        self.sessions = RateLimiter(per_session, max_clients, clock, error)

    def check(self, address: str | None, session: str | None = None) -> None:
        """RateLimited (Chinese, with Retry-After) when the session or the address has asked too often."""
        if session:
            self.sessions.check(f"{address or UNKNOWN_CLIENT} {session}")  # a session id counts within its address
        self.addresses.check(address)


class RequestLimit:
    """A per-address budget for every request that carries a body (any route: API, Gradio, admin, closed ones).

    Questions and likes have their own, tighter limits (:class:`ClientLimits`); this one
    bounds what those do not see: malformed or unknown requests, which would otherwise
    cost a parse and perhaps a log line each, as fast as a client can send them. Refused
    with a Chinese 429 and Retry-After before the body is read.
    """

    def __init__(self, app: ASGIApp, per_minute: int, max_clients: int = MAX_CLIENTS) -> None:
        self.app = app
        self.limiter = RateLimiter(per_minute, max_clients, error=RequestRateLimited)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in BODY_METHODS and self.limiter.enabled:
            client = scope.get("client")
            try:
                self.limiter.check(client[0] if client else None)
            except RateLimited as exc:
                headers = {"retry-after": str(exc.retry_after)}
                await error(429, exc.user_message, headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def trust_proxies(app: FastAPI, proxies: tuple[str, ...]) -> None:
    """Let requests from ``proxies`` take their client address from X-Forwarded-For (no-op without proxies).

    Uvicorn's middleware does the parsing: it walks the header from the right and
    takes the first address that is not itself a trusted proxy, so a client cannot
    choose its key by sending its own X-Forwarded-For through the proxy. It also
    honours X-Forwarded-Proto, which Gradio needs to build https URLs behind TLS.
    """
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))


__all__ = ["ClientLimits", "FeedbackRateLimited", "RateLimiter", "RequestLimit", "trust_proxies"]

"""Server faults: a Chinese 500 for the client, each distinct fault's trace logged once, then counted.

A bug that a request can trigger, a request can trigger a thousand times. Logging
its ~13 KB traceback each time let a handful of crafted requests grow the service
log by megabytes. So a fault is identified by its exception type and the code
locations of its traceback (not by its message, which may carry request data):
the first occurrence is logged with its trace, later ones only count, with one
short line at the 10th, 100th, 1000th… occurrence. Distinct faults are bounded too
(:data:`MAX_KINDS`); past that, new kinds are counted together.

:class:`Faults` is the app's last line of defence (an ASGI middleware): whatever an
inner layer raises, the client gets ``500 {"error": "服务器内部错误，请稍后再试。"}``
(or nothing more, when a response was already on its way) and the fault goes to
:data:`FAULTS`. Gradio's queue prints tracebacks itself (``traceback.print_exc``);
:func:`quiet_gradio` routes those through :data:`FAULTS` as well.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .messages import INTERNAL_ERROR, error, message_for_status

log = logging.getLogger(__name__)

MAX_KINDS = 1000  # distinct faults remembered; past this they are counted under one key
OTHER = "other"


class FaultLog:
    """Counts faults by kind; logs a kind's trace the first time only. Thread-safe."""

    def __init__(self, logger: logging.Logger = log, max_kinds: int = MAX_KINDS) -> None:
        self.logger = logger
        self.max_kinds = max_kinds
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, exc: BaseException, where: str = "") -> str:
        """Note one occurrence of ``exc``; returns its kind (a short hash)."""
        kind = fault_kind(exc)
        with self._lock:
            if kind not in self._counts and len(self._counts) >= self.max_kinds:
                kind = OTHER
            count = self._counts[kind] = self._counts.get(kind, 0) + 1
        if count == 1 and kind == OTHER:
            self.logger.error(
                "more than %d distinct faults: new kinds are counted together, without traces", self.max_kinds
            )
        elif count == 1:
            self.logger.error(
                "fault %s%s: %s (its trace is logged this once; later occurrences are counted)",
                kind,
                f" in {where}" if where else "",
                type(exc).__name__,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        elif _is_power_of_ten(count):
            self.logger.warning("fault %s has occurred %d times", kind, count)
        return kind

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


FAULTS = FaultLog()  # one per process: "logged once" means once per process


def fault_kind(exc: BaseException) -> str:
    """The exception's type and where it passed through the code: the same bug gives the same kind."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = "|".join(f"{frame.filename}:{frame.lineno}" for frame in frames)
    text = f"{type(exc).__module__}.{type(exc).__qualname__}|{where}"
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:10]


def _is_power_of_ten(n: int) -> bool:
    return n >= 10 and str(n).rstrip("0") == "1"


class Faults:
    """Turns anything raised inside into a Chinese 500 (if no response started yet) and a :class:`FaultLog` entry.

    A Starlette ``HTTPException`` that escapes a layer without exception handlers
    (a middleware) is a client error: it gets its status and Chinese message, and
    no log line.
    """

    def __init__(self, app: ASGIApp, faults: FaultLog = FAULTS) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def watched(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except StarletteHTTPException as exc:
            if not started and exc.status_code < 500:
                await error(exc.status_code, message_for_status(exc.status_code))(scope, receive, send)
                return
            self._record(exc, scope)
            await self._end(scope, receive, send, started, finished)
        except Exception as exc:
            self._record(exc, scope)
            await self._end(scope, receive, send, started, finished)

    @staticmethod
    async def _end(scope: Scope, receive: Receive, send: Send, started: bool, finished: bool) -> None:
        """A Chinese 500 if nothing was sent yet; else end the response (an event stream) where it stopped."""
        if not started:
            await error(500, INTERNAL_ERROR)(scope, receive, send)
        elif not finished:
            with contextlib.suppress(Exception):  # the client may be gone already
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _record(self, exc: BaseException, scope: Scope) -> None:
        self.faults.record(exc, f"{scope.get('method', '')} {scope.get('path', '')}")


class _QuietTraceback:
    """Stands in for the ``traceback`` module inside Gradio: ``print_exc`` goes to :data:`FAULTS`."""

    def __init__(self, faults: FaultLog) -> None:
        self.faults = faults

    def print_exc(self, *args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            self.faults.record(exc, "gradio")

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)


def quiet_gradio(faults: FaultLog = FAULTS) -> None:
    """Route the tracebacks Gradio prints for failed events (queue, API calls) through ``faults``."""
    for module in _gradio_modules():
        module.traceback = _QuietTraceback(faults)  # type: ignore[attr-defined]


def _gradio_modules() -> Iterator[ModuleType]:
    import gradio.queueing
    import gradio.route_utils
    import gradio.routes
    import gradio.utils

    yield from (gradio.queueing, gradio.route_utils, gradio.routes, gradio.utils)


__all__ = ["FAULTS", "FaultLog", "Faults", "fault_kind", "quiet_gradio"]

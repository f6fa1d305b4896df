"""Gradio's routes, narrowed to what the chat page and ``gradio_client`` use, and held to the app's error contract.

Gradio serves some sixty routes for any app: uploads, audio transcoding
(``process_recording`` runs ffmpeg on what it is sent), ``component_server``,
login, direct ``run``/``call`` endpoints, streaming, monitoring… The chat page
and ``gradio_client`` need a handful (measured with both, see
``tests/test_security.py``): the page and its assets, ``/config`` and
``/gradio_api/info``, the heartbeat, and the queue (``queue/join`` to send an
event, ``queue/data`` to read its result). :class:`GradioGate` sits in front of
the Gradio app and

* answers every other route ``404 {"error": "页面不存在。"}`` before its body is read;
* checks a ``queue/join`` body (an object naming one of this page's events, with
  one value per input) and answers ``400`` in Chinese instead of letting a
  KeyError from Gradio become a 500, and answers ``queue/data`` for a session
  with nothing queued ``404`` (Gradio would start a 200 stream and break it);
* rewrites every error response Gradio makes (its English ``{"detail": …}``, its
  plain-text ``Internal Server Error``) to ``{"error": "<中文>"}`` with the same
  status (422 becomes 400), so a client never reads a trace or an English detail.

Faults that still happen inside Gradio are logged once and counted by
:mod:`qa.web.faults`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Collection

import gradio as gr
from fastapi import FastAPI
from starlette.datastructures import QueryParams
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .messages import BAD_REQUEST, MAX_BODY_BYTES, NOT_FOUND, error, message_for_status

QUEUE_DATA = "/gradio_api/queue/data"
# Exact paths and path prefixes, per method. Everything else that reaches Gradio is closed.
OPEN_GET = frozenset(
    {"/", "/config", "/config/", "/favicon.ico", "/theme.css", "/robots.txt", "/gradio_api/info", "/gradio_api/info/"}
    | {QUEUE_DATA}
)
OPEN_GET_PREFIXES = ("/assets/", "/static/", "/gradio_api/heartbeat/")
QUEUE_JOIN = "/gradio_api/queue/join"
OPEN_POST = frozenset({QUEUE_JOIN})
MAX_SESSION_HASH = 128


def is_open(method: str, path: str) -> bool:
    """Whether a request for ``path`` may reach Gradio (HEAD is served as GET by :mod:`qa.web.head`)."""
    if method in ("GET", "HEAD"):
        return path in OPEN_GET or path.startswith(OPEN_GET_PREFIXES)
    return method == "POST" and path in OPEN_POST


class GradioGate:
    """In front of the Gradio app: closed routes, checked queue requests, Chinese JSON errors."""

    def __init__(self, app: ASGIApp, blocks: gr.Blocks) -> None:
        self.app = app
        self.blocks = blocks
        self.events = page_events(blocks)  # fn_index → number of inputs, for every event of the page
        self.with_event_data = events_with_data(blocks)  # fn_index of handlers that read the event's data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        if not is_open(scope["method"], path):
            await error(404, NOT_FOUND)(scope, receive, send)
            return
        if path == QUEUE_JOIN:
            body = await _read_body(receive)
            if body is None:  # over the limit while streaming (no Content-Length)
                await error(413)(scope, receive, send)
                return
            if not valid_queue_join(body, self.events, self.with_event_data):
                await error(400, BAD_REQUEST)(scope, receive, send)
                return
            receive = _replay(body, receive)
        elif path == QUEUE_DATA and not self._has_session(scope):
            # Gradio would start a 200 event stream and then raise inside it: a broken response and a trace.
            await error(404, NOT_FOUND)(scope, receive, send)
            return
        await self.app(scope, receive, _chinese_errors(send))

    def _has_session(self, scope: Scope) -> bool:
        """Whether ``?session_hash=`` names a session with events in Gradio's queue."""
        session = QueryParams(scope.get("query_string", b"")).get("session_hash")
        pending = getattr(getattr(self.blocks, "_queue", None), "pending_messages_per_session", {})
        return bool(session) and session in pending


def valid_queue_join(body: bytes, events: dict[int, int], with_event_data: Collection[int] = ()) -> bool:
    """A JSON object naming one of the page's events, with a session, one value per input, well-typed extras.

    A handler that reads event data (a like, an example clicked) gets it as an
    object with ``index`` and ``value``, which Gradio reads before the handler runs.
    """
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return False
    if not isinstance(request, dict):
        return False
    fn_index, data, session = request.get("fn_index"), request.get("data"), request.get("session_hash")
    event_data = request.get("event_data")
    if type(fn_index) is not int or fn_index not in events:
        return False
    if fn_index in with_event_data and not (isinstance(event_data, dict) and {"index", "value"} <= set(event_data)):
        return False
    return (
        isinstance(data, list)
        and len(data) == events[fn_index]
        and isinstance(session, str)
        and 0 < len(session) <= MAX_SESSION_HASH
        and (request.get("event_data") is None or isinstance(request["event_data"], dict))
        and (request.get("trigger_id") is None or type(request["trigger_id"]) is int)
        and type(request.get("simple_format", False)) is bool
    )


def page_events(blocks: gr.Blocks) -> dict[int, int]:
    """fn_index → number of inputs, for each event handler of ``blocks`` (the chat's, and /ask)."""
    return {int(fn_id): len(fn.inputs) for fn_id, fn in blocks.fns.items()}


def events_with_data(blocks: gr.Blocks) -> set[int]:
    """fn_index of the handlers with a ``gr.EventData`` parameter (Gradio builds it from the request)."""
    needing: set[int] = set()
    for fn_id, fn in blocks.fns.items():
        try:
            parameters = inspect.signature(fn.fn).parameters.values() if fn.fn else []
        except (TypeError, ValueError):
            continue
        kinds = [p.annotation for p in parameters if inspect.isclass(p.annotation)]
        if any(issubclass(kind, gr.EventData) for kind in kinds):
            needing.add(int(fn_id))
    return needing


def install(app: FastAPI, blocks: gr.Blocks) -> None:
    """Put :class:`GradioGate` in front of the Gradio app that ``gr.mount_gradio_app`` mounted at "/"."""
    mounts = [route for route in app.router.routes if isinstance(route, Mount) and route.path == ""]
    if len(mounts) != 1:
        raise RuntimeError("expected exactly one Gradio mount at '/'")
    mounts[0].app = GradioGate(mounts[0].app, blocks)


def _route_path(scope: Scope) -> str:
    path = str(scope["path"])
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


async def _read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` (BodyLimit refuses declared sizes earlier)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over ``body`` once, then passes on what the client sends (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _chinese_errors(send: Send) -> Send:
    """Replaces the body of every error response Gradio sends with the app's Chinese JSON."""
    replacing = False

    async def rewrite(message: Message) -> None:
        nonlocal replacing
        if message["type"] == "http.response.start" and message["status"] >= 400:
            replacing = True
            status = 400 if message["status"] == 422 else int(message["status"])
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _BODY_HEADERS]
            response = error(status, message_for_status(status))
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [*kept, *[(k, v) for k, v in response.raw_headers if k.lower() in _BODY_HEADERS]],
                }
            )
            await send({"type": "http.response.body", "body": response.body, "more_body": False})
            return
        if replacing:
            return  # the original error body: dropped
        await send(message)

    return rewrite


_BODY_HEADERS: Collection[bytes] = frozenset({b"content-type", b"content-length", b"content-encoding"})


__all__ = ["OPEN_GET", "OPEN_POST", "GradioGate", "install", "is_open", "valid_queue_join"]

"""Content-Security-Policy: who may frame our pages, and what a page may load.

Two policies. The widget page (``/widget``) gets a strict one of its own, whose
``frame-ancestors`` lists exactly the portals in ``QA_ALLOWED_ORIGINS`` (or
``'self'`` when none are set). Every other response that does not bring its own
policy gets :data:`DEFAULT_POLICY`, which the Gradio chat and ``/docs`` can live
with: Gradio puts its config in an inline script and runs component snippets
with ``new Function``, so scripts need ``'unsafe-inline' 'unsafe-eval'``. That
policy does not stop an injected script from running; it stops the page from
being framed elsewhere and from talking to or loading from any other host.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# scheme://host[:port] and nothing else: a value from the environment ends up inside a
# header, so "*", a path, a ";" or a space could widen the policy or add directives.
ORIGIN = re.compile(
    r"^https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$"
)

DEFAULT_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
# The widget's own code is all in files served from here: no inline script or style at all.
WIDGET_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'"
)


def valid_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """The well-formed origins of ``origins`` (lower-cased, deduplicated); the rest are logged and dropped."""
    return _valid_origins(tuple(origins))


@functools.cache  # CORS and the widget both ask: warn about a bad entry once, not twice
def _valid_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    kept: list[str] = []
    for raw in origins:
        origin = raw.strip().rstrip("/").lower()
        if not ORIGIN.match(origin):
            log.warning(
                "QA_ALLOWED_ORIGINS: ignoring %r (expected scheme://host[:port], e.g. https://www.cq.gov.cn)", raw
            )
        elif origin not in kept:
            kept.append(origin)
    return tuple(kept)


def frame_ancestors(origins: Iterable[str]) -> str:
    """The directive naming who may frame the widget: exactly the allowlist, or only ourselves."""
    listed = valid_origins(origins)
    return "frame-ancestors " + (" ".join(listed) if listed else "'self'")


def widget_policy(origins: Iterable[str]) -> str:
    return f"{WIDGET_POLICY}; {frame_ancestors(origins)}"


class DefaultPolicy:
    """Adds :data:`DEFAULT_POLICY` to every response that has no Content-Security-Policy of its own."""

    def __init__(self, app: ASGIApp, policy: str = DEFAULT_POLICY) -> None:
        self.app = app
        self.header = (b"content-security-policy", policy.encode("ascii"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if not any(name.lower() == self.header[0] for name, _ in headers):
                    message["headers"] = [*headers, self.header]
            await send(message)

        await self.app(scope, receive, send_with_policy)

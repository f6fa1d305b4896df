"""Gradio routes this app does not use, closed.

Gradio serves ``POST /gradio_api/upload`` for file components, whether or not a
page has any, and keeps what it receives in its temp folder, where
``/gradio_api/file=`` hands it back to anyone with the path. Our chat page has no
file input, so the route only offers strangers free disk space and a file host
on our domain. It answers 404 here, before the body is read.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .api import error

CLOSED_PREFIXES = ("/gradio_api/upload", "/upload")  # upload and upload_progress; /upload is Gradio's old path
NOT_FOUND = "页面不存在。"


class ClosedRoutes:
    """Answers 404 for :data:`CLOSED_PREFIXES` (any method), so the request never reaches Gradio."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = CLOSED_PREFIXES) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/").startswith(self.prefixes):
            await error(404, NOT_FOUND)(scope, receive, send)
            return
        await self.app(scope, receive, send)


__all__ = ["ClosedRoutes"]

"""CORS with the app's error contract: a refused preflight is a Chinese ``{"error": …}``, not English text.

Starlette's ``CORSMiddleware`` decides (origin, method, headers against the
allowlist) and must stay that exact class: Gradio switches its own
origin-reflecting CORS handling off only when the parent app has it
(``middleware.cls is CORSMiddleware``). So :class:`CorsRefusals` sits just outside
it and rewrites its refusals ("Disallowed CORS origin, method") into one Chinese
sentence naming what was refused, so the operator of a portal learns which
setting to ask for (``QA_ALLOWED_ORIGINS``).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .messages import error

PREFIX = b"Disallowed CORS"
PARTS = {
    "origin": "来源网站不在 QA_ALLOWED_ORIGINS 允许的列表中",
    "method": "请求方法不允许（仅 GET、HEAD、POST）",
    "headers": "请求头不允许（仅 Content-Type）",
    "private-network": "不允许来自公网页面的内网访问",
}


def refusal(failures: list[str]) -> str:
    """One Chinese sentence naming everything the preflight asked for and did not get."""
    reasons = "；".join(PARTS.get(part, part) for part in failures) or "请求不符合跨域规则"
    return f"跨域请求被拒绝：{reasons}。"


class CorsRefusals:
    """Rewrites the body of a refused CORS preflight (400, plain text) as ``{"error": "跨域请求被拒绝：…"}``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or scope["method"] != "OPTIONS" or "access-control-request-method" not in headers:
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 400:
                start = message  # held until the body shows whether it is CORS's refusal
                return
            if start is not None and message["type"] == "http.response.body":
                body = bytes(message.get("body", b""))
                if body.startswith(PREFIX):
                    failures = [p.strip() for p in body[len(PREFIX) :].decode("latin-1").split(",") if p.strip()]
                    kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in _BODY_HEADERS]
                    response = error(400, refusal(failures))
                    start = {**start, "headers": [*kept, *response.raw_headers]}
                    message = {"type": "http.response.body", "body": response.body, "more_body": False}
                await send(start)
                start = None
            await send(message)

        await self.app(scope, receive, rewrite)


_BODY_HEADERS = frozenset({b"content-type", b"content-length"})

__all__ = ["CorsRefusals", "refusal"]

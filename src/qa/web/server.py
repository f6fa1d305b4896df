"""One FastAPI app serving everything: REST API, offline API docs, and the Gradio chat at "/".

Order matters: middleware first, then the API routes, and the Gradio app mounted
at "/" last, because a mount at "/" takes every path not matched before it.
Further routers (the embeddable widget) belong between the API and the mount.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr
import swagger_ui_bundle
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import index as store
from ..assistant import Assistant
from ..config import Settings
from ..errors import QAError
from ..qlog import QuestionLog
from . import admin, api, csp, faults, guard, logs, ratelimit, runtime, ui, widget, workbench
from .cors import CorsRefusals
from .head import HeadAsGet
from .options import WebOptions
from .service import ChatService
from .watcher import IndexWatcher

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
}
DOCS_STATIC = "/docs-static"


class SecurityHeaders:
    """Adds headers every response should carry; never overrides one a route set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    assistant: Assistant, settings: Settings, qlog: QuestionLog | None = None, options: WebOptions | None = None
) -> FastAPI:
    """The whole web app around one loaded assistant (tests pass their own); ``options`` default to QA_* env."""
    qlog = qlog or QuestionLog(settings.db_path, log_ip=settings.log_ip)
    service = ChatService(assistant, qlog, settings, options or WebOptions.from_env())
    watcher = IndexWatcher(assistant, settings.reload_seconds)
    app = FastAPI(
        title="重庆政法改革最佳实践问答 API",
        version=_version(),
        description='基于知识库的中文问答接口。所有错误返回 `{"error": "中文说明"}`。另见 Gradio 端点 `/ask`（gradio_client）。',
        docs_url=None,  # served below from local files: FastAPI's default pulls Swagger UI from a CDN
        redoc_url=None,
        lifespan=_lifespan(qlog, watcher),
    )
    app.state.service = service
    app.state.watcher = watcher
    _add_middleware(app, settings)
    ratelimit.trust_proxies(app, settings.trusted_proxies)  # the client address the rate limit keys on
    api.install_error_handlers(app)
    app.state.rebuilder = admin.install(app, assistant, settings)  # before the /api catch-all in api's router
    app.include_router(api.build_router(service))
    _add_docs(app)
    app.include_router(widget.build_router(settings))  # /embed.js and /widget, before the mount at "/"
    blocks = ui.build_ui(service)
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        theme=ui.theme(),
        css=ui.CSS,
        footer_links=["api"],
        run_history=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        show_error=False,  # a bug's message stays in the server log; gr.Error (Chinese) is still shown
        server_name=settings.host,
        server_port=settings.port,
    )
    guard.install(app, blocks)  # only the routes the chat and gradio_client use; Chinese JSON errors
    faults.quiet_gradio()  # Gradio's own printed tracebacks: logged once per fault, then counted
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Security headers, one error contract, limits on every request body, and CORS only for the configured origins.

    From the outside in: HEAD as GET, the default CSP, security headers, then
    :class:`~qa.web.faults.Faults` (any exception inside becomes a Chinese 500,
    its trace logged once), CORS (so the limits' refusals carry CORS headers too),
    the per-address budget for requests with a body, and the 64 KB body limit — on
    every route, Gradio's included.

    Gradio answers cross-origin requests itself unless the parent app has its own
    CORSMiddleware, and on a non-localhost host it reflects any Origin. Adding an
    explicit (by default empty) allowlist switches that off. Malformed allowlist entries
    (such as "*") are dropped first. Pages without a CSP of their own get the default one.
    """
    # Innermost: every path, before any route reads a body; the admin's document import may send more.
    larger = {workbench.IMPORT_PATH: workbench.MAX_DOCUMENT_BYTES} if settings.admin_token else {}
    app.add_middleware(api.BodyLimit, larger=larger)
    per_minute = settings.rate_limit_per_minute * ratelimit.REQUESTS_PER_QUESTION
    app.add_middleware(ratelimit.RequestLimit, per_minute=per_minute)
    app.add_middleware(
        CORSMiddleware,  # this very class: Gradio turns its own CORS handling off only for it
        allow_origins=list(csp.valid_origins(settings.allowed_origins)),
        allow_methods=["GET", "HEAD", "POST"],
        allow_headers=["content-type"],
        allow_credentials=False,
    )
    app.add_middleware(CorsRefusals)  # a refused preflight in Chinese JSON
    app.add_middleware(faults.Faults)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(csp.DefaultPolicy)  # routes with their own policy (/widget, /admin) keep it
    app.add_middleware(HeadAsGet)  # outermost: HEAD gets exactly GET's headers, from every layer above


def _add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files of the swagger-ui-bundle package: works offline."""
    app.mount(DOCS_STATIC, StaticFiles(directory=Path(str(swagger_ui_bundle.swagger_ui_path))), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - 文档",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
        )


def _lifespan(qlog: QuestionLog, watcher: IndexWatcher) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher.start()  # hot reload: picks up what `qa index` publishes, without a restart
        yield
        watcher.stop()
        qlog.close()  # write what is still queued before the process exits

    return lifespan


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qa")
    except PackageNotFoundError:
        return "0"


def serve(settings: Settings) -> None:
    """Load the index once and serve until interrupted (``qa serve``, ``python app.py``).

    A missing or unusable index (or model) ends the process with its Chinese
    message and exit code 1, not a traceback, whichever of the two started it.
    """
    logs.configure()
    runtime.limit_malloc_arenas()  # before any thread starts: see runtime.py
    try:
        admin.check_token(settings)  # configuration first: before the slow model load, not after it
        store.current_dir(settings.index_dir)
        assistant = Assistant.load(settings=settings)
        app = create_app(assistant, settings)
    except QAError as exc:
        print(f"错误：{exc.user_message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print(f"问答服务已启动：http://{settings.host}:{settings.port}  （接口文档：/docs）", flush=True)
    if settings.admin_token:
        print(f"知识库管理页面：http://{settings.host}:{settings.port}/admin", flush=True)
    # One worker: each process holds its own ~470 MB model (see docs/benchmarks.md). proxy_headers off:
    # X-Forwarded-For is trusted only from QA_TRUSTED_PROXIES (ratelimit.trust_proxies), not from any local peer.
    uvicorn.run(app, host=settings.host, port=settings.port, workers=1, log_level="info", proxy_headers=False)


__all__ = ["create_app", "serve"]

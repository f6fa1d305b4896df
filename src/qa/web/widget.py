"""The embeddable widget: ``/embed.js`` for portals, and ``/widget``, the compact chat it frames.

A portal pastes one ``<script src=".../embed.js">``; that script draws a chat
bubble in a Shadow DOM and, when opened, an iframe of ``/widget``. The widget
page is plain HTML + JS (no Gradio) that talks to ``POST /api/ask`` on its own
origin, so CORS never comes into it; who may frame it is decided by the
``frame-ancestors`` of its Content-Security-Policy (see :mod:`qa.web.csp`).

The files live in ``qa/web/static``. The widget page refers to its script and
stylesheet with a content hash (``?v=…``), so those can be cached for a year
while the page itself is revalidated on every load.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Settings
from . import csp
from .ui import DESCRIPTION, EXAMPLES, PLACEHOLDER, TITLE

JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
HTML = "text/html; charset=utf-8"
# Portals cannot version the snippet's URL, so embed.js must stay short-lived to let updates through.
EMBED_CACHE = "public, max-age=600"
ASSET_CACHE = "public, max-age=31536000, immutable"  # requested with ?v=<content hash>
PAGE_CACHE = "no-cache"  # the page carries the CSP, which follows QA_ALLOWED_ORIGINS
ASSETS = {"widget.js": JS, "widget.css": CSS}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    cache: str

    @property
    def version(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:16]

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def build_router(settings: Settings) -> APIRouter:
    """``GET /embed.js``, ``GET /widget`` and the widget's two files, bound to one allowlist."""
    router = APIRouter(include_in_schema=False)
    assets = {name: Asset(_static(name), media, ASSET_CACHE) for name, media in ASSETS.items()}
    embed = Asset(_static("embed.js"), JS, EMBED_CACHE)
    page = Asset(widget_page(assets).encode("utf-8"), HTML, PAGE_CACHE)
    page_headers = {"content-security-policy": csp.widget_policy(settings.allowed_origins)}
    # Loaded by other sites' pages; lets a portal that isolates itself (COEP) still use it.
    embed_headers = {"cross-origin-resource-policy": "cross-origin"}

    @router.get("/embed.js")
    def embed_js(request: Request) -> Response:
        return _send(embed, request, embed_headers)

    @router.get("/widget")
    def widget(request: Request) -> Response:
        return _send(page, request, page_headers)

    @router.get("/widget/{name}")
    def widget_asset(name: str, request: Request) -> Response:
        if name not in assets:
            raise StarletteHTTPException(404)
        return _send(assets[name], request)

    return router


def widget_page(assets: dict[str, Asset]) -> str:
    """The widget's HTML, with the example questions and hashed asset URLs filled in (all escaped)."""
    template = _static("widget.html").decode("utf-8")
    values = {
        "TITLE": html.escape(TITLE),
        "DESCRIPTION": html.escape(DESCRIPTION),
        "PLACEHOLDER": html.escape(PLACEHOLDER),
        "EXAMPLES": examples_html(EXAMPLES),
        "JS": f"widget/widget.js?v={assets['widget.js'].version}",
        "CSS": f"widget/widget.css?v={assets['widget.css'].version}",
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def examples_html(questions: Sequence[str]) -> str:
    return "".join(f'<li><button type="button" class="qa-example">{html.escape(q)}</button></li>' for q in questions)


def _send(asset: Asset, request: Request, extra: dict[str, str] | None = None) -> Response:
    """The asset, or 304 when the browser already holds this version."""
    headers = {"cache-control": asset.cache, "etag": asset.etag, **(extra or {})}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _static(name: str) -> bytes:
    return resources.files("qa.web").joinpath("static", name).read_bytes()


__all__ = ["build_router"]

"""The widget's routes, CSP and CORS through FastAPI's TestClient (the browser side is test_widget_browser.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources

import pytest
from fastapi.testclient import TestClient
from tests.webapp import build_web_index

from qa.assistant import Assistant
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.qlog import QuestionLog
from qa.web import csp
from qa.web.server import create_app

PORTAL = "https://portal.example.gov"
EVIL = "https://evil.example"
QUESTION = {"question": "警快办有多少人注册？"}
PREFLIGHT = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_web_index(tmp_path_factory.mktemp("widget"), with_xss_case=False)


@pytest.fixture(scope="module")
def assistant(web_settings: Settings) -> Assistant:
    return Assistant.load(settings=web_settings, embedder=HashingEmbedder())


def client_for(assistant: Assistant, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(assistant, settings, QuestionLog(settings.db_path))) as client:
        yield client


@pytest.fixture(scope="module")
def listed(assistant: Assistant, web_settings: Settings) -> Iterator[TestClient]:
    """An app whose allowlist holds one portal, plus entries that must be ignored, as an operator might type them."""
    origins = (
        f"{PORTAL}/",
        "*",
        "https://x.example/path",
        "https://a.example; script-src *",
        "HTTPS://Second.Example:8443",
    )
    yield from client_for(assistant, replace(web_settings, allowed_origins=origins))


@pytest.fixture(scope="module")
def unlisted(assistant: Assistant, web_settings: Settings) -> Iterator[TestClient]:
    """An app with no allowlist (the default)."""
    yield from client_for(assistant, web_settings)


def directive(policy: str, name: str) -> str:
    [found] = [d.strip() for d in policy.split(";") if d.strip().startswith(name + " ")]
    return found


# ---- /embed.js -----------------------------------------------------------------------


def test_embed_js_is_javascript_cached_briefly_and_revalidated(unlisted: TestClient) -> None:
    response = unlisted.get("/embed.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=600"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "attachShadow" in response.text
    etag = response.headers["etag"]
    again = unlisted.get("/embed.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def test_widget_code_loads_nothing_from_elsewhere_and_never_parses_html() -> None:
    static = resources.files("qa.web").joinpath("static")
    for name in ("embed.js", "widget.js", "widget.html", "widget.css"):
        text = static.joinpath(name).read_text(encoding="utf-8")
        urls = set(re.findall(r"https?://[^\s\"')]+", text))
        # The only URLs allowed: the SVG namespace (an identifier, never fetched) and the snippet in a comment.
        assert urls <= {"http://www.w3.org/2000/svg", "https://QA-HOST/embed.js"}, (name, urls)
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, (name, sink)


# ---- /widget -------------------------------------------------------------------------


def test_widget_may_be_framed_only_by_the_listed_portals(listed: TestClient) -> None:
    response = listed.get("/widget")
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    # The malformed entries are dropped, the rest normalised; nothing else can sneak into the header.
    assert directive(policy, "frame-ancestors") == f"frame-ancestors {PORTAL} https://second.example:8443"
    assert "script-src *" not in policy and directive(policy, "script-src") == "script-src 'self'"
    assert directive(policy, "default-src") == "default-src 'none'"
    assert "x-frame-options" not in response.headers  # would contradict frame-ancestors in old browsers
    assert response.headers["cache-control"] == "no-cache"


def test_widget_without_an_allowlist_may_be_framed_only_by_this_app(unlisted: TestClient) -> None:
    policy = unlisted.get("/widget").headers["content-security-policy"]
    assert directive(policy, "frame-ancestors") == "frame-ancestors 'self'"


def test_widget_page_has_no_inline_code_and_hashed_assets(unlisted: TestClient) -> None:
    page = unlisted.get("/widget").text
    assert "<style" not in page and " style=" not in page and "<script>" not in page  # CSP allows neither
    assert "“警快办”注册人数有多少？" in page and "{{" not in page
    for path, media in (("widget/widget.js", "text/javascript"), ("widget/widget.css", "text/css")):
        [url] = re.findall(rf'"({path}\?v=[0-9a-f]{{16}})"', page)
        asset = unlisted.get("/" + url)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert unlisted.get("/widget/embed.py").status_code == 404


# ---- CORS ----------------------------------------------------------------------------


def test_listed_portal_may_call_the_api(listed: TestClient) -> None:
    preflight = listed.options("/api/ask", headers={"origin": PORTAL, **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == PORTAL
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers
    simple = listed.post("/api/ask", json=QUESTION, headers={"origin": PORTAL})
    assert simple.status_code == 200 and simple.headers["access-control-allow-origin"] == PORTAL
    assert "Origin" in simple.headers["vary"]


@pytest.mark.parametrize("origin", [EVIL, "null", f"{PORTAL}.evil.example", "http://portal.example.gov"])
def test_other_origins_are_never_echoed(listed: TestClient, unlisted: TestClient, origin: str) -> None:
    for client in (listed, unlisted):
        preflight = client.options("/api/ask", headers={"origin": origin, **PREFLIGHT})
        assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers
        simple = client.post("/api/ask", json=QUESTION, headers={"origin": origin})
        assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


def test_the_star_entry_does_not_open_cors_to_everyone(listed: TestClient) -> None:
    response = listed.get("/api/health", headers={"origin": EVIL})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("path", ["/", "/config", "/gradio_api/info", "/gradio_api/queue/join", "/widget", "/embed.js"])
def test_gradio_routes_do_not_echo_arbitrary_origins(unlisted: TestClient, path: str) -> None:
    # Gradio's own CORS middleware reflects any Origin when the Host is not localhost.
    headers = {"origin": EVIL, "host": "qa.example.gov"}
    for response in (
        unlisted.get(path, headers=headers),
        unlisted.options(path, headers={**headers, **PREFLIGHT}),
    ):
        assert "access-control-allow-origin" not in response.headers, (path, response.headers)
        assert "access-control-allow-credentials" not in response.headers


# ---- the page-wide policy ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/docs", "/api/health"])
def test_other_pages_get_the_default_policy(unlisted: TestClient, path: str) -> None:
    policy = unlisted.get(path).headers["content-security-policy"]
    assert policy == csp.DEFAULT_POLICY
    assert directive(policy, "frame-ancestors") == "frame-ancestors 'self'"
    assert directive(policy, "connect-src") == "connect-src 'self'"


def test_valid_origins_normalises_and_drops_what_is_not_an_origin() -> None:
    given = [
        " https://Portal.Example.GOV/ ",
        "https://portal.example.gov",
        "http://127.0.0.1:8080",
        "http://[::1]:9000",
    ]
    bad = [
        "*",
        "portal.example.gov",
        "ftp://x.example",
        "https://x.example/path",
        "https://a b",
        "https://x.example:1:2",
    ]
    assert csp.valid_origins(given + bad) == (
        "https://portal.example.gov",
        "http://127.0.0.1:8080",
        "http://[::1]:9000",
    )
    assert csp.frame_ancestors([]) == "frame-ancestors 'self'"


def test_a_bad_entry_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="qa.web.csp"):
        for _ in range(2):  # CORS and the widget each read the list
            assert csp.valid_origins(["https://ok.example", "https://once.example/path"]) == ("https://ok.example",)
    assert [r.getMessage() for r in caplog.records if "once.example" in r.getMessage()] == [
        "QA_ALLOWED_ORIGINS: ignoring 'https://once.example/path' (expected scheme://host[:port], e.g. https://www.cq.gov.cn)"
    ]


# ---- HEAD: `curl -I` tells the truth ----------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/widget", "/embed.js", "/widget/widget.css", "/api/health", "/", "/docs", "/openapi.json", "/nowhere"]
)
def test_head_answers_like_get_without_a_body(listed: TestClient, path: str) -> None:
    get, head = listed.get(path), listed.head(path)
    assert head.status_code == get.status_code
    assert head.content == b""
    different = {
        name for name in set(get.headers) | set(head.headers) if get.headers.get(name) != head.headers.get(name)
    }
    assert different <= {"date"}, {name: (get.headers.get(name), head.headers.get(name)) for name in different}


def test_head_on_the_widget_shows_the_allowlist(listed: TestClient) -> None:
    policy = listed.head("/widget").headers["content-security-policy"]  # what the embed.md check reads
    assert directive(policy, "frame-ancestors") == f"frame-ancestors {PORTAL} https://second.example:8443"

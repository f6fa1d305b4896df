"""Headers on every page, no file served from outside the app's assets, no secrets or questions in error pages."""

from __future__ import annotations

import re
import socket
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from tests.webapp import build_web_index, live_server

from qa.config import Settings

SECRET_TOKEN = "tok-9f8e7d6c5b4a-SECRET"
SECRET_FILE_TEXT = "QA-SECRET-FILE-CONTENT-31415"
QUESTION_MARK = "独一无二的提问标记QX42"
REPO_ROOT = Path(__file__).resolve().parents[1]
LEAKS = [
    b"root:x:0:0",
    SECRET_FILE_TEXT.encode(),
    SECRET_TOKEN.encode(),
    b"[project]",
    b"format_version",
    b"SQLite format",
]


@dataclass
class Site:
    url: str
    port: int
    root: Path
    settings: Settings

    def raw(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """Send ``path`` byte for byte: httpx would normalise the "../" this test is about."""
        request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(request.encode("latin-1"))
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("security")
    settings = replace(build_web_index(root, with_xss_case=False), admin_token=SECRET_TOKEN)
    (root / "secret.txt").write_text(SECRET_FILE_TEXT, encoding="utf-8")
    with live_server(settings) as live:
        port = int(live.url.rstrip("/").rsplit(":", 1)[1])
        yield Site(live.url, port, root, settings)


def traversal_paths(root: Path, settings: Settings) -> list[str]:
    targets = [
        "/etc/passwd",
        str(root / "secret.txt"),
        str(settings.db_path),
        str(root / "index" / "current" / "manifest.json"),
    ]
    paths = [f"/gradio_api/file={t}" for t in targets] + [f"/file={t}" for t in targets]
    paths += [
        "/file=../../../../etc/passwd",
        "/gradio_api/file=../../../../../etc/passwd",
        "/gradio_api/file=..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/file=%2fetc%2fpasswd",
        "/gradio_api/file=/proc/self/environ",
        "/gradio_api/file=pyproject.toml",  # relative to the working directory: the repository
        "/gradio_api/file=src/qa/config.py",
        "/gradio_api/file=http://169.254.169.254/latest/meta-data/",  # SSRF: must not be fetched
        "/gradio_api/proxy=http://127.0.0.1:1/",
        "/docs-static/../../../../etc/passwd",
        "/docs-static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/docs-static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/docs-static/%2e%2e%2f%2e%2e%2fswagger_ui_bundle%2f__init__.py",
        "/widget/..%2f..%2fserver.py",
        "/widget/%2e%2e%2f%2e%2e%2fconfig.py",
        "/widget/../../etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/static/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/../../../../etc/passwd",
        "/embed.js/../../etc/passwd",
    ]
    return paths


def test_no_route_serves_files_from_outside_the_app(site: Site) -> None:
    for path in traversal_paths(site.root, site.settings):
        status, _, body = site.raw(path)
        assert 400 <= status < 500, f"{path}: {status}"
        assert not [leak for leak in LEAKS if leak in body], f"{path} leaked: {body[:200]!r}"


def test_the_file_upload_route_is_closed(site: Site) -> None:
    """No component takes files, so Gradio's upload must not turn the server into a file host."""
    for path in ("/gradio_api/upload", "/gradio_api/upload?upload_id=x", "/gradio_api/upload_progress", "/upload"):
        response = httpx.post(
            site.url + path.lstrip("/"), files={"files": ("a.html", b"<script>1</script>")}, trust_env=False
        )
        assert response.status_code == 404, path
        assert response.json() == {"error": "页面不存在。"}


def test_gradio_requests_have_a_size_limit_too(site: Site) -> None:
    huge = {"data": ["x" * 200_000, []], "fn_index": 0, "session_hash": "abc"}
    response = httpx.post(site.url + "gradio_api/queue/join", json=huge, trust_env=False)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/health",
        "/docs",
        "/docs-static/swagger-ui.css",
        "/openapi.json",
        "/widget",
        "/embed.js",
        "/config",
        "/gradio_api/info",
        "/api/nope",
        "/no-such-page",
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/upload",
        "/static/../x",
    ],
)
def test_every_response_carries_the_security_headers(site: Site, path: str) -> None:
    _, headers, _ = site.raw(path)
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "same-origin", path


def test_error_pages_show_neither_secrets_nor_the_question(site: Site) -> None:
    too_long = QUESTION_MARK * 100
    responses = [
        httpx.post(site.url + "api/ask", json={"question": too_long}, trust_env=False),
        httpx.post(site.url + "api/ask", json={"question": QUESTION_MARK, "history": "x"}, trust_env=False),
        httpx.post(site.url + "api/ask", content=f'{{"question": "{QUESTION_MARK}"'.encode(), trust_env=False),
        httpx.post(site.url + "api/ask", json={"question": QUESTION_MARK + "x" * 70_000}, trust_env=False),
        httpx.post(site.url + "api/feedback", json={"id": QUESTION_MARK, "liked": True}, trust_env=False),
        httpx.get(site.url + "api/admin/status", headers={"authorization": f"Bearer {SECRET_TOKEN}x"}, trust_env=False),
        httpx.get(site.url + f"no-such-page?q={QUESTION_MARK}", trust_env=False),
    ]
    for response in responses:
        assert response.status_code >= 400
        assert QUESTION_MARK not in response.text and SECRET_TOKEN not in response.text
        assert "Traceback" not in response.text


def test_the_run_history_routes_are_off(site: Site) -> None:
    """CVE-2026-134825 (Gradio 6.27 to 6.31): the run-history routes trust a forged Host: localhost.

    No fixed release exists yet; the routes exist only with run_history on, and server.py turns it off.
    """
    routes = [("GET", "/gradio_api/runs"), ("POST", "/gradio_api/run-history/connect")]
    for method, path in [
        *routes,
        ("GET", "/gradio_api/run-history/buckets"),
        ("GET", "/gradio_api/run-history/records"),
    ]:
        status, _, _ = site.raw(path, method)
        assert status in (404, 405), path


def test_gradio_is_a_release_with_the_published_fixes() -> None:
    """docs/security.md lists the advisories; the installed release and the pin in pyproject.toml must clear them."""
    spec = next(
        d
        for d in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("gradio")
    )
    lower = re.search(r">=\s*([\d.]+)", spec)
    assert lower and _release(lower.group(1)) >= (6, 20, 0), spec
    assert _release(version("gradio")) >= _release(lower.group(1))


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

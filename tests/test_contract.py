"""One error contract on every route, Gradio's included (issue 12): replayed against a live server.

Each request below once got a plain-text 500 with a 13 KB traceback in the log, was read
past the body limit, or reached a Gradio route the app does not use. Now: a client error
is a 4xx with ``{"error": <中文>}``; a server fault a 500 of the same shape; each distinct
fault's trace is logged once and then counted; requests with a body are limited.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr
import httpx
import pytest
from fastapi.testclient import TestClient
from tests.webapp import Live, build_web_index, live_server

from qa.assistant import Assistant
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.qlog import QuestionLog
from qa.web import faults, server
from qa.web.admin import FAILURES_PER_MINUTE, MIN_TOKEN_CHARS, AdminTokenTooShort
from qa.web.guard import GradioGate, is_open
from qa.web.messages import MAX_BODY_BYTES
from qa.web.ratelimit import REQUESTS_PER_QUESTION
from qa.web.server import create_app

CJK = re.compile(r"[\u4e00-\u9fff]")
TOKEN = "contract-admin-token-0123456789"
TRACE_MARKERS = ("Traceback", 'File "', "Error:", "Exception")
REPEATS = 20
CLIENT_LOGGERS = ("httpx", "httpcore", "hpack")
LOG_BUDGET = 64 * 1024  # bytes of log for all the replays together (was ~13 KB per request)


@dataclass(frozen=True)
class Replay:
    name: str
    method: str
    path: str
    kwargs: dict[str, Any]


def replays() -> list[Replay]:
    """Every request the issue lists, and their neighbours."""
    multipart = {"files": {"x": (None, "1")}}
    return [
        Replay("component_server multipart", "POST", "gradio_api/component_server", multipart),
        Replay(
            "component_server unknown id",
            "POST",
            "gradio_api/component_server",
            {"json": {"component_id": 999_999, "fn_name": "x", "data": None, "session_hash": "s"}},
        ),
        Replay(
            "queue/join unknown fn_index",
            "POST",
            "gradio_api/queue/join",
            {"json": {"data": ["x"], "fn_index": 999_999, "session_hash": "s"}},
        ),
        Replay("queue/join not an object", "POST", "gradio_api/queue/join", {"json": ["x"]}),
        Replay("queue/join broken JSON", "POST", "gradio_api/queue/join", {"content": b'{"data": ['}),
        Replay(
            "queue/join wrong arity",
            "POST",
            "gradio_api/queue/join",
            {"json": {"data": [], "fn_index": 0, "session_hash": "s"}},
        ),
        Replay("call/v2/ask", "POST", "gradio_api/call/v2/ask", {"json": {"data": ["x"]}}),
        Replay("call/ask", "POST", "gradio_api/call/ask", {"json": {"data": ["x"]}}),
        Replay("run/ask", "POST", "gradio_api/run/ask", {"json": {"data": ["x"]}}),
        Replay("run/ask invalid question", "POST", "gradio_api/run/ask", {"json": {"data": ["", []]}}),
        Replay("api/ask (Gradio's old path)", "POST", "gradio_api/api/ask", {"json": {"data": ["x"]}}),
        Replay("process_recording", "POST", "gradio_api/process_recording", multipart),
        Replay("login (auth off)", "POST", "login", {"data": {"username": "a", "password": "b"}}),
        Replay("login/", "POST", "login/", {"data": {"username": "a", "password": "b"}}),
        Replay("upload", "POST", "gradio_api/upload", multipart),
        Replay("reset", "POST", "gradio_api/reset", {"json": {"session_hash": "s", "fn_index": 0}}),
        Replay("cancel", "POST", "gradio_api/cancel", {"json": {"session_hash": "s", "fn_index": 0, "event_id": "e"}}),
        Replay("stream", "POST", "gradio_api/stream/e", {"json": {}}),
        Replay("file=", "GET", "gradio_api/file=/etc/passwd", {}),
        Replay("monitoring", "GET", "monitoring", {}),
        Replay("svelte", "GET", "svelte/x.js", {}),
        Replay("vibe-edit", "POST", "gradio_api/vibe-edit", {"json": {}}),
        Replay("queue/data unknown session", "GET", "gradio_api/queue/data?session_hash=nobody", {}),
        Replay("missing asset", "GET", "assets/nope.js", {}),
        Replay("feedback unknown id", "POST", "api/feedback", {"json": {"id": "0" * 32, "liked": True}}),
        Replay("ask wrong type", "POST", "api/ask", {"json": {"question": 1}}),
        Replay("admin wrong token", "GET", "api/admin/status", {"headers": {"authorization": "Bearer nope"}}),
        Replay("widget unknown file", "GET", "widget/nope.js", {}),
        Replay("unknown page", "GET", "no-such-page", {}),
    ]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = replace(build_web_index(tmp_path_factory.mktemp("contract"), with_xss_case=False), admin_token=TOKEN)
    with live_server(settings) as server:
        yield server


def send(client: httpx.Client, replay: Replay) -> httpx.Response:
    return client.request(replay.method, replay.path, **replay.kwargs)


def assert_contract(response: httpx.Response, what: str) -> None:
    assert response.status_code != 500 and response.status_code < 500, (what, response.status_code, response.text[:200])
    assert response.status_code >= 400, (what, response.status_code)
    body = response.json()
    assert set(body) == {"error"} and CJK.search(body["error"]), (what, body)
    assert not any(marker in response.text for marker in TRACE_MARKERS), (what, response.text[:200])


@pytest.fixture
def quiet_root() -> Iterator[None]:
    """Root's own stream handlers set aside for the test (`qa serve` installs one: see logs.configure).

    A handler left behind by an earlier test may write to a stream pytest has closed since, and then
    every record prints a "Logging error" trace of its own, which is not the server's log.
    """
    root = logging.getLogger()
    handlers = [h for h in root.handlers if type(h) is logging.StreamHandler]
    for handler in handlers:
        root.removeHandler(handler)
    yield
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the server logged (the test's own HTTP client logs every request at DEBUG: left out)."""
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS))


def test_every_listed_request_gets_a_chinese_4xx_and_the_log_stays_small(
    live: Live, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], quiet_root: None
) -> None:
    faults.FAULTS.clear()
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG), httpx.Client(base_url=live.url, trust_env=False, timeout=10) as client:
        for _ in range(REPEATS):
            for replay in replays():
                assert_contract(send(client, replay), replay.name)
    out, err = capfd.readouterr()
    logged = server_log(caplog) + out + err
    assert len(logged.encode("utf-8", "replace")) < LOG_BUDGET, logged[-3000:]
    assert "Traceback" not in logged, logged[-3000:]  # no faults at all: every one of these is a client error
    assert faults.FAULTS.total == 0


def test_a_server_fault_is_a_chinese_500_logged_once_then_counted(
    live: Live, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here: the answering code raising) on the REST API and on Gradio's /ask: one trace, then counts."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    service = live_service(live)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("SECRET-BUG-DETAIL")

    monkeypatch.setattr(service, "ask", broken)
    faults.FAULTS.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(REPEATS):
            response = httpx.post(live.url + "api/ask", json={"question": "警快办？"}, trust_env=False)
            assert response.status_code == 500 and response.json() == {"error": "服务器内部错误，请稍后再试。"}
            assert "SECRET-BUG-DETAIL" not in response.text
        client = Client(live.url, verbose=False)
        try:
            for _ in range(3):
                with pytest.raises(AppError) as caught:
                    client.predict(question="警快办？", history=[], api_name="/ask")
                assert "SECRET-BUG-DETAIL" not in str(caught.value) and CJK.search(str(caught.value))
        finally:
            client.close()
    log = server_log(caplog)
    assert log.count("Traceback (most recent call last)") == 2
    traces = [r for r in caplog.records if r.exc_info and "SECRET-BUG-DETAIL" in str(r.exc_info[1])]
    assert len(traces) == 2, [r.getMessage() for r in traces]  # the REST route's fault, and the Gradio /ask one
    assert sorted(faults.FAULTS.counts().values()) == [3, REPEATS]
    assert "has occurred 10 times" in log  # counted, with one line at each power of ten


def live_service(live: Live) -> Any:
    assert live.server is not None
    app = live.server.config.app
    return app.state.service


# ---- limits on every route that reads a body ------------------------------------------------------


def app_client(settings: Settings) -> TestClient:
    app = create_app(
        Assistant.load(settings=settings, embedder=HashingEmbedder()), settings, QuestionLog(settings.db_path)
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A real per-minute limit of 2 questions (8 requests with a body), and an admin token."""
    root = tmp_path_factory.mktemp("small")
    return replace(build_web_index(root, with_xss_case=False), rate_limit_per_minute=2, admin_token=TOKEN)


@pytest.mark.parametrize(
    "path", ["/login", "/gradio_api/queue/join", "/gradio_api/process_recording", "/api/feedback", "/api/admin/cases"]
)
def test_the_body_limit_holds_on_every_route(small: Settings, path: str) -> None:
    """Declared too big: refused from the header. Streamed too big: refused by 64 KB, or closed unread."""
    with app_client(small) as client:
        declared = client.post(path, content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "text/plain"})
        assert declared.status_code == 413 and declared.json() == {"error": "请求体过大（上限 64 KB）。"}
        streamed = client.post(path, content=(b"x" * 65_536 for _ in range(4)))
        assert streamed.status_code in (404, 413), streamed.text
        assert set(streamed.json()) == {"error"}


def test_requests_with_a_body_are_limited_on_every_route(small: Settings) -> None:
    """Junk that no question limit sees (closed routes, malformed queue requests) is still bounded per client."""
    budget = small.rate_limit_per_minute * REQUESTS_PER_QUESTION
    with app_client(small) as client:
        paths = ["/gradio_api/component_server", "/gradio_api/queue/join", "/login", "/api/nope"]
        statuses = [client.post(paths[n % len(paths)], json={"x": 1}).status_code for n in range(budget)]
        assert 429 not in statuses and all(400 <= s < 500 for s in statuses)
        refused = client.post("/gradio_api/queue/join", json={"x": 1})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json() == {
            "error": f"请求过于频繁：每分钟最多 {budget} 个请求，请 {refused.headers['retry-after']} 秒后再试。"
        }
        assert client.get("/api/health").status_code == 200  # reading is not limited here (nginx's business)


def test_feedback_is_limited_like_questions(small: Settings) -> None:
    with app_client(small) as client:
        ids = [client.post("/api/ask", json={"question": "警快办注册人数？"}).json()["id"] for _ in range(2)]
        for row_id in ids:
            assert client.post("/api/feedback", json={"id": row_id, "liked": True}).json() == {"ok": True}
        refused = client.post("/api/feedback", json={"id": ids[0], "liked": False})
        assert refused.status_code == 429 and "评价过于频繁" in refused.json()["error"]
        assert int(refused.headers["retry-after"]) >= 1
        unknown = client.post("/api/feedback", json={"id": "0" * 32, "liked": False})
        assert unknown.status_code == 429  # probing ids costs the same budget


# ---- admin -----------------------------------------------------------------------------------------


def test_a_short_admin_token_stops_the_server_with_a_chinese_message(
    small: Settings, capsys: pytest.CaptureFixture[str], quiet_root: None
) -> None:
    short = replace(small, admin_token="x" * (MIN_TOKEN_CHARS - 1))
    with pytest.raises(AdminTokenTooShort) as caught:
        create_app(Assistant.load(settings=short, embedder=HashingEmbedder()), short, QuestionLog(short.db_path))
    assert f"至少需要 {MIN_TOKEN_CHARS} 个字符" in caught.value.user_message
    with pytest.raises(SystemExit) as exited:
        server.serve(short)  # checked before the index or the model is touched
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("错误：QA_ADMIN_TOKEN 过短（15 个字符）") and "Traceback" not in err
    create_app(  # 16 characters are enough; no token at all means the admin routes are off
        Assistant.load(settings=small, embedder=HashingEmbedder()), replace(small, admin_token="x" * 16)
    )


def test_wrong_admin_tokens_are_throttled_per_client(small: Settings) -> None:
    with app_client(replace(small, rate_limit_per_minute=1000)) as client:
        wrong = {"authorization": "Bearer " + "y" * 20}
        for _ in range(FAILURES_PER_MINUTE):
            assert client.get("/api/admin/status", headers=wrong).status_code == 401
        for headers in (wrong, {"authorization": f"Bearer {TOKEN}"}):  # the right token too: nothing is compared
            refused = client.get("/api/admin/status", headers=headers)
            assert refused.status_code == 429 and "管理令牌错误次数过多" in refused.json()["error"]
            assert int(refused.headers["retry-after"]) >= 1
    with app_client(replace(small, rate_limit_per_minute=1000)) as client:
        for _ in range(FAILURES_PER_MINUTE * 3):  # the right token never uses up the budget
            assert client.get("/api/admin/status", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


# ---- CORS ------------------------------------------------------------------------------------------


def test_a_refused_cors_preflight_answers_in_chinese_json(small: Settings) -> None:
    portal = "https://portal.example.gov"
    with app_client(replace(small, allowed_origins=(portal,))) as client:
        preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        evil = client.options("/api/ask", headers={"origin": "https://evil.example", **preflight})
        assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
        assert evil.json() == {"error": "跨域请求被拒绝：来源网站不在 QA_ALLOWED_ORIGINS 允许的列表中。"}
        method = client.options("/api/ask", headers={"origin": portal, "access-control-request-method": "DELETE"})
        assert method.status_code == 400 and "请求方法不允许" in method.json()["error"]
        header = client.options(
            "/api/ask", headers={**preflight, "origin": portal, "access-control-request-headers": "x-token"}
        )
        assert header.status_code == 400 and "请求头不允许" in header.json()["error"]
        allowed = client.options("/api/ask", headers={"origin": portal, **preflight})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == portal


# ---- the pieces, at the ASGI level ----------------------------------------------------------------


def test_the_open_gradio_routes_are_exactly_what_the_chat_and_gradio_client_use() -> None:
    """Measured with the chat page in Chromium and with gradio_client; tests/test_browser.py and test_api.py use them."""
    for method, path in [
        ("GET", "/"),
        ("GET", "/config"),
        ("GET", "/gradio_api/info"),
        ("GET", "/assets/index-abc.js"),
        ("GET", "/gradio_api/heartbeat/abc"),
        ("GET", "/gradio_api/queue/data"),
        ("POST", "/gradio_api/queue/join"),
        ("HEAD", "/"),
    ]:
        assert is_open(method, path), (method, path)
    for method, path in [
        ("POST", "/gradio_api/component_server"),
        ("POST", "/gradio_api/process_recording"),
        ("POST", "/login"),
        ("GET", "/logout"),
        ("POST", "/gradio_api/run/ask"),
        ("POST", "/gradio_api/call/ask"),
        ("GET", "/gradio_api/file=/etc/passwd"),
        ("POST", "/gradio_api/upload"),
        ("GET", "/gradio_api/startup-events"),
        ("POST", "/"),
        ("PUT", "/gradio_api/queue/join"),
    ]:
        assert not is_open(method, path), (method, path)


def test_a_fault_inside_gradio_becomes_a_chinese_500_and_one_log_entry() -> None:
    """Gradio's own error middleware sends a plain-text 500 and re-raises: the client reads Chinese JSON."""

    async def gradio_like(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Internal Server Error"})
        raise KeyError("component 999")

    log = faults.FaultLog(logging.getLogger("test.faults"))
    gate = GradioGate(gradio_like, gr.Blocks())
    app = faults.Faults(gate, log)
    for _ in range(3):
        status, body = run_asgi(app, "GET", "/config")
        assert status == 500 and json.loads(body) == {"error": "服务器内部错误，请稍后再试。"}
    assert list(log.counts().values()) == [3]


def test_the_fault_log_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    log = faults.FaultLog(logging.getLogger("test.bounded"), max_kinds=3)
    with caplog.at_level(logging.INFO, logger="test.bounded"):
        for n in range(10):
            for _ in range(n + 1):
                try:
                    exec(compile("raise ValueError()", f"kind-{n}.py", "exec"), {})  # each file: another kind
                except ValueError as exc:
                    log.record(exc, f"kind {n}")
    counts = log.counts()
    assert len(counts) == 4 and counts[faults.OTHER] == sum(range(4, 11))  # three kinds, then the rest together
    traced = [r for r in caplog.records if r.exc_info]
    assert len(traced) == 3


def run_asgi(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

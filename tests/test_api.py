"""The REST API through FastAPI's TestClient: answers, Chinese 4xx errors, health, docs, feedback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.webapp import build_web_index, live_server

from qa.assistant import Assistant
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.qlog import QuestionLog
from qa.web.server import create_app

CJK = re.compile(r"[\u4e00-\u9fff]")
QUESTION = "警快办有多少人注册？"


@dataclass
class Api:
    client: TestClient
    qlog: QuestionLog
    settings: Settings

    def ask(self, body: Any = None, **kwargs: Any) -> Any:
        return self.client.post("/api/ask", json=body, **kwargs)

    def row(self, row_id: str) -> dict[str, Any]:
        assert self.qlog.flush()
        [row] = [r for r in self.qlog.rows() if r["id"] == row_id]
        return row


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_web_index(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def assistant(web_settings: Settings) -> Assistant:
    return Assistant.load(settings=web_settings, embedder=HashingEmbedder())


def make_api(assistant: Assistant, settings: Settings) -> Iterator[Api]:
    qlog = QuestionLog(settings.db_path, log_ip=settings.log_ip)
    app = create_app(assistant, settings, qlog)
    # raise_server_exceptions=False: see the 500 a browser would get, not the exception.
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, qlog, settings)


@pytest.fixture(scope="module")
def api(assistant: Assistant, web_settings: Settings) -> Iterator[Api]:
    """One app for the module (building the Gradio page takes a while); tests find their log rows by id."""
    yield from make_api(assistant, web_settings)


def assert_chinese_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert CJK.search(body["error"]), body
    assert "Traceback" not in response.text
    return str(body["error"])


# ---- answering -------------------------------------------------------------------------


def test_ask_returns_a_cited_answer(api: Api) -> None:
    response = api.ask({"question": QUESTION, "history": []})
    assert response.status_code == 200
    body = response.json()
    assert {"answer", "citations", "grounded", "query", "id"} <= set(body)
    assert body["grounded"] is True
    assert "1714万" in body["answer"] and "[1]" in body["answer"]
    citation = body["citations"][0]
    assert citation["n"] == 1 and citation["case_id"] == "jingkuaiban"
    assert citation["quote"] in citation["text"]
    assert {"title", "unit", "paragraph", "start", "end", "score", "chunk_id"} <= set(citation)


def test_follow_up_uses_the_history(api: Api) -> None:
    first = api.ask({"question": QUESTION}).json()
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first["answer"]}]
    body = api.ask({"question": "它累计访问量是多少？", "history": history}).json()
    assert "警快办" in body["query"]
    assert "5.4亿" in body["answer"]


def test_off_topic_question_is_not_grounded(api: Api) -> None:
    body = api.ask({"question": "今天天气怎么样？"}).json()
    assert body["grounded"] is False


# ---- bad requests: always 4xx with a Chinese message -------------------------------------

BAD_BODIES = {
    "empty question": {"question": ""},
    "whitespace only": {"question": " \t\n　 "},
    "too long": {"question": "警" * 501},
    "question not a string": {"question": 42},
    "question null": {"question": None},
    "question a list": {"question": ["警快办"]},
    "missing question": {"history": []},
    "history not a list": {"question": QUESTION, "history": "警快办"},
    "history bad role": {"question": QUESTION, "history": [{"role": "system", "content": "x"}]},
    "history content not text": {"question": QUESTION, "history": [{"role": "user", "content": 1}]},
    "body is a list": [QUESTION],
    "body is a string": QUESTION,
    "session id too long": {"question": QUESTION, "session_id": "s" * 65},
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_request_bodies_get_a_chinese_400(api: Api, body: Any) -> None:
    assert_chinese_error(api.ask(body), 400)


def test_the_length_limit_comes_from_settings(web_settings: Settings, tmp_path: Path) -> None:
    settings = replace(web_settings, db_path=tmp_path / "q.sqlite3", max_question_chars=10)
    for api in make_api(Assistant.load(settings=settings, embedder=HashingEmbedder()), settings):
        assert "10" in assert_chinese_error(api.ask({"question": "警快办" * 4}), 400)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"question": "', "application/json"),
        (b"{'question': 'x'}", "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        (b"", "application/json"),
        (b'{"question": "x"}', "text/plain"),
        (b"question=x", "application/x-www-form-urlencoded"),
    ],
    ids=["truncated", "single quotes", "not utf-8", "empty body", "text/plain", "form"],
)
def test_malformed_json_gets_a_chinese_400(api: Api, content: bytes, content_type: str) -> None:
    response = api.client.post("/api/ask", content=content, headers={"content-type": content_type})
    assert_chinese_error(response, 400)


def test_oversized_bodies_get_a_chinese_413(api: Api) -> None:
    huge = {"question": QUESTION, "history": [{"role": "user", "content": "x" * 70_000}]}
    assert_chinese_error(api.ask(huge), 413)
    streamed = (b"x" * 1000 for _ in range(100))  # no Content-Length: counted as it arrives
    response = api.client.post("/api/ask", content=streamed, headers={"content-type": "application/json"})
    assert_chinese_error(response, 413)


def test_unknown_route_and_wrong_method_are_json(api: Api) -> None:
    assert_chinese_error(api.client.get("/api/nope"), 404)
    assert_chinese_error(api.client.get("/api/ask"), 405)
    assert_chinese_error(api.client.post("/api/health"), 405)


def test_unexpected_errors_are_a_plain_chinese_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    service = api.client.app.state.service  # type: ignore[attr-defined]

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(service, "ask", explode)
    response = api.ask({"question": QUESTION})
    message = assert_chinese_error(response, 500)
    assert "secret" not in response.text and "RuntimeError" not in message


# ---- health, docs, headers ------------------------------------------------------------------


def test_health_reports_model_counts_and_build_time(api: Api) -> None:
    response = api.client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"] == "fake-hashing"
    assert body["cases"] == 5 and body["chunks"] > 5
    assert body["index_built_at"] and body["index_version"]
    assert body["question_log"] == "ok"


def test_openapi_documents_the_routes(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert {"/api/ask", "/api/feedback", "/api/health"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"AskRequest", "AskResponse", "CitationOut", "HealthResponse", "ErrorResponse"} <= set(schemas)
    assert "400" in spec["paths"]["/api/ask"]["post"]["responses"]


def test_docs_page_uses_only_local_assets(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/docs-static/") for a in assets), assets
    assert "cdn" not in page.text.lower()
    assert api.client.get("/docs-static/swagger-ui-bundle.js").status_code == 200


def test_security_headers_and_no_cors_for_other_origins(api: Api) -> None:
    evil = {"origin": "https://evil.example"}
    for response in (
        api.ask({"question": QUESTION}, headers=evil),
        api.client.get("/", headers={**evil, "host": "qa.example.gov"}),  # Gradio alone would reflect this origin
        api.client.get("/config", headers=evil),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "access-control-allow-origin" not in response.headers


def test_chat_page_is_served_at_the_root(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "fonts.googleapis" not in page.text and "cdn.jsdelivr" not in page.text


# ---- the question log ------------------------------------------------------------------------


def test_each_answer_is_logged_without_ip(api: Api) -> None:
    body = api.ask({"question": QUESTION, "session_id": "s-1"}).json()
    row = api.row(body["id"])
    assert row["question"] == QUESTION and row["query"] == body["query"] and row["answer"] == body["answer"]
    assert row["case_ids"] == '["jingkuaiban"]' and row["grounded"] == 1
    assert row["latency_ms"] >= 0 and row["asked_at"] and row["session_id"] == "s-1"
    assert row["ip"] is None and row["feedback"] is None


def test_ip_is_logged_only_when_the_operator_turns_it_on(
    assistant: Assistant, web_settings: Settings, tmp_path: Path
) -> None:
    for api in make_api(assistant, replace(web_settings, db_path=tmp_path / "q.sqlite3", log_ip=True)):
        row_id = api.ask({"question": QUESTION}).json()["id"]
        assert api.row(row_id)["ip"] == "testclient"


def test_feedback_updates_the_row(api: Api) -> None:
    row_id = api.ask({"question": QUESTION}).json()["id"]
    for liked, stored in ((True, 1), (False, -1), (None, None)):
        response = api.client.post("/api/feedback", json={"id": row_id, "liked": liked})
        assert response.status_code == 200 and response.json() == {"ok": True}
        assert api.row(row_id)["feedback"] == stored


def test_feedback_for_an_unknown_id_is_a_chinese_404_and_records_nothing(api: Api) -> None:
    row_id = api.ask({"question": QUESTION}).json()["id"]
    response = api.client.post("/api/feedback", json={"id": "0" * 32, "liked": False})
    assert_chinese_error(response, 404)
    assert "id" in response.json()["error"]
    assert api.row(row_id)["feedback"] is None


def test_feedback_reaches_answers_from_before_a_restart(
    assistant: Assistant, web_settings: Settings, tmp_path: Path
) -> None:
    settings = replace(web_settings, db_path=tmp_path / "q.sqlite3")
    for first in make_api(assistant, settings):
        row_id = first.ask({"question": QUESTION}).json()["id"]
        assert first.qlog.flush()
    for second in make_api(assistant, settings):  # a new process: the id is known only from the log file
        assert second.client.post("/api/feedback", json={"id": row_id, "liked": True}).status_code == 200
        assert second.row(row_id)["feedback"] == 1


@pytest.mark.parametrize(
    "body",
    [{"id": "1", "liked": True}, {"id": "0" * 32, "liked": "yes"}, {"liked": True}, {"id": "0" * 32}],
    ids=["bad id", "liked not bool", "no id", "no liked"],
)
def test_bad_feedback_gets_a_chinese_400(api: Api, body: dict[str, Any]) -> None:
    assert_chinese_error(api.client.post("/api/feedback", json=body), 400)


# ---- the Gradio endpoint, as documented in docs/api.md ------------------------------------------


def test_gradio_client_can_ask(web_settings: Settings, tmp_path: Path) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with live_server(replace(web_settings, db_path=tmp_path / "q.sqlite3")) as live:
        client = Client(live.url, verbose=False)
        try:
            reply = client.predict(question=QUESTION, history=[], api_name="/ask")
            assert "1714万" in reply["answer"] and reply["citations"][0]["case_id"] == "jingkuaiban"
            history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": reply["answer"]}]
            follow_up = client.predict(question="它累计访问量是多少？", history=history, api_name="/ask")
            assert "警快办" in follow_up["query"]
            with pytest.raises(AppError, match="问题不能为空"):
                client.predict(question="  ", history=[], api_name="/ask")
        finally:
            client.close()
        assert live.qlog.flush()
        assert [r["id"] for r in live.qlog.rows()] == [reply["id"], follow_up["id"]]


def test_chat_page_errors_are_chinese_and_hide_details(caplog: pytest.LogCaptureFixture) -> None:
    from qa.errors import InvalidQuestion
    from qa.web.ui import user_message

    assert user_message(InvalidQuestion("empty", "问题不能为空。")) == "问题不能为空。"
    try:
        raise RuntimeError("secret internal detail")
    except RuntimeError as exc:
        message = user_message(exc)
    assert CJK.search(message) and "secret" not in message
    assert "secret internal detail" in caplog.text  # the operator still gets the trace

"""Hot reload: a running server picks up a new index version without a restart, fails no request
while it swaps, and keeps serving the old version when the new one cannot be loaded."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.webapp import Live, build_web_index, live_server

from qa import index as store
from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.errors import ReloadFailed
from qa.qlog import QuestionLog
from qa.web.server import create_app
from qa.web.watcher import IndexWatcher

TOKEN = "test-admin-token-0123456789"
OLD, NEW = "1714万", "1800万"
QUESTIONS = ("警快办有多少人注册？", "警快办注册人数是多少？", "“警快办”注册了多少人？")
CLIENTS, TRAFFIC_SECONDS, MAX_REQUESTS_PER_CLIENT = 8, 6.0, 5000


def hot_settings(root: Path, **changes: Any) -> Settings:
    """The small web index, with an admin token, a fast watcher and no rate limit in the way."""
    settings = build_web_index(root, with_xss_case=False)
    defaults: dict[str, Any] = {"admin_token": TOKEN, "reload_seconds": 0.2, "rate_limit_per_minute": 1_000_000}
    return replace(settings, **(defaults | changes))


def change_figure(settings: Settings) -> str:
    """What an editor does: edit the jingkuaiban case and run `qa index`; returns the new version."""
    path = settings.knowledge_dir / "04-jingkuaiban.md"
    path.write_text(path.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
    return build_index(settings, HashingEmbedder(), progress=False).version


def publish_corrupt_copy(settings: Settings) -> str:
    """A published version whose vectors file is garbage (a disk error, a bad copy by hand)."""
    root = settings.index_dir
    good = store.current_dir(root)
    version = "29991231T000000000000Z"
    shutil.copytree(good, root / "versions" / version)
    (root / "versions" / version / store.VECTORS).write_bytes(b"\x00garbage, not a faiss index" * 50)
    store.publish(root, version)
    return version


def admin(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class App:
    client: TestClient
    settings: Settings


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """In-process app with the watcher off, so only the test decides when a reload happens."""
    settings = hot_settings(tmp_path, reload_seconds=0.0)
    assistant = Assistant.load(settings=settings, embedder=HashingEmbedder())
    with TestClient(create_app(assistant, settings, QuestionLog(settings.db_path)), raise_server_exceptions=False) as c:
        yield App(c, settings)


# ---- requests in flight during a swap -----------------------------------------------------


@dataclass
class Result:
    started: float
    status: int
    answer: str = ""
    cited: str = ""
    error: str = ""


def hammer(url: str, client_no: int, stop_at: float, results: list[Result]) -> None:
    """One client: POST /api/ask back to back until ``stop_at`` (bounded in count too)."""
    mine: list[Result] = []
    with httpx.Client(base_url=url, timeout=15, trust_env=False) as client:  # loopback only, no proxy
        for n in range(MAX_REQUESTS_PER_CLIENT):
            started = time.monotonic()
            if started >= stop_at:
                break
            # Some repeats (cache hits) and some fresh questions (cache misses), from every client.
            question = QUESTIONS[n % len(QUESTIONS)] + ("" if n % 2 else f"（{client_no}-{n}）")
            try:
                response = client.post("api/ask", json={"question": question})
            except httpx.HTTPError as exc:
                mine.append(Result(started, 0, error=repr(exc)))
                continue
            body = response.json()
            cited = " ".join(c["text"] for c in body.get("citations", []))
            mine.append(Result(started, response.status_code, body.get("answer", ""), cited, body.get("error", "")))
    results.extend(mine)  # list.extend is atomic under the GIL


def wait_for_version(live: Live, version: str, timeout: float = 10.0) -> float:
    """Poll /api/health until it reports ``version``; returns when it first did."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=live.url, timeout=5, trust_env=False) as client:
        while time.monotonic() < deadline:
            if client.get("api/health").json()["index_version"] == version:
                return time.monotonic()
            time.sleep(0.05)
    raise AssertionError(f"server never served {version}")


def test_requests_during_a_swap_all_succeed_from_one_version(tmp_path: Path) -> None:
    settings = hot_settings(tmp_path)
    with live_server(settings) as live:
        results: list[Result] = []
        stop_at = time.monotonic() + TRAFFIC_SECONDS
        clients = [threading.Thread(target=hammer, args=(live.url, i, stop_at, results)) for i in range(CLIENTS)]
        for thread in clients:
            thread.start()
        time.sleep(1.5)  # traffic on the old version first
        new_version = change_figure(settings)
        swapped_at = wait_for_version(live, new_version)
        for thread in clients:
            thread.join(TRAFFIC_SECONDS + 30)
        health = httpx.get(live.url + "api/health", trust_env=False).json()

    assert not any(t.is_alive() for t in clients)
    failed = [r for r in results if r.status != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed, e.g. {failed[:3]}"
    for r in results:
        # One version per answer: the answer and the passage it cites carry the same figure.
        assert (OLD in r.answer) != (NEW in r.answer), r.answer
        assert (OLD in r.answer) == (OLD in r.cited) and (NEW in r.answer) == (NEW in r.cited), r
    assert any(OLD in r.answer for r in results) and any(NEW in r.answer for r in results)
    after = [r for r in results if r.started > swapped_at]
    assert after and all(NEW in r.answer for r in after)
    assert len(results) >= CLIENTS * 10
    built = store.read_manifest(settings.index_dir / "versions" / new_version)["built_at"]
    assert health["status"] == "ok"
    assert health["index_version"] == new_version and health["index_built_at"] == built


def test_a_corrupt_new_version_leaves_the_old_one_serving(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="qa.web.watcher")
    settings = hot_settings(tmp_path)
    good = store.current_version(settings.index_dir)
    with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=10, trust_env=False) as client:
        corrupt = publish_corrupt_copy(settings)
        time.sleep(1.5)  # several watcher polls: the failure must be logged once, not every 0.2 s
        health = client.get("api/health").json()
        assert health["status"] == "ok" and health["index_version"] == good
        assert OLD in client.post("api/ask", json={"question": QUESTIONS[0]}).json()["answer"]
        logged = [r for r in caplog.records if r.name == "qa.web.watcher" and corrupt in r.getMessage()]
        assert len(logged) == 1

        reload = client.post("api/admin/reload", headers=admin())
        assert reload.status_code == 500 and f"新索引版本 {corrupt} 无法加载" in reload.json()["error"]
        status = client.get("api/admin/status", headers=admin()).json()
        assert status["published_version"] == corrupt and status["reload_failure"]["version"] == corrupt

        # The editor fixes it: a rollback, then a good build; the watcher takes the good one.
        store.rollback(settings.index_dir)
        new_version = change_figure(settings)
        wait_for_version(live, new_version)
        assert NEW in client.post("api/ask", json={"question": QUESTIONS[0]}).json()["answer"]
        assert client.get("api/admin/status", headers=admin()).json()["reload_failure"] is None


# ---- the admin reload route ----------------------------------------------------------------


def test_reload_endpoint_returns_the_new_version(app: App) -> None:
    app_client, settings = app.client, app.settings
    old_version = app_client.get("/api/health").json()["index_version"]
    new_version = change_figure(settings)
    assert app_client.get("/api/health").json()["index_version"] == old_version  # watcher is off here
    reply = app_client.post("/api/admin/reload", headers=admin())
    assert reply.status_code == 200
    body = reply.json()
    assert body["reloaded"] is True and body["index_version"] == new_version and body["index_built_at"]
    assert NEW in app_client.post("/api/ask", json={"question": QUESTIONS[0]}).json()["answer"]
    assert app_client.post("/api/admin/reload", headers=admin()).json()["reloaded"] is False


@pytest.mark.parametrize(
    "headers",
    [{}, admin("wrong-token"), {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}, admin("令牌")],
    ids=["none", "wrong", "no-scheme", "basic", "non-ascii"],
)
def test_admin_routes_refuse_a_wrong_token_with_401(app: App, headers: dict[str, str]) -> None:
    for method, path in [("POST", "/api/admin/reload"), ("GET", "/api/admin/status"), ("POST", "/api/admin/rebuild")]:
        response = app.client.request(method, path, headers={k: v.encode() for k, v in headers.items()})
        assert response.status_code == 401
        assert "管理令牌无效" in response.json()["error"]


def test_admin_routes_do_not_exist_without_a_token(tmp_path: Path) -> None:
    settings = hot_settings(tmp_path, reload_seconds=0.0)
    settings = replace(settings, admin_token="")
    plain = create_app(Assistant.load(settings=settings, embedder=HashingEmbedder()), settings)
    with TestClient(plain, raise_server_exceptions=False) as client:
        unknown_api = client.post("/api/no-such-route").json()
        unknown_page = client.get("/no-such-page").json()
        for method, path in [
            ("POST", "/api/admin/reload"),
            ("GET", "/api/admin/status"),
            ("POST", "/api/admin/preview"),
            ("POST", "/api/admin/rebuild"),
            ("GET", "/api/admin/rebuild/status"),
        ]:
            response = client.request(method, path, headers=admin())
            assert response.status_code == 404 and response.json() == unknown_api
        for path in ["/admin", "/admin/admin.js"]:
            response = client.get(path, headers=admin())
            assert response.status_code == 404 and response.json() == unknown_page


# ---- the assistant and the watcher, without a server ---------------------------------------


def test_reload_invalidates_the_reply_cache(tmp_path: Path) -> None:
    settings = hot_settings(tmp_path)
    bot = Assistant.load(settings=settings, embedder=HashingEmbedder())
    first = bot.ask(QUESTIONS[0])
    assert OLD in first.answer and bot.ask(QUESTIONS[0]) is first  # a cache hit
    change_figure(settings)
    assert bot.ask(QUESTIONS[0]) is first  # not reloaded yet: still the served version's answer
    assert bot.reload() is True
    fresh = bot.ask(QUESTIONS[0])
    assert fresh is not first and NEW in fresh.answer and OLD not in fresh.answer


def test_a_model_mismatch_is_logged_once_and_the_old_index_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="qa.web.watcher")
    settings = hot_settings(tmp_path)
    bot = Assistant.load(settings=settings, embedder=HashingEmbedder())
    served = bot.version
    other = build_index(settings, HashingEmbedder(dim=128), full=True, progress=False).version
    watcher = IndexWatcher(bot, 0.2)
    assert [watcher.poll() for _ in range(5)] == [False] * 5
    assert bot.version == served and OLD in bot.ask(QUESTIONS[0]).answer
    assert len([r for r in caplog.records if other in r.getMessage()]) == 1
    assert bot.reload_failure is not None and bot.reload_failure.version == other
    assert "模型" in bot.reload_failure.message
    with pytest.raises(ReloadFailed):
        bot.reload()  # an explicit reload tries again, and fails again, loudly

    store.rollback(settings.index_dir)  # back to the served version: the failure is history
    assert watcher.poll() is False and bot.reload_failure is None


def test_watcher_thread_swaps_and_stops(tmp_path: Path) -> None:
    settings = hot_settings(tmp_path)
    bot = Assistant.load(settings=settings, embedder=HashingEmbedder())
    watcher = IndexWatcher(bot, 0.05)
    watcher.start()
    try:
        assert watcher.running
        new_version = change_figure(settings)
        deadline = time.monotonic() + 10
        while bot.version != new_version and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bot.version == new_version
    finally:
        watcher.stop()
    assert not watcher.running
    off = IndexWatcher(bot, 0)  # QA_RELOAD_SECONDS=0: no thread at all
    off.start()
    assert not off.running


def test_reload_seconds_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_RELOAD_SECONDS", "0.5")
    assert Settings.from_env().reload_seconds == 0.5
    monkeypatch.setenv("QA_RELOAD_SECONDS", "0")
    assert Settings.from_env().reload_seconds == 0
    monkeypatch.delenv("QA_RELOAD_SECONDS")
    assert Settings.from_env().reload_seconds == 2.0

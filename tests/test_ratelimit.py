"""Per-client rate limiting: the bucket, per address and per session, the REST API (and so the widget), Gradio /ask."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.webapp import build_web_index, live_server

from qa.assistant import Assistant
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.errors import RateLimited
from qa.qlog import QuestionLog
from qa.web.options import WebOptions
from qa.web.ratelimit import ClientLimits, RateLimiter
from qa.web.server import create_app

QUESTION = "警快办有多少人注册？"
LIMIT = 3
CJK = re.compile(r"[\u4e00-\u9fff]")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the bucket -------------------------------------------------------------------------------


def test_a_client_gets_its_burst_then_one_question_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(30, clock=clock)  # 30 a minute: a burst of 30, then one every 2 s
    assert all(limiter.take("a") == 0 for _ in range(30))
    assert limiter.take("a") == pytest.approx(2.0)
    clock.now += 1.0
    assert limiter.take("a") == pytest.approx(1.0)  # half a token back: one more second to wait
    clock.now += 1.0
    assert limiter.take("a") == 0
    clock.now += 3600
    assert all(limiter.take("a") == 0 for _ in range(30))  # a long pause refills the burst, no more


def test_clients_are_limited_separately() -> None:
    limiter = RateLimiter(2, clock=Clock())
    assert limiter.take("a") == limiter.take("a") == 0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0


def test_check_raises_a_chinese_error_with_the_wait_rounded_up() -> None:
    limiter = RateLimiter(1, clock=Clock())
    limiter.check("a")
    with pytest.raises(RateLimited) as caught:
        limiter.check("a")
    assert caught.value.http_status == 429 and caught.value.retry_after == 60
    assert "每分钟最多 1 个问题" in caught.value.user_message and "60 秒后" in caught.value.user_message


def test_zero_turns_limiting_off() -> None:
    limiter = RateLimiter(0)
    assert not limiter.enabled
    assert all(limiter.take("a") == 0 for _ in range(10_000))
    assert len(limiter) == 0  # and keeps no state


def test_memory_is_bounded_by_the_number_of_clients_kept() -> None:
    limiter = RateLimiter(5, max_clients=100, clock=Clock())
    for n in range(1000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100


def test_settings_read_the_limit_and_the_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_RATE_LIMIT", "0")
    monkeypatch.setenv("QA_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    settings = Settings.from_env()
    assert settings.rate_limit_per_minute == 0
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    monkeypatch.delenv("QA_RATE_LIMIT")
    monkeypatch.delenv("QA_TRUSTED_PROXIES")
    assert Settings.from_env().rate_limit_per_minute == 30 and Settings.from_env().trusted_proxies == ()


# ---- the REST API (the widget posts to the same route) -------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return replace(
        build_web_index(tmp_path_factory.mktemp("limited"), with_xss_case=False), rate_limit_per_minute=LIMIT
    )


def client_for(settings: Settings) -> Iterator[TestClient]:
    app = create_app(
        Assistant.load(settings=settings, embedder=HashingEmbedder()), settings, QuestionLog(settings.db_path)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(limited: Settings) -> Iterator[TestClient]:
    yield from client_for(limited)


def test_the_api_answers_429_in_chinese_once_the_limit_is_used(api: TestClient) -> None:
    for _ in range(LIMIT):
        assert api.post("/api/ask", json={"question": QUESTION}).status_code == 200
    refused = api.post("/api/ask", json={"question": QUESTION})
    assert refused.status_code == 429
    assert set(refused.json()) == {"error"} and CJK.search(refused.json()["error"])
    assert "频繁" in refused.json()["error"]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert QUESTION not in refused.text


def test_invalid_questions_count_too(api: TestClient) -> None:
    for _ in range(LIMIT):
        assert api.post("/api/ask", json={"question": ""}).status_code == 400
    assert api.post("/api/ask", json={"question": QUESTION}).status_code == 429


def test_other_routes_are_not_limited(api: TestClient) -> None:
    for _ in range(LIMIT + 2):
        assert api.get("/api/health").status_code == 200
    assert api.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(api: TestClient) -> None:
    for n in range(LIMIT):
        assert api.post(
            "/api/ask", json={"question": QUESTION}, headers={"x-forwarded-for": f"203.0.113.{n}"}
        ).is_success
    forged = api.post("/api/ask", json={"question": QUESTION}, headers={"x-forwarded-for": "198.51.100.1"})
    assert forged.status_code == 429  # every request came from the same peer, whatever it claimed


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(limited: Settings) -> None:
    # TestClient's peer is "testclient": here it plays the reverse proxy.
    for api in client_for(replace(limited, trusted_proxies=("testclient",))):
        alice, bob = {"x-forwarded-for": "203.0.113.5"}, {"x-forwarded-for": "203.0.113.6"}
        for _ in range(LIMIT):
            assert api.post("/api/ask", json={"question": QUESTION}, headers=alice).status_code == 200
        assert api.post("/api/ask", json={"question": QUESTION}, headers=alice).status_code == 429
        assert api.post("/api/ask", json={"question": QUESTION}, headers=bob).status_code == 200
        # A client that prepends its own address still gets the one the proxy appended.
        spoofed = {"x-forwarded-for": "198.51.100.9, 203.0.113.5"}
        assert api.post("/api/ask", json={"question": QUESTION}, headers=spoofed).status_code == 429


def test_zero_in_settings_turns_the_api_limit_off(limited: Settings) -> None:
    for api in client_for(replace(limited, rate_limit_per_minute=0)):
        assert all(api.post("/api/ask", json={"question": QUESTION}).status_code == 200 for _ in range(LIMIT * 3))


# ---- the Gradio /ask endpoint (the chat page's handler goes through the same service) ---------------


def test_the_gradio_endpoint_shares_the_limit(limited: Settings, tmp_path: Path) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with live_server(replace(limited, db_path=tmp_path / "q.sqlite3")) as live:
        client = Client(live.url, verbose=False)
        try:
            for _ in range(LIMIT):
                assert client.predict(question=QUESTION, history=[], api_name="/ask")["answer"]
            with pytest.raises(AppError, match="提问过于频繁"):
                client.predict(question=QUESTION, history=[], api_name="/ask")
        finally:
            client.close()
        # One client, one budget: the REST API (and the widget) refuse it now as well.
        refused = httpx.post(live.url + "api/ask", json={"question": QUESTION}, trust_env=False, timeout=10)
        assert refused.status_code == 429


# ---- per session as well as per address: an office behind one NAT address ----------------------------


def test_sessions_behind_one_address_have_their_own_budget_under_the_address_ceiling() -> None:
    limits = ClientLimits(per_address=5, per_session=2, clock=Clock())
    office = "203.0.113.1"  # everyone's NAT address
    for session in ("alice", "bob"):
        limits.check(office, session)
        limits.check(office, session)
    with pytest.raises(RateLimited):
        limits.check(office, "alice")  # alice used her 2; bob and the rest of the office are unaffected
    limits.check(office, "carol")  # 5th question from the address
    with pytest.raises(RateLimited):
        limits.check(office, "dave")  # the address's ceiling holds, whatever session ids are invented


def test_a_session_over_its_limit_does_not_use_up_the_address_budget() -> None:
    limits = ClientLimits(per_address=3, per_session=1, clock=Clock())
    limits.check("10.0.0.1", "eager")
    for _ in range(10):
        with pytest.raises(RateLimited):
            limits.check("10.0.0.1", "eager")
    limits.check("10.0.0.1", "calm")
    limits.check("10.0.0.1", "calm2")  # 3 address tokens: eager's refused questions took none


def test_a_session_id_counts_within_its_address_and_none_means_address_only() -> None:
    limits = ClientLimits(per_address=100, per_session=1, clock=Clock())
    limits.check("10.0.0.1", "same-id")
    limits.check("10.0.0.2", "same-id")  # another client cannot spend someone's session by guessing its id
    for _ in range(5):
        limits.check("10.0.0.3", None)  # curl without a session id: only the address limit


def test_the_session_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(rate_limit_per_minute=600)
    monkeypatch.delenv("QA_SESSION_RATE_LIMIT", raising=False)
    assert WebOptions.from_env().session_limit(settings) == 600  # unset: as QA_RATE_LIMIT
    monkeypatch.setenv("QA_SESSION_RATE_LIMIT", "30")
    assert WebOptions.from_env().session_limit(settings) == 30
    monkeypatch.setenv("QA_SESSION_RATE_LIMIT", "many")
    with pytest.raises(ValueError, match="QA_SESSION_RATE_LIMIT"):
        WebOptions.from_env()


def test_the_api_limits_each_widget_session_behind_one_address(limited: Settings) -> None:
    options = WebOptions(session_rate_limit=1)
    app = create_app(
        Assistant.load(settings=limited, embedder=HashingEmbedder()), limited, QuestionLog(limited.db_path), options
    )
    with TestClient(app, raise_server_exceptions=False) as api:  # one address ("testclient"), LIMIT a minute
        assert api.post("/api/ask", json={"question": QUESTION, "session_id": "w-alice"}).status_code == 200
        refused = api.post("/api/ask", json={"question": QUESTION, "session_id": "w-alice"})
        assert refused.status_code == 429 and "频繁" in refused.json()["error"]
        assert api.post("/api/ask", json={"question": QUESTION, "session_id": "w-bob"}).status_code == 200

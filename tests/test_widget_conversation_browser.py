"""A six-question widget conversation with the real model: two topic switches, a follow-up shown
as understood, and an everyday question refused. What the user reads is what is checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser import PageOpener
from tests.conftest import KNOWLEDGE
from tests.webapp import Live, live_server

from qa.build import build_index
from qa.config import Settings
from qa.embedding import load_embedder

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ANSWERS = ".qa-answer"

# (question, what the answer must show, what it must not show)
CONVERSATION = [
    ("警快办有多少人注册？", "1714万", "（按“"),
    ("它累计访问量是多少？", "（按“警快办", "没有提到"),  # a follow-up, shown as understood
    ("垫小二是什么？", "垫小二", "（按“"),  # a complete question after a figure: a switch, not a rewrite
    ("明天重庆会下雨吗？", "例如", "[1]"),  # everyday: refused, with examples, nothing cited
    ("那个做法是哪个单位报送的？", "垫江县委政法委", "没有提到"),  # the conversation's case survives the refusal
    ("十大改革最佳实践都有哪些？", "潮汐车道", "（按“"),  # a list after a follow-up: a switch again
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = Settings.from_env(
        knowledge_dir=KNOWLEDGE,
        index_dir=tmp_path_factory.mktemp("conv") / "index",
        db_path=tmp_path_factory.mktemp("conv-db") / "q.sqlite3",
        rate_limit_per_minute=0,
        admin_token="",
    )
    embedder = load_embedder(settings)
    build_index(settings, embedder, progress=False)
    with live_server(settings, embedder=embedder) as server:
        yield server


def ask(page: Any, question: str) -> str:
    before = page.locator(ANSWERS).count()
    page.locator("#qa-input").fill(question)
    page.locator("#qa-input").press("Enter")
    page.locator(ANSWERS).nth(before).wait_for(timeout=30_000)
    return str(page.locator(ANSWERS).nth(before).inner_text())


def test_six_questions_switching_topic_twice(open_page: PageOpener, live: Live) -> None:
    page = open_page(f"{live.url}widget")
    page.wait_for_selector("html[data-ready='true']", timeout=15_000)
    for question, shown, hidden in CONVERSATION:
        answer = ask(page, question)
        assert shown in answer, (question, answer)
        assert hidden not in answer, (question, answer)

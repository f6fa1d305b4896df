"""The chat page in real Chromium (Debian's, through Playwright) against the real server.

Run alone with ``pytest -m browser``. Skipped only when /usr/bin/chromium is missing
(``make system-deps`` installs it). Playwright's own browser download is never used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser import Network, PageOpener
from tests.webapp import Live, build_web_index, live_server

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"
ANSWERS = "#qa-chat .qa-answer"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(build_web_index(tmp_path_factory.mktemp("browser"))) as server:
        yield server


@pytest.fixture
def open_chat(open_page: PageOpener, live: Live) -> Callable[[Network, int, int], Any]:
    """Opens the chat (zh-CN, like the users) and waits for its question box."""

    def opener(network: Network, width: int, height: int) -> Any:
        page = open_page(live.url, network, width, height)
        page.wait_for_selector("#qa-box textarea", timeout=30_000)
        return page

    return opener


def ask(page: Any, question: str) -> Any:
    """Type a question, send it, and return the new answer's element."""
    before = page.locator(ANSWERS).count()
    page.fill("#qa-box textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{ANSWERS}').length > {before}", timeout=20_000)
    return page.locator(ANSWERS).nth(before)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def logged(live: Live) -> list[dict[str, Any]]:
    assert live.qlog.flush()
    return live.qlog.rows()


def test_chat_with_sources_feedback_and_follow_up(open_chat: Callable[..., Any], live: Live) -> None:
    network = Network()
    page = open_chat(network, 1280, 900)
    assert page.title() == "重庆政法改革最佳实践问答"
    assert "每个回答都标注出处" in page.inner_text("#qa-header")

    # An example question, clicked: the answer carries its [1] marker and a closed sources panel.
    page.get_by_text("“警快办”注册人数有多少？").first.click()
    page.wait_for_selector(ANSWERS, timeout=20_000)
    first = page.locator(ANSWERS).first
    assert "1714万" in first.locator(".qa-text").inner_text()
    assert first.locator("sup.qa-ref").first.inner_text() == "[1]"
    sources = first.locator("details.qa-sources")
    assert not sources.evaluate("d => d.open")
    sources.locator("summary").click()
    assert sources.evaluate("d => d.open")
    assert "警快办" in sources.locator(".qa-title").inner_text()
    assert sources.locator(".qa-unit").inner_text() == "市公安局"
    assert "1714万" in sources.locator("mark").inner_text()

    # Like (labels follow the browser's language: 赞/踩 in zh-CN): the answer's log row gets the vote.
    page.locator("#qa-chat button[aria-label='赞']").first.click()
    assert wait_for(lambda: [r["feedback"] for r in logged(live)] == [1])

    # A follow-up resolved from the chat history.
    second = ask(page, "它累计访问量是多少？")
    assert "5.4亿" in second.locator(".qa-text").inner_text()
    assert "警快办" in logged(live)[-1]["query"]
    assert page.locator("#qa-chat button[aria-label='Liked']").count() == 1  # the first vote survives the re-render
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    second.locator("details.qa-sources summary").click()
    assert second.locator("mark").count() == 1

    assert network.air_gapped, network.refused


def test_markup_in_questions_and_cases_shows_as_text(open_chat: Callable[..., Any]) -> None:
    network = Network()
    page = open_chat(network, 1280, 900)
    answer = ask(page, "测试桥注册人数有多少？<img src=x onerror=window.__xss=3>")
    answer.locator("details.qa-sources summary").click()
    assert "<img src=x onerror=window.__xss=1>" in answer.locator(".qa-text").inner_text()
    assert "<b>粗体</b>" in answer.locator(".qa-unit").inner_text()
    assert "<script>" in answer.locator("blockquote").inner_text()
    assert "<img src=x onerror=window.__xss=3>" in page.locator("#qa-chat .qa-question").inner_text()
    time.sleep(0.3)  # give any injected handler the chance to run
    assert page.evaluate("window.__xss") is None
    assert page.locator("#qa-chat img[src='x'], #qa-chat script, #qa-chat b").count() == 0
    assert not network.refused


def test_bad_input_clear_and_phone_width(open_chat: Callable[..., Any]) -> None:
    network = Network()
    page = open_chat(network, 390, 844)
    page.fill("#qa-box textarea", "   ")
    page.click("#qa-send")
    page.get_by_text("问题不能为空").first.wait_for(timeout=10_000)
    assert page.locator(ANSWERS).count() == 0

    answer = ask(page, "5G车载便民法庭能把哪些服务送到群众家门口？")
    answer.locator("details.qa-sources summary").click()
    width = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]")
    assert max(width[:2]) <= width[2], f"horizontal scroll at 390px: {width}"
    assert page.locator("#qa-send").is_visible() and page.locator("#qa-clear").is_visible()

    page.click("#qa-clear")
    page.wait_for_function(f"document.querySelectorAll('{ANSWERS}').length === 0", timeout=10_000)
    page.get_by_text("“警快办”注册人数有多少？").first.wait_for(timeout=10_000)  # the examples are back
    answer = ask(page, "它累计访问量是多少？")  # no history left to resolve "它" from
    assert "1714万" not in answer.inner_text()
    assert not network.refused

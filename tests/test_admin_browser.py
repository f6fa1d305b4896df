"""The admin page in real Chromium: token, upload, preview, save, rebuild — under its own strict CSP.

Run alone with ``pytest -m browser``; skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import expect
from tests.test_admin import NEW_CASE, TOKEN
from tests.webapp import Live, build_web_index, live_server

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


class Network:
    """Every URL the page asked for; anything not on 127.0.0.1 is refused (an air gap)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.refused: list[str] = []

    def route(self, route: Any) -> None:
        url = route.request.url
        self.seen.append(url)
        if urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    settings = build_web_index(tmp_path / "site", with_xss_case=False)
    settings = replace(settings, admin_token=TOKEN, reload_seconds=0.0, rate_limit_per_minute=1_000_000)
    with live_server(settings) as server:
        yield server


@pytest.fixture
def page(live: Live) -> Iterator[tuple[Any, Network, list[str]]]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(locale="zh-CN")
        network, console = Network(), []
        context.route("**/*", network.route)
        tab = context.new_page()
        tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        tab.goto(live.url + "admin")
        yield tab, network, console
        context.close()
        browser.close()


def test_editor_uploads_previews_saves_and_rebuilds(page: tuple[Any, Network, list[str]], live: Live) -> None:
    tab, network, console = page
    assert tab.title() == "知识库管理"

    tab.fill("#token", "wrong")
    tab.click("#token-form button")
    tab.wait_for_selector("#message.error")
    assert "管理令牌无效" in tab.inner_text("#message")

    tab.fill("#token", TOKEN)
    tab.click("#token-form button")
    tab.wait_for_selector("#message.ok")
    served = httpx.get(live.url + "api/health", trust_env=False).json()["index_version"]
    assert served in tab.inner_text("#status")

    upload = live.settings.knowledge_dir.parent / "11-test-platform.md"
    upload.write_text(NEW_CASE, encoding="utf-8")
    tab.set_input_files("#file", str(upload))
    expect(tab.locator("#text")).to_have_value(re.compile("3210件"))
    assert tab.input_value("#name") == "11-test-platform.md"
    assert tab.is_disabled("#save")
    tab.click("#preview")
    tab.wait_for_selector("ol.chunks li")
    assert tab.locator("ol.chunks li").count() == 3 and "新增文件" in tab.inner_text("#preview-out")

    tab.click("#save")
    expect(tab.locator("#message")).to_contain_text("已保存")
    assert (live.settings.knowledge_dir / "11-test-platform.md").read_text(encoding="utf-8") == NEW_CASE

    tab.click("#rebuild")
    expect(tab.locator("#message")).to_contain_text("已生效", timeout=60_000)
    health = httpx.get(live.url + "api/health", trust_env=False).json()
    assert health["index_version"] != served and health["index_version"] in tab.inner_text("#status")

    tab.fill("#text", "没有头信息")
    tab.click("#preview")
    tab.wait_for_selector("#preview-out .problems")
    assert "缺少 YAML 头信息" in tab.inner_text("#preview-out")

    assert network.seen and not network.refused, network.refused
    # Errors are only the expected 401 of the wrong token; nothing the CSP refused.
    assert not [c for c in console if "Content Security Policy" in c or "Refused" in c], console

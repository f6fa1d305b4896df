"""The admin page in real Chromium: token, upload, preview, save, rebuild — under its own strict CSP.

Run alone with ``pytest -m browser``; skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from tests.browser import Network, PageOpener
from tests.test_admin import NEW_CASE, TOKEN
from tests.webapp import Live, build_web_index, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    settings = build_web_index(tmp_path / "site", with_xss_case=False)
    settings = replace(settings, admin_token=TOKEN, reload_seconds=0.0, rate_limit_per_minute=1_000_000)
    with live_server(settings) as server:
        yield server


@pytest.fixture
def page(open_page: PageOpener, live: Live) -> tuple[Any, Network]:
    network = Network()
    return open_page(live.url + "admin", network), network


def test_editor_uploads_previews_saves_and_rebuilds(page: tuple[Any, Network], live: Live) -> None:
    tab, network = page
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

    upload = live.settings.knowledge_dir.parent / "05-test-platform.md"
    upload.write_text(NEW_CASE, encoding="utf-8")
    tab.set_input_files("#file", str(upload))
    expect(tab.locator("#text")).to_have_value(re.compile("3210件"))
    assert tab.input_value("#name") == "05-test-platform.md"
    assert tab.is_disabled("#save")
    tab.click("#preview")
    tab.wait_for_selector("ol.chunks li")
    assert tab.locator("ol.chunks li").count() == 3 and "新增文件" in tab.inner_text("#preview-out")

    tab.click("#save")
    expect(tab.locator("#message")).to_contain_text("已保存")
    assert (live.settings.knowledge_dir / "05-test-platform.md").read_text(encoding="utf-8") == NEW_CASE

    tab.click("#rebuild")
    expect(tab.locator("#message")).to_contain_text("已生效", timeout=60_000)
    health = httpx.get(live.url + "api/health", trust_env=False).json()
    assert health["index_version"] != served and health["index_version"] in tab.inner_text("#status")

    tab.fill("#text", "没有头信息")
    tab.click("#preview")
    tab.wait_for_selector("#preview-out .problems")
    assert "缺少 YAML 头信息" in tab.inner_text("#preview-out")

    assert network.air_gapped, network.refused
    # Errors are only the expected 401 of the wrong token; nothing the CSP refused.
    assert not [c for c in network.console if "Content Security Policy" in c or "Refused" in c], network.console


def test_workbench_lists_opens_diffs_deletes_undoes_and_edits_checks(open_page: PageOpener, live: Live) -> None:
    """Issue 15's main flow on a 1366×768 office screen, under the page's CSP."""
    network = Network()
    tab = open_page(live.url + "admin", network, width=1366, height=768)
    knowledge = live.settings.knowledge_dir
    tab.fill("#token", TOKEN)
    tab.click("#token-form button")
    expect(tab.locator("#cases tbody tr")).to_have_count(len(list(knowledge.glob("*.md"))))
    expect(tab.locator("#checks")).to_have_value("")

    # open, edit, preview with a diff, save
    tab.click("button[data-open='04-jingkuaiban.md']")
    expect(tab.locator("#text")).to_have_value(re.compile("1714万"))
    tab.fill("#text", tab.input_value("#text").replace("1714万", "1800万"))
    tab.click("#preview")
    expect(tab.locator("pre.diff .del")).to_contain_text("1714万")
    expect(tab.locator("pre.diff .add")).to_contain_text("1800万")
    tab.click("#save")
    expect(tab.locator("#message")).to_contain_text("已替换 04-jingkuaiban.md")
    assert "1800万" in (knowledge / "04-jingkuaiban.md").read_text(encoding="utf-8")

    # a Word paste is cleaned in the preview, and the box shows what will be saved
    pasted = NEW_CASE.replace("3210件", "3210\u00a0件<br>")
    tab.fill("#name", "05-test-platform.md")
    tab.fill("#text", pasted)
    tab.click("#preview")
    expect(tab.locator("#preview-out .notices")).to_contain_text("去除了 HTML 标签 <br>")
    assert "<br>" not in tab.input_value("#text") and "3210件" in tab.input_value("#text")

    # a GBK file (Notepad's old default) is converted in the browser, with a notice
    gbk = knowledge.parent / "05-test-platform.md"
    gbk.write_bytes(NEW_CASE.encode("gbk"))
    tab.set_input_files("#file", str(gbk))
    expect(tab.locator("#text")).to_have_value(re.compile("测试区智慧调解平台上线一年"))
    expect(tab.locator("#message")).to_contain_text("GBK/GB18030")

    # checks.jsonl: a typo is refused naming the line, a good line is saved
    tab.fill("#checks", '{"question": "警快办有多少人注册？", "expect_case": "jingkuaibn"}\n')
    tab.click("#save-checks")
    expect(tab.locator("#message.error")).to_contain_text("第 1 行的 expect_case “jingkuaibn”")
    tab.fill("#checks", '{"question": "警快办有多少人注册？", "expect_case": "jingkuaiban"}\n')
    tab.click("#save-checks")
    expect(tab.locator("#message.ok")).to_contain_text("已保存 checks.jsonl")

    # delete (confirmed) a case a check needs: the rebuild fails and the page offers undo
    before = (knowledge / "04-jingkuaiban.md").read_bytes()
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.click("button[data-delete='04-jingkuaiban.md']")
    expect(tab.locator("#message")).to_contain_text("已删除 04-jingkuaiban.md")
    assert not (knowledge / "04-jingkuaiban.md").exists()
    tab.click("#rebuild")
    expect(tab.locator("#message.error")).to_contain_text("可点“撤销”", timeout=60_000)
    tab.click("button[data-undo='04-jingkuaiban.md']")
    expect(tab.locator("#message")).to_contain_text("恢复为修改前的内容")
    assert (knowledge / "04-jingkuaiban.md").read_bytes() == before
    tab.click("#rebuild")
    expect(tab.locator("#message.ok")).to_contain_text("已生效", timeout=60_000)

    assert network.air_gapped, network.refused
    assert not [c for c in network.console if "Content Security Policy" in c or "Refused" in c], network.console

"""The admin page in real Chromium: token, upload, preview, save, rebuild — under its own strict CSP.

Run alone with ``pytest -m browser``; skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
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
from tests.test_import import _chinese_pdf
from tests.test_workbench import docx_bytes
from tests.webapp import Live, build_web_index, live_server

from qa.qlog import QuestionLog

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


# ---- issue 15/11: versions, rollback, the report, documents --------------------------------------

SCREENSHOTS = os.environ.get("QA_SCREENSHOTS", "")  # a folder: save the flows' screenshots there (docs/)


def snap(tab: Any, selector: str, name: str, height: int = 820) -> None:
    """A screenshot of one section, at most ``height`` pixels tall, without the sticky section links over it."""
    if not SCREENSHOTS:
        return
    tab.evaluate("document.querySelector('nav.jump').style.position = 'static'")
    box = tab.eval_on_selector(  # page coordinates: a full-page clip does not move with the scroll position
        selector, "e => { const r = e.getBoundingClientRect(); return [r.x, r.y + window.scrollY, r.width, r.height]; }"
    )
    clip = {"x": box[0], "y": box[1], "width": box[2], "height": min(box[3], height)}
    tab.screenshot(path=str(Path(SCREENSHOTS) / name), clip=clip, full_page=True)
    tab.evaluate("document.querySelector('nav.jump').style.position = ''")


def connect(open_page: PageOpener, live: Live, network: Network) -> Any:
    tab = open_page(live.url + "admin", network, width=1366, height=768)
    tab.fill("#token", TOKEN)
    tab.click("#token-form button")
    expect(tab.locator("#message.ok")).to_contain_text("已连接")
    return tab


def test_a_word_file_and_a_pdf_become_cases_then_rebuild_history_and_rollback(
    open_page: PageOpener, live: Live, tmp_path: Path
) -> None:
    network = Network()
    tab = connect(open_page, live, network)
    first = httpx.get(live.url + "api/health", trust_env=False).json()["index_version"]
    expect(tab.locator("#versions tbody tr")).to_have_count(1)
    expect(tab.locator("#versions tbody")).to_contain_text("正在使用")

    # a Word file: converted, guessed fields shown with reasons, then edited and saved like any case file
    (tmp_path / "平台介绍.docx").write_bytes(docx_bytes())
    tab.set_input_files("#file", str(tmp_path / "平台介绍.docx"))
    expect(tab.locator("#import-out .proposal")).to_have_count(1)
    expect(tab.locator("#import-out")).to_contain_text("取自Word 文档的标题")
    expect(tab.locator("#import-out")).to_contain_text("测试日报")
    tab.click("#import-out button[data-proposal]")
    expect(tab.locator("#text")).to_have_value(re.compile("调解员 \\| 42名"))
    name = tab.input_value("#name")
    tab.click("#preview")
    expect(tab.locator("#preview-out")).to_contain_text("新增文件")
    tab.click("#save")
    expect(tab.locator("#message")).to_contain_text("已保存 " + name)
    expect(tab.locator("#cases tbody tr", has_text=name)).to_contain_text("新增，待重建")

    # a Chinese PDF: its text layer becomes the proposal
    (tmp_path / "警快办.pdf").write_bytes(
        _chinese_pdf(["重庆公安“警快办”应用注册人数1714万。"], "警快办简介", "上游新闻")
    )
    tab.set_input_files("#file", str(tmp_path / "警快办.pdf"))
    expect(tab.locator("#import-out .proposal")).to_contain_text("注册人数1714万")
    snap(tab, "#sec-edit", "admin-import.png")

    # rebuild: the message names the case added; the history shows the new version and what it changed
    tab.click("#rebuild")
    expect(tab.locator("#message.ok")).to_contain_text("新增：" + name[3:-3], timeout=60_000)
    expect(tab.locator("#versions tbody tr")).to_have_count(2)
    expect(tab.locator("#versions tbody tr").first).to_contain_text("新增 " + name[3:-3])
    expect(tab.locator("#cases tbody tr", has_text=name)).to_contain_text("已生效")

    # rollback (confirmed) to the first version: served at once, and offered back
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.click(f"button[data-rollback='{first}']")
    expect(tab.locator("#message.ok")).to_contain_text("已回滚到索引版本 " + first)
    assert httpx.get(live.url + "api/health", trust_env=False).json()["index_version"] == first
    expect(tab.locator("#status")).to_contain_text(first)
    expect(tab.locator("#versions button[data-rollback]")).to_have_count(1)
    snap(tab, "#sec-versions", "admin-versions.png")

    assert network.air_gapped, network.refused
    assert not [c for c in network.console if "Content Security Policy" in c or "Refused" in c], network.console


def test_the_report_page_groups_by_case_charts_days_and_leaves_rolled_back_versions_out(
    open_page: PageOpener, live: Live
) -> None:
    served = httpx.get(live.url + "api/health", trust_env=False).json()["index_version"]
    abandoned = "20990101T000000000000Z"  # newer than the one published: a version that was rolled back
    log = QuestionLog(live.settings.db_path)
    rows = [
        ("警快办几点下班？", False, 0.0, served),
        ("警快办几点下班？", False, 0.0, served),
        ("今天天气怎么样？", False, 0.0, served),
        ("警快办是谁做的？", True, 0.5, served),
        ("坏版本的问题？", False, 0.0, abandoned),
    ]
    for question, grounded, confidence, version in rows:
        case_ids = [] if "天气" in question else ["jingkuaiban"]
        log.log(question=question, query=question, answer="重庆公安“警快办”应用[1]", case_ids=case_ids,
                grounded=grounded, latency_ms=1, index_version=version, confidence=confidence)  # fmt: skip
    assert log.flush()
    log.close()

    network = Network()
    tab = connect(open_page, live, network)
    out = tab.locator("#report-out")
    expect(out.locator("svg.chart rect.total")).to_have_count(1)
    expect(out).to_contain_text("提问 5，未答出 4（80%）")
    expect(out.locator(".group-head").first).to_contain_text("（04-jingkuaiban.md）：2 次")
    expect(out.locator(".action").first).to_contain_text("补充回答这些问题的段落")
    expect(out).to_contain_text("不涉及任何案例：1 次")
    expect(out).to_contain_text("置信度 0.50")
    expect(out).to_contain_text("〔索引 " + served + "〕")
    expect(out.locator(".rolled")).to_contain_text(abandoned + "（1 个问题）")
    assert "坏版本的问题" not in out.inner_text()
    snap(tab, "#sec-report", "admin-report.png")
    assert network.air_gapped, network.refused
    assert not [c for c in network.console if "Content Security Policy" in c or "Refused" in c], network.console

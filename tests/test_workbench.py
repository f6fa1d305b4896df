"""The workbench's routes beyond single files: version history and rollback, the report, document import."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import pytest
from tests.test_admin import AUTH, NEW_CASE, Admin, admin
from tests.test_import import CASES, NEWS_PAGE, _chinese_pdf

from qa import index as store
from qa.qlog import QuestionLog
from qa.web.workbench import MAX_DOCUMENT_BYTES, _document_name

__all__ = ["admin"]  # the fixture, imported for use here


def upload(admin: Admin, name: str, data: bytes, split: bool = False) -> Any:
    params: dict[str, Any] = {"name": name, "split": split}
    return admin.client.post("/api/admin/import", params=params, content=data, headers=AUTH)


# ---- versions and rollback ---------------------------------------------------------------------


def test_history_lists_versions_with_the_cases_each_changed(admin: Admin) -> None:
    first = admin.get("status").json()["index_version"]
    (admin.settings.knowledge_dir / "05-test-platform.md").write_text(NEW_CASE, encoding="utf-8")
    assert admin.rebuild()["state"] == "done"
    history = admin.get("versions").json()["versions"]
    assert [v["version"] for v in history][1] == first
    newest, oldest = history[0], history[1]
    assert newest["current"] and not newest["previous"] and oldest["previous"]
    assert newest["changes"] == {"added": ["test-platform"], "changed": [], "removed": []}
    assert oldest["changes"] is None and newest["cases"] == oldest["cases"] + 1


def test_rollback_to_a_kept_version_serves_it_at_once(admin: Admin) -> None:
    first = admin.get("status").json()["index_version"]
    (admin.settings.knowledge_dir / "05-test-platform.md").write_text(NEW_CASE, encoding="utf-8")
    assert admin.rebuild()["state"] == "done"
    second = admin.get("status").json()["index_version"]
    done = admin.post("rollback", {"version": first}).json()
    assert done["index_version"] == first == store.current_version(admin.settings.index_dir)
    assert admin.client.get("/api/health").json()["index_version"] == first
    assert [v["version"] for v in done["versions"] if v["previous"]] == [second]  # and back again is offered


def test_rollback_refuses_an_unknown_version_or_a_path(admin: Admin) -> None:
    served = admin.get("status").json()["index_version"]
    for version in ("20990101T000000000000Z", "../index", "current"):
        response = admin.post("rollback", {"version": version})
        assert response.status_code == 404 and "无法回滚" in response.json()["error"]
    assert admin.get("status").json()["index_version"] == served


# ---- the report ---------------------------------------------------------------------------------


def test_the_report_page_data_groups_by_case_and_counts_days(admin: Admin) -> None:
    served = admin.get("status").json()["index_version"]
    log = QuestionLog(admin.settings.db_path)
    for question, grounded, confidence in [("警快办几点下班？", False, 0.0), ("警快办是谁做的？", True, 0.5)]:
        log.log(question=question, query=question, answer="答", case_ids=["jingkuaiban"], grounded=grounded,
                latency_ms=1, index_version=served, confidence=confidence)  # fmt: skip
    assert log.flush()
    log.close()
    report = admin.get("report").json()
    (group,) = report["groups"]
    assert (group["file"], group["total"], group["kind"]) == ("04-jingkuaiban.md", 1, "case")
    assert "补充回答这些问题的段落" in group["action"] and group["questions"][0]["index_version"] == served
    assert [d["question"] for d in report["doubts"]] == ["警快办是谁做的？"]
    assert [(d["total"], d["unanswered"], d["low_confidence"]) for d in report["days"]] == [(2, 1, 1)]


def test_the_report_before_anyone_asked_is_empty_not_an_error(admin: Admin) -> None:
    report = admin.get("report").json()
    assert report["groups"] == [] and report["days"] == [] and report["db_path"].endswith("q.sqlite3")


# ---- documents ------------------------------------------------------------------------------------


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "测试区智慧调解平台"
    document.core_properties.author = "测试日报"
    document.add_heading("测试区智慧调解平台", level=1)
    document.add_paragraph("测试区智慧调解平台上线一年,累计受理纠纷3210件。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "调解员", "42名"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_a_word_file_becomes_a_proposed_case_with_its_guesses(admin: Admin) -> None:
    body = upload(admin, "平台介绍.docx", docx_bytes()).json()
    assert body["valid"], body
    (proposal,) = body["proposals"]
    fields = {f["key"]: f for f in proposal["fields"]}
    assert fields["title"]["value"] == "测试区智慧调解平台" and "Word 文档的标题" in fields["title"]["why"]
    assert fields["source"]["value"] == "测试日报" and proposal["name"].endswith(".md")
    assert "调解员 | 42名" in proposal["text"] and proposal["text"].startswith("---\n")
    saved = admin.post("cases", {"name": proposal["name"], "text": proposal["text"]})  # and it saves as it is
    assert saved.status_code == 200, saved.json()
    assert not list(admin.settings.knowledge_dir.glob("*.docx"))  # the document itself is never kept


def test_a_chinese_pdf_a_news_page_and_a_text_file(admin: Admin) -> None:
    pdf = _chinese_pdf(["“警快办”简介", "重庆公安“警快办”应用注册人数1714万。"], "警快办简介", "上游新闻")
    (proposal,) = upload(admin, "jingkuaiban.pdf", pdf).json()["proposals"]
    assert "注册人数1714万" in proposal["text"] and '"上游新闻"' in proposal["text"]
    page = NEWS_PAGE.format(body="".join(f"<p>{html.escape(p)}</p>" for p in ["评选结果揭晓。", *CASES.splitlines()]))
    clash = upload(admin, "news.htm", page.encode(), split=True).json()  # its second case is already there
    assert not clash["valid"] and any("标题与 04-jingkuaiban.md 相同" in p for p in clash["problems"])
    page = page.replace("不见面就能办", "二期")
    overview, first, second = upload(admin, "news.htm", page.encode(), split=True).json()["proposals"]
    assert overview["name"].startswith("00-") and "首页" not in overview["text"]
    assert '"智慧调解平台"' in first["text"] and second["name"].startswith("02-")
    (text,) = upload(admin, "note.txt", "便民服务中心\n\n中心共有36间调解室。\n".encode("gb18030")).json()["proposals"]
    assert "36间调解室" in text["text"]


def test_unsupported_damaged_or_clashing_documents_are_answered_in_chinese(admin: Admin) -> None:
    wrong = upload(admin, "a.exe", b"MZ").json()
    assert not wrong["valid"] and "只能导入" in wrong["problems"][0]
    damaged = upload(admin, "a.docx", b"not a zip").json()
    assert not damaged["valid"] and "无法读取" in damaged["problems"][0]
    existing = (admin.settings.knowledge_dir / "04-jingkuaiban.md").read_text(encoding="utf-8")
    body = upload(admin, "copy.txt", existing.split("---", 2)[2].encode()).json()
    assert body["valid"]  # a plain-text copy gets a new id; only a same-title import clashes


def test_the_import_takes_a_large_document_but_only_with_the_token(admin: Admin) -> None:
    big = b"x" * (200 * 1024)  # over the 64 KB every other route allows
    response = admin.client.post("/api/admin/import", params={"name": "big.txt"}, content=big)
    assert response.status_code == 401
    assert upload(admin, "big.txt", big).status_code == 200
    too_big = admin.client.post(
        "/api/admin/import", params={"name": "big.txt"}, content=b"x" * (MAX_DOCUMENT_BYTES + 1), headers=AUTH
    )
    assert too_big.status_code == 413 and too_big.json()["error"] == "请求体过大（上限 10 MB）。"
    assert admin.client.post("/api/admin/preview", content=big, headers=AUTH).status_code == 413


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("C:\\Users\\编辑\\材料.docx", "材料.docx"),
        ("../../etc/x.pdf", "x.pdf"),
        ("a\x00b.txt", "a_b.txt"),
        ("", "document"),
    ],
)
def test_document_names_are_bare_and_safe(sent: str, kept: str) -> None:
    assert _document_name(sent) == kept


def test_nothing_from_an_import_reaches_knowledge_until_saved(admin: Admin, tmp_path: Path) -> None:
    before = sorted(p.name for p in admin.settings.knowledge_dir.iterdir())
    assert upload(admin, "平台介绍.docx", docx_bytes()).json()["valid"]
    assert sorted(p.name for p in admin.settings.knowledge_dir.iterdir()) == before


def test_rollback_waits_for_a_running_build(admin: Admin) -> None:
    """The build lock keeps a rollback and a build (here: a `qa index` in a terminal) apart."""
    first = admin.get("status").json()["index_version"]
    (admin.settings.knowledge_dir / "05-test-platform.md").write_text(NEW_CASE, encoding="utf-8")
    assert admin.rebuild()["state"] == "done"
    with store.build_lock(admin.settings.index_dir):
        response = admin.post("rollback", {"version": first})
    assert response.status_code == 409 and "正在运行" in response.json()["error"]
    assert admin.post("rollback", {"version": first}).status_code == 200


def test_the_case_list_shows_served_passages_and_what_awaits_a_rebuild(admin: Admin) -> None:
    path = admin.settings.knowledge_dir / "04-jingkuaiban.md"
    path.write_text(path.read_text(encoding="utf-8").replace("1714万", "1800万"), encoding="utf-8")
    (admin.settings.knowledge_dir / "05-test-platform.md").write_text(NEW_CASE, encoding="utf-8")
    rows = {r["name"]: r for r in admin.get("cases").json()["cases"]}
    assert rows["01-5g-mobile-court.md"]["indexed"] == "same" and rows["01-5g-mobile-court.md"]["chunks"] > 0
    assert rows["04-jingkuaiban.md"]["indexed"] == "changed"
    assert (rows["05-test-platform.md"]["indexed"], rows["05-test-platform.md"]["chunks"]) == ("new", 0)
    assert admin.rebuild()["state"] == "done"
    rows = {r["name"]: r for r in admin.get("cases").json()["cases"]}
    assert {r["indexed"] for r in rows.values()} == {"same"} and rows["05-test-platform.md"]["chunks"] == 3

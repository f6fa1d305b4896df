"""The editors' admin page: preview an upload, save it atomically, rebuild in the background."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.webapp import build_web_index

from qa import index as store
from qa.assistant import Assistant
from qa.config import Settings
from qa.corpus import save_upload
from qa.embedding import HashingEmbedder
from qa.errors import InvalidUpload, RebuildBusy
from qa.qlog import QuestionLog
from qa.web.admin import Rebuilder
from qa.web.server import create_app

TOKEN = "admin-page-token-9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_CASE = """---
id: "test-platform"
title: "智慧调解平台"
unit: "测试区委政法委"
region: "测试区"
level: "区"
rank: 5
source: "测试"
aliases: ["智慧调解平台"]
---
11.重庆市测试区

智慧调解平台

测试区智慧调解平台上线一年,累计受理纠纷3210件,群众满意率96.5%。
"""


@dataclass
class Admin:
    client: TestClient
    settings: Settings

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(f"/api/admin/{path}", json=body, headers=AUTH)

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/admin/{path}", headers=AUTH)

    def rebuild(self, full: bool = False) -> dict[str, Any]:
        """Start a rebuild and wait (bounded) until it is no longer running."""
        assert self.post("rebuild", {"full": full}).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status: dict[str, Any] = self.get("rebuild/status").json()
            if status["state"] != "running":
                return status
            time.sleep(0.05)
        raise AssertionError("rebuild did not finish")


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    settings = replace(
        build_web_index(tmp_path, with_xss_case=False),
        admin_token=TOKEN,
        reload_seconds=0.0,
        rate_limit_per_minute=1_000_000,
    )
    assistant = Assistant.load(settings=settings, embedder=HashingEmbedder())
    app = create_app(assistant, settings, QuestionLog(settings.db_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Admin(client, settings)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".undo"]  # .undo: for undo


# ---- preview -------------------------------------------------------------------------------


def test_preview_shows_the_parsed_case_and_its_chunks(admin: Admin) -> None:
    body = admin.post("preview", {"name": "05-test-platform.md", "text": NEW_CASE}).json()
    assert body["valid"] and body["problems"] == [] and body["replaces"] is False
    assert body["case"]["id"] == "test-platform" and body["case"]["rank"] == 5 and body["case"]["paragraphs"] == 3
    assert [c["paragraph"] for c in body["chunks"]] == [1, 2, 3]
    assert "3210件" in body["chunks"][2]["text"]
    assert not (admin.settings.knowledge_dir / "05-test-platform.md").exists()  # a preview writes nothing


def test_preview_of_an_existing_file_says_it_replaces_it(admin: Admin) -> None:
    text = (admin.settings.knowledge_dir / "04-jingkuaiban.md").read_text(encoding="utf-8")
    body = admin.post("preview", {"name": "04-jingkuaiban.md", "text": text}).json()
    assert body["valid"] and body["replaces"] is True


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("05-test-platform.md", "没有头信息的正文", "缺少 YAML 头信息"),
        ("05-test-platform.md", "---\ntitle: [\n---\n正文", "YAML 头信息格式错误"),
        ("05-test-platform.md", NEW_CASE.replace('title: "智慧调解平台"\n', ""), "缺少 title"),
        ("05-test-platform.md", NEW_CASE.replace('level: "区"', f'level: "{"长" * 21}"'), "level 过长"),
        ("05-test-platform.md\n", NEW_CASE, "两位序号-案例id.md"),
        ("../05-test-platform.md", NEW_CASE, "不能包含目录"),
        ("sub/05-test-platform.md", NEW_CASE, "不能包含目录"),
        ("test-platform.md", NEW_CASE, "两位序号-案例id.md"),
        ("05-test-platform.txt", NEW_CASE, "两位序号-案例id.md"),
        ("11-other-name.md", NEW_CASE, "与头信息中的 id “test-platform”不一致"),
        ("12-test-platform.md", NEW_CASE, "文件名序号 12 与 rank（5）不一致"),
        ("11-jingkuaiban.md", NEW_CASE.replace("test-platform", "jingkuaiban"), "已被 04-jingkuaiban.md 使用"),
    ],
    ids=[
        "no-front-matter",
        "bad-yaml",
        "no-title",
        "bad-level",
        "trailing-newline",
        "dotdot",
        "subdir",
        "no-rank",
        "txt",
        "id",
        "rank",
        "dup",
    ],
)
def test_preview_and_save_refuse_invalid_files_in_chinese(admin: Admin, name: str, text: str, problem: str) -> None:
    before = sorted(p.name for p in admin.settings.knowledge_dir.iterdir())
    preview = admin.post("preview", {"name": name, "text": text}).json()
    assert preview["valid"] is False and any(problem in p for p in preview["problems"]), preview["problems"]
    saved = admin.post("cases", {"name": name, "text": text})
    assert saved.status_code == 400 and problem in saved.json()["error"] and "文件未保存" in saved.json()["error"]
    assert sorted(p.name for p in admin.settings.knowledge_dir.iterdir()) == before
    assert not (admin.settings.knowledge_dir.parent / "05-test-platform.md").exists()


def test_oversized_or_malformed_uploads_get_a_chinese_400(admin: Admin) -> None:
    for body in [{"name": "11-x.md", "text": "字" * 20_001}, {"name": "11-x.md"}, {"name": 11, "text": "x"}]:
        response = admin.post("preview", body)
        assert response.status_code == 400 and response.json()["error"]


# ---- save ----------------------------------------------------------------------------------


def test_save_writes_the_file_atomically(admin: Admin) -> None:
    response = admin.post("cases", {"name": "05-test-platform.md", "text": NEW_CASE})
    assert response.status_code == 200
    assert response.json() == {
        "saved": "05-test-platform.md",
        "case_id": "test-platform",
        "replaced": False,
        "undo": ["05-test-platform.md"],
    }
    path = admin.settings.knowledge_dir / "05-test-platform.md"
    assert path.read_text(encoding="utf-8") == NEW_CASE and path.stat().st_mode & 0o777 == 0o644
    assert leftovers(admin.settings.knowledge_dir) == []
    again = admin.post("cases", {"name": "05-test-platform.md", "text": NEW_CASE.replace("3210", "3300")})
    assert again.json()["replaced"] is True and "3300件" in path.read_text(encoding="utf-8")


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("qa.corpus.os.replace", broken_replace)
    with pytest.raises(OSError):
        save_upload(tmp_path, "05-test-platform.md", NEW_CASE)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidUpload):
        save_upload(tmp_path, "../evil.md", NEW_CASE)


# ---- rebuild -------------------------------------------------------------------------------


def test_upload_then_rebuild_serves_the_new_case(admin: Admin) -> None:
    before = admin.client.get("/api/health").json()["index_version"]
    assert admin.post("cases", {"name": "05-test-platform.md", "text": NEW_CASE}).status_code == 200
    status = admin.rebuild()
    assert status["state"] == "done", status
    assert status["report"]["added"] == ["test-platform"] and "已生效" in status["message"]
    health = admin.client.get("/api/health").json()
    assert health["index_version"] == status["report"]["version"] != before
    answer = admin.client.post("/api/ask", json={"question": "智慧调解平台受理了多少纠纷？"}).json()["answer"]
    assert "3210件" in answer


def test_a_failed_rebuild_does_not_touch_what_is_served(admin: Admin) -> None:
    before = admin.client.get("/api/health").json()["index_version"]
    (admin.settings.knowledge_dir / "99-broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    status = admin.rebuild()
    assert status["state"] == "failed" and "正在使用的索引未受影响" in status["message"]
    assert "99-broken.md" in status["message"]
    assert admin.client.get("/api/health").json()["index_version"] == before
    assert store.current_version(admin.settings.index_dir) == before
    assert "1714万" in admin.client.post("/api/ask", json={"question": "警快办有多少人注册？"}).json()["answer"]


def test_only_one_rebuild_runs_at_a_time(tmp_path: Path) -> None:
    settings = build_web_index(tmp_path, with_xss_case=False)
    entered, release = threading.Event(), threading.Event()

    class Gate(HashingEmbedder):
        """Holds the build inside its embedding step until the test lets it go."""

        def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
            if len(texts) > 1:
                entered.set()
                release.wait(10)
            return super().embed_passages(texts, progress)

    rebuilder = Rebuilder(Assistant.load(settings=settings, embedder=Gate()), settings)
    assert rebuilder.start(full=True)["state"] == "running"
    assert entered.wait(10)
    assert rebuilder.status()["step"].startswith("生成向量")
    with pytest.raises(RebuildBusy):
        rebuilder.start()
    release.set()
    deadline = time.monotonic() + 30
    while rebuilder.status()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rebuilder.status()["state"] == "done"


# ---- the page ------------------------------------------------------------------------------


def test_admin_page_is_self_contained(admin: Admin) -> None:
    page = admin.client.get("/admin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "知识库管理" in page.text
    for asset, kind in [("admin.js", "javascript"), ("admin.css", "css")]:
        response = admin.client.get(f"/admin/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        text = response.text.replace('"http://www.w3.org/2000/svg"', "")  # the chart's SVG namespace: a name, no fetch
        assert "http://" not in text and "https://" not in text  # nothing from a CDN
    assert "innerHTML" not in admin.client.get("/admin/admin.js").text
    assert admin.client.get("/admin/../pyproject.toml").status_code == 404
    assert admin.client.get("/admin/secret.txt").status_code == 404


# ---- the workbench: list, open, diff, delete, checks, undo (issue 15) ----------------------


def test_list_open_and_diff_before_saving(admin: Admin) -> None:
    listed = admin.get("cases").json()
    row = next(r for r in listed["cases"] if r["name"] == "04-jingkuaiban.md")
    assert row["id"] == "jingkuaiban" and row["rank"] == 4 and row["batch"] == "" and row["modified"]
    assert listed["undo"] == []
    text = admin.get("cases/04-jingkuaiban.md").json()["text"]
    assert text == (admin.settings.knowledge_dir / "04-jingkuaiban.md").read_text(encoding="utf-8")
    assert admin.get("cases/..%2Fsecret.md").status_code == 404 and admin.get("cases/checks.jsonl").status_code == 404
    edited = text.replace("1714万", "1800万")
    preview = admin.post("preview", {"name": "04-jingkuaiban.md", "text": edited}).json()
    assert "\n-" in preview["diff"] and "+" in preview["diff"] and "1800万" in preview["diff"]
    assert admin.post("preview", {"name": "04-jingkuaiban.md", "text": text}).json()["diff"] == ""


def test_a_paste_preview_reports_the_cleaning_and_the_save_stores_it_clean(admin: Admin) -> None:
    pasted = NEW_CASE.replace("3210件", "3210\u00a0件<br>").replace(
        '"智慧调解平台"\nunit', '"<b>智慧调解平台</b>"\nunit'
    )
    preview = admin.post("preview", {"name": "05-test-platform.md", "text": pasted}).json()
    assert preview["valid"] and preview["case"]["title"] == "智慧调解平台"
    assert any("HTML 标签 <b>、<br>" in n and "第 3、15 行" in n for n in preview["notices"])
    assert "<" not in preview["text"] and "3210件" in preview["text"]
    admin.post("cases", {"name": "05-test-platform.md", "text": pasted})
    assert "<" not in (admin.settings.knowledge_dir / "05-test-platform.md").read_text(encoding="utf-8")


def test_a_gbk_upload_gets_a_chinese_fix_not_a_field_error(admin: Admin) -> None:
    garbled = NEW_CASE.encode("gbk").decode("utf-8", errors="replace")
    preview = admin.post("preview", {"name": "05-test-platform.md", "text": garbled}).json()
    assert not preview["valid"] and len(preview["problems"]) == 1
    assert "含乱码" in preview["problems"][0] and "另存为" in preview["problems"][0]


def test_delete_and_undo_restore_the_file_byte_for_byte(admin: Admin) -> None:
    path = admin.settings.knowledge_dir / "04-jingkuaiban.md"
    before = path.read_bytes()
    response = admin.client.delete("/api/admin/cases/04-jingkuaiban.md", headers=AUTH)
    assert response.status_code == 200 and not path.exists() and response.json()["undo"] == ["04-jingkuaiban.md"]
    assert admin.client.delete("/api/admin/cases/checks.jsonl", headers=AUTH).status_code == 400
    undone = admin.post("undo", {"name": "04-jingkuaiban.md"}).json()
    assert "恢复" in undone["message"] and path.read_bytes() == before and undone["undo"] == []
    assert admin.post("undo", {"name": "04-jingkuaiban.md"}).status_code == 400


def test_checks_are_edited_with_validation(admin: Admin) -> None:
    bad = '{"question": "警快办有多少人注册？", "expect_case": "jingkuaibn"}\n'
    response = admin.client.put("/api/admin/checks", json={"text": bad}, headers=AUTH)
    assert response.status_code == 400 and "第 1 行的 expect_case “jingkuaibn”" in response.json()["error"]
    good = bad.replace("jingkuaibn", "jingkuaiban")
    assert admin.client.put("/api/admin/checks", json={"text": good}, headers=AUTH).status_code == 200
    assert admin.get("checks").json()["text"] == good


def test_after_a_failed_rebuild_the_deleted_file_can_be_undone(admin: Admin) -> None:
    checks = admin.settings.knowledge_dir / "checks.jsonl"
    checks.write_text('{"question": "警快办有多少人注册？", "expect_case": "jingkuaiban"}\n', encoding="utf-8")
    path = admin.settings.knowledge_dir / "04-jingkuaiban.md"
    before = path.read_bytes()
    assert admin.client.delete("/api/admin/cases/04-jingkuaiban.md", headers=AUTH).status_code == 200
    status = admin.rebuild()
    assert status["state"] == "failed" and "checks.jsonl" in status["message"]
    assert "04-jingkuaiban.md" in admin.get("status").json()["undo"]
    admin.post("undo", {"name": "04-jingkuaiban.md"})
    assert path.read_bytes() == before and admin.rebuild()["state"] == "done"

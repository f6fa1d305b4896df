"""The `qa` command at the edge: Chinese messages, exit codes, the old index left serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import assistant, embedding
from qa import index as store
from qa.cli import main
from qa.config import Settings
from qa.embedding import HashingEmbedder


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> CliRunner:
    fake = lambda _settings: HashingEmbedder()  # noqa: E731
    monkeypatch.setattr(embedding, "load_embedder", fake)
    monkeypatch.setattr(assistant, "load_embedder", fake)
    monkeypatch.setenv("QA_KNOWLEDGE_DIR", str(settings.knowledge_dir))
    monkeypatch.setenv("QA_INDEX_DIR", str(settings.index_dir))
    return CliRunner()


def test_index_prints_a_summary_then_ask_answers(runner: CliRunner, settings: Settings) -> None:
    result = runner.invoke(main, ["index"])
    assert result.exit_code == 0, result.output
    assert "11 个案例" in result.output and "秒" in result.output and "新增" in result.output
    result = runner.invoke(main, ["ask", "警快办注册人数是多少？", "--json"])
    reply = json.loads(result.output)
    assert "1714万" in reply["answer"] and reply["citations"][0]["case_id"] == "jingkuaiban"


def test_bad_files_are_named_and_the_old_index_stays(runner: CliRunner, settings: Settings) -> None:
    assert runner.invoke(main, ["index"]).exit_code == 0
    before = store.current_version(settings.index_dir)
    (settings.knowledge_dir / "98-empty.md").write_text("---\nid: e\ntitle: 空\nunit: u\nlevel: 区\n---\n", "utf-8")
    (settings.knowledge_dir / "99-notes.txt").write_text("草稿", "utf-8")
    result = runner.invoke(main, ["index"])
    assert result.exit_code == 2
    assert "98-empty.md: 正文为空" in result.output and "99-notes.txt" in result.output
    assert store.current_version(settings.index_dir) == before


def test_dry_run_and_rollback(runner: CliRunner, settings: Settings) -> None:
    assert runner.invoke(main, ["index"]).exit_code == 0
    first = store.current_version(settings.index_dir)
    path = next(Path(settings.knowledge_dir).glob("04-*.md"))
    path.write_text(path.read_text("utf-8").replace("1714万", "1800万"), "utf-8")
    preview = runner.invoke(main, ["index", "--dry-run"])
    assert "预演" in preview.output and "jingkuaiban" in preview.output
    assert store.current_version(settings.index_dir) == first
    assert runner.invoke(main, ["index"]).exit_code == 0
    result = runner.invoke(main, ["index", "--rollback"])
    assert result.exit_code == 0 and first in result.output
    assert store.current_version(settings.index_dir) == first


def test_ask_without_index_says_how_to_build_it(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ask", "你好"])
    assert result.exit_code == 1 and "qa index" in result.output


def test_report_names_the_case_file_to_fix(
    runner: CliRunner, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.qlog import QuestionLog

    log = QuestionLog(settings.db_path)
    log.log(
        question="警快办几点下班？",
        query="警快办几点下班？",
        answer="没有",
        case_ids=["jingkuaiban"],
        grounded=False,
        latency_ms=1.0,
    )
    assert log.flush()
    log.close()
    monkeypatch.setenv("QA_DB", str(settings.db_path))
    result = runner.invoke(main, ["report"])
    assert result.exit_code == 0, result.output
    assert "（04-jingkuaiban.md）：1 次 → 原文有依据时" in result.output


def test_a_gbk_case_and_a_bad_check_line_in_the_cli(runner: CliRunner, settings: Settings) -> None:
    path = settings.knowledge_dir / "04-jingkuaiban.md"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    result = runner.invoke(main, ["index", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "提示：04-jingkuaiban.md：文件是 GBK/GB18030 编码，已自动按 GB18030 读取" in result.output
    (settings.knowledge_dir / "checks.jsonl").write_text('{"question": "坏行"\n', encoding="utf-8")
    result = runner.invoke(main, ["index", "--dry-run"])
    assert result.exit_code == 2 and "checks.jsonl: 第 1 行不是有效的 JSON" in result.output

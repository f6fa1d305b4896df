"""The question log: rows, feedback, the editors' report, and failures that must not touch answering."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.webapp import build_web_index

from qa.assistant import Assistant
from qa.cli import main
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.qlog import QuestionLog
from qa.web.service import ChatService

QUESTION = "警快办有多少人注册？"


def entry(question: str = QUESTION, grounded: bool = True, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "question": question,
        "query": question,
        "answer": "答案[1]",
        "case_ids": ["jingkuaiban", "jingkuaiban"],
        "grounded": grounded,
        "latency_ms": 12.345,
    }
    data.update(extra)
    return data


@pytest.fixture
def qlog(tmp_path: Path) -> Iterator[QuestionLog]:
    log = QuestionLog(tmp_path / "data" / "q.sqlite3")
    yield log
    log.close()


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    settings = build_web_index(tmp_path_factory.mktemp("qlog"), with_xss_case=False)
    return Assistant.load(settings=settings, embedder=HashingEmbedder())


def service_with(assistant: Assistant, qlog: QuestionLog) -> ChatService:
    return ChatService(assistant, qlog, Settings(db_path=qlog.db_path))


def warnings_from_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "qa.qlog" and r.levelno >= logging.WARNING]


# ---- rows and feedback ------------------------------------------------------------------------


def test_log_writes_a_row_in_the_background(qlog: QuestionLog) -> None:
    row_id = qlog.log(**entry(session_id="abc", ip="10.0.0.1"))
    assert len(row_id) == 32
    assert qlog.flush()
    [row] = qlog.rows()
    assert row["id"] == row_id and row["question"] == QUESTION and row["session_id"] == "abc"
    assert row["case_ids"] == '["jingkuaiban"]'  # de-duplicated, order kept
    assert row["grounded"] == 1 and row["latency_ms"] == 12.35 and row["asked_at"].startswith(str(date.today())[:4])
    assert row["ip"] is None  # not stored unless QA_LOG_IP is on


def test_ip_is_stored_only_when_enabled(tmp_path: Path) -> None:
    qlog = QuestionLog(tmp_path / "q.sqlite3", log_ip=True)
    qlog.log(**entry(ip="10.0.0.1"))
    assert qlog.flush()
    assert qlog.rows()[0]["ip"] == "10.0.0.1"
    qlog.close()


def test_feedback_updates_the_row(qlog: QuestionLog) -> None:
    row_id = qlog.log(**entry())
    other = qlog.log(**entry("另一个问题"))
    for liked, stored in ((True, 1), (False, -1), (None, None)):
        qlog.feedback(row_id, liked)
        assert qlog.flush()
        rows = {r["id"]: r for r in qlog.rows()}
        assert rows[row_id]["feedback"] == stored
        assert rows[other]["feedback"] is None
    assert rows[row_id]["feedback_at"]


# ---- the report -------------------------------------------------------------------------------


def test_report_lists_unanswered_disliked_and_daily_counts(qlog: QuestionLog) -> None:
    for _ in range(3):
        qlog.log(**entry("今天天气怎么样？", grounded=False))
    qlog.log(**entry("火星上有法院吗？", grounded=False))
    disliked = qlog.log(**entry("荣昌调解室有多少间？"))
    qlog.feedback(disliked, False)
    qlog.feedback(qlog.log(**entry()), True)
    assert qlog.flush()
    report = qlog.report(limit=10)
    unanswered, disliked_part, _channels, daily = report.split("\n\n")
    assert "未答出" in unanswered
    assert unanswered.index("3 次  今天天气怎么样？") < unanswered.index("1 次  火星上有法院吗？")
    assert "荣昌调解室有多少间？" in disliked_part and QUESTION not in disliked_part
    assert "提问     6" in daily and "未答出    4" in daily and "赞    1" in daily and "踩    1" in daily


def test_report_shows_the_widget_and_the_chat_apart(qlog: QuestionLog) -> None:
    widget = [qlog.log(**entry(channel="widget", session_id="w-0123")) for _ in range(3)]
    chat = qlog.log(**entry("荣昌调解室有多少间？", channel="chat", session_id="abc"))
    qlog.log(**entry("今天天气怎么样？", grounded=False, channel="api"))
    qlog.feedback(widget[0], True)
    qlog.feedback(widget[1], False)
    qlog.feedback(chat, False)
    assert qlog.flush()
    assert [r["channel"] for r in qlog.rows()] == ["widget"] * 3 + ["chat", "api"]
    _, disliked, channels, _ = qlog.report().split("\n\n")
    assert "门户小窗口：提问 3，未答出 0，赞 1，踩 1" in channels
    assert "聊天页面：提问 1，未答出 0，赞 0，踩 1" in channels
    assert "REST 接口：提问 1，未答出 1，赞 0，踩 0" in channels
    assert "[门户小窗口] 问：" in disliked and "[聊天页面] 问：荣昌调解室有多少间？" in disliked


def test_a_log_from_before_channels_gains_the_column_and_widget_rows_are_recognised(tmp_path: Path) -> None:
    """Old rows have no channel; the widget's session ids ("w-…") still tell its rows apart in the report."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE questions (id TEXT PRIMARY KEY, asked_at TEXT NOT NULL, session_id TEXT, question TEXT NOT NULL,"
        " query TEXT, answer TEXT, case_ids TEXT, grounded INTEGER, latency_ms REAL, feedback INTEGER,"
        " feedback_at TEXT, ip TEXT)"
    )
    conn.execute(
        "INSERT INTO questions VALUES ('a', '2026-01-01T00:00:00', 'w-01', 'q', 'q', 'a', '[]', 1, 1, -1, NULL, NULL)"
    )
    conn.execute(
        "INSERT INTO questions VALUES ('b', '2026-01-01T00:00:01', 'xyz', 'q', 'q', 'a', '[]', 1, 1, NULL, NULL, NULL)"
    )
    conn.commit()
    conn.close()
    old = QuestionLog(path)
    assert "门户小窗口：提问 1，未答出 0，赞 0，踩 1" in old.report()  # read before the writer ever ran
    assert "未记录：提问 1" in old.report()
    old.log(**entry(channel="chat"))
    assert old.flush()
    assert [r["channel"] for r in old.rows()] == [None, None, "chat"]
    old.close()


def test_report_limit_and_empty_sections(qlog: QuestionLog) -> None:
    for n in range(5):
        qlog.log(**entry(f"没有答案的问题{n}", grounded=False))
    assert qlog.flush()
    report = qlog.report(limit=2)
    assert report.count("没有答案的问题") == 2
    assert "（无）" in report  # nothing disliked yet


def test_report_before_anyone_asked(tmp_path: Path) -> None:
    assert "还不存在" in QuestionLog(tmp_path / "none.sqlite3").report()
    assert not (tmp_path / "none.sqlite3").exists()  # reading never creates the database


def test_qa_report_command(qlog: QuestionLog, monkeypatch: pytest.MonkeyPatch) -> None:
    qlog.log(**entry("今天天气怎么样？", grounded=False))
    assert qlog.flush()
    monkeypatch.setenv("QA_DB", str(qlog.db_path))
    result = CliRunner().invoke(main, ["report", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "今天天气怎么样？" in result.output and "每日提问量" in result.output


# ---- failures: answering goes on, the failure is logged once -----------------------------------


def ask_many(service: ChatService, n: int = 5) -> float:
    """Seconds to answer n questions; every one must be answered."""
    started = time.perf_counter()
    for i in range(n):
        answered = service.ask(f"{QUESTION}{'？' * i}")
        assert answered.reply.grounded and answered.log_id
    return time.perf_counter() - started


def test_a_locked_database_neither_slows_nor_breaks_answering(
    assistant: Assistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    qlog = QuestionLog(tmp_path / "q.sqlite3", busy_timeout=0.5)
    service = service_with(assistant, qlog)
    service.ask(QUESTION)
    assert qlog.flush()
    locker = sqlite3.connect(qlog.db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        assert ask_many(service) < 0.5  # each write would wait 0.5 s; answering must not
        assert qlog.flush(timeout=10)
        assert len(warnings_from_log(caplog)) == 1
        assert service.health()["question_log"] == "degraded"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    service.ask("荣昌调解中心有多少间调解室？")  # the lock is gone: logging resumes by itself
    assert qlog.flush()
    assert len(qlog.rows()) == 2  # the first row and the one after the lock; the five in between were dropped
    assert service.health()["question_log"] == "ok"
    assert len(warnings_from_log(caplog)) == 1
    qlog.close()


def test_an_unwritable_location_neither_slows_nor_breaks_answering(
    assistant: Assistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log's folder should be")  # fails even for root, unlike chmod
    qlog = QuestionLog(blocker / "q.sqlite3")
    service = service_with(assistant, qlog)
    assert ask_many(service) < 1.0
    assert qlog.flush()
    assert len(warnings_from_log(caplog)) == 1
    qlog.close()


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for this process; root ignores modes, so root gets the immutable flag."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root on a file system without the immutable flag: cannot make a read-only folder")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_directory_neither_slows_nor_breaks_answering(
    assistant: Assistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        assert not os.access(folder, os.W_OK) or os.geteuid() == 0
        qlog = QuestionLog(folder / "q.sqlite3")
        service = service_with(assistant, qlog)
        assert ask_many(service) < 1.0
        assert qlog.flush()
        assert len(warnings_from_log(caplog)) == 1
        assert not (folder / "q.sqlite3").exists()
        qlog.close()


class TinyDisk(QuestionLog):
    """A log whose database cannot grow: SQLite's own "database or disk is full" error."""

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn


def test_a_full_disk_neither_slows_nor_breaks_answering(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    qlog = TinyDisk(tmp_path / "q.sqlite3")
    for _ in range(20):
        qlog.log(**entry(answer="很长的答案" * 2000))
    assert qlog.flush()
    failures = warnings_from_log(caplog)
    assert len(failures) == 1 and "full" in failures[0].getMessage()
    qlog.close()


def test_a_stuck_writer_drops_records_instead_of_blocking(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    qlog = QuestionLog(tmp_path / "q.sqlite3", busy_timeout=0.2, max_pending=3)
    qlog.log(**entry())
    assert qlog.flush()
    locker = sqlite3.connect(qlog.db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        for _ in range(50):
            qlog.log(**entry())
        assert time.perf_counter() - started < 0.2
        time.sleep(0.5)  # let the writer time out on the lock at least once
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert qlog.flush(timeout=10)
    messages = [r.getMessage() for r in warnings_from_log(caplog)]
    assert len(messages) == 2 and any("dropping" in m for m in messages)  # one for the lock, one for the overflow
    qlog.close()


def test_the_report_says_what_to_fix_grouped_by_case(qlog: QuestionLog) -> None:
    for _ in range(2):
        qlog.log(**entry("警快办的客服电话是多少？", grounded=False))
    qlog.log(**entry("警快办几点下班？", grounded=False))
    qlog.log(**entry("今天天气怎么样？", grounded=False, case_ids=[]))
    qlog.log(**entry("旧案例的问题？", grounded=False, case_ids=["gone"]))
    qlog.log(**entry())  # answered: not to fix
    assert qlog.flush()
    cases = {"jingkuaiban": ("“警快办”——不见面就能办", "04-jingkuaiban.md")}
    to_fix = qlog.report(cases=cases).split("\n\n")[0]
    lines = to_fix.splitlines()
    assert lines[0].startswith("下一步要处理的")
    assert lines[1].startswith("  《“警快办”——不见面就能办》（04-jingkuaiban.md）：3 次 → 原文有依据时，在该案例补充")
    assert "checks.jsonl" in lines[1] and lines[2].endswith("2 次  警快办的客服电话是多少？  〔索引 未记录〕")
    assert "  案例 gone（已不在知识库中）：1 次" in to_fix and "不涉及任何案例：1 次 → 多半与主题无关" in to_fix
    assert len(qlog.report().split("\n\n")) == 4  # without the cases, the report is as before


# ---- issue 15/11: control characters, index versions, rollbacks, low confidence ------------------------

HOSTILE = "警快办\x1b[2J\x1b]0;owned\x07电话\x9b31m？\u202e\nfake line\x00"


def test_control_characters_are_stripped_before_storing(qlog: QuestionLog) -> None:
    qlog.log(**entry(HOSTILE, grounded=False, answer="第一行\n\t第二行\x1b[31m红"))
    assert qlog.flush()
    (row,) = qlog.rows()
    assert row["question"] == "警快办电话 31m？ fake line"  # whole sequences gone, one line
    assert row["answer"] == "第一行\n\t第二行红"  # an answer keeps its newlines and tabs
    report = qlog.report(cases={})
    assert not set(report) & {"\x1b", "\x07", "\x00", "\x9b", "\u202e"}


def test_rows_stored_raw_by_an_older_release_are_escaped_on_output(qlog: QuestionLog) -> None:
    qlog.log(**entry("占位", grounded=False))
    assert qlog.flush()
    conn = sqlite3.connect(qlog.db_path)
    conn.execute("UPDATE questions SET question = ?, answer = ?, feedback = -1", (HOSTILE, "\x1b]0;title\x07答"))
    conn.commit()
    conn.close()
    for report in (qlog.report(), qlog.report(cases={})):
        assert "\x1b" not in report and "\x07" not in report and "\u202e" not in report
        assert "警快办\\x1b[2J\\x1b]0;owned\\x07电话" in report  # visible, not executed
        assert "fake line" in report and "\nfake line" not in report  # no forged report line


def test_qa_report_escapes_what_reaches_the_terminal(qlog: QuestionLog, monkeypatch: pytest.MonkeyPatch) -> None:
    qlog.log(**entry("占位", grounded=False))
    assert qlog.flush()
    conn = sqlite3.connect(qlog.db_path)
    conn.execute("UPDATE questions SET question = ?", (HOSTILE,))
    conn.commit()
    conn.close()
    monkeypatch.setenv("QA_DB", str(qlog.db_path))
    result = CliRunner().invoke(main, ["report"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\\x1b[2J" in result.output


def test_the_report_shows_versions_and_leaves_rolled_back_ones_out(qlog: QuestionLog) -> None:
    old, bad, new = "20260101T000000000000Z", "20260102T000000000000Z", "20260103T000000000000Z"
    qlog.log(**entry("警快办几点下班？", grounded=False, index_version=old))
    qlog.log(**entry("坏版本答不出的问题？", grounded=False, index_version=bad))
    qlog.log(**entry("回滚后的问题？", grounded=False, index_version=old))  # served old again: bad was rolled back
    qlog.log(**entry("新版本的问题？", grounded=False, index_version=new))
    assert qlog.flush()
    cases = {"jingkuaiban": ("“警快办”——不见面就能办", "04-jingkuaiban.md")}
    report = qlog.report(cases=cases, current_version=new)
    assert "警快办几点下班？  〔索引 20260101T000000000000Z〕" in report
    assert "新版本的问题？  〔索引 20260103T000000000000Z〕" in report
    assert "坏版本答不出的问题" not in report.split("\n\n")[0]
    assert f"已回滚的索引版本回答的问题未计入以上两项：{bad}（1 个问题）" in report
    findings = qlog.findings(cases, current_version=old)  # published now: old; new is newer, so rolled back too
    assert findings["rolled_back"] == {bad: 1, new: 1}


def test_low_confidence_answers_are_listed_not_only_dislikes(qlog: QuestionLog) -> None:
    qlog.log(**entry("警快办是谁做的？", confidence=0.62, answer="重庆公安“警快办”应用[1]"))
    qlog.log(**entry("警快办有多少人注册？", confidence=1.0))
    qlog.log(**entry("旧记录？"))  # no confidence recorded: not judged
    assert qlog.flush()
    cases = {"jingkuaiban": ("“警快办”——不见面就能办", "04-jingkuaiban.md")}
    doubts = qlog.report(cases=cases).split("\n\n")[1]
    assert doubts.startswith("置信度低的回答")
    assert "置信度 0.62  《“警快办”——不见面就能办》  问：警快办是谁做的？" in doubts
    assert "警快办有多少人注册" not in doubts and "旧记录" not in doubts
    (day,) = qlog.findings(cases, None)["days"]
    assert (day["total"], day["unanswered"], day["low_confidence"]) == (3, 0, 1)


def test_the_service_logs_the_serving_version_and_a_confidence(assistant: Assistant, qlog: QuestionLog) -> None:
    service = service_with(assistant, qlog)
    service.ask("警快办有多少人注册？")
    service.ask("今天天气怎么样？")
    assert qlog.flush()
    answered, refused = qlog.rows()
    assert answered["index_version"] == refused["index_version"] == assistant.version
    assert 0 < answered["confidence"] <= 1 and refused["confidence"] == 0


def test_a_log_without_the_new_columns_is_read_and_then_extended(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE questions (id TEXT PRIMARY KEY, asked_at TEXT NOT NULL, session_id TEXT, question TEXT NOT NULL,"
        " query TEXT, answer TEXT, case_ids TEXT, grounded INTEGER, latency_ms REAL, feedback INTEGER,"
        " feedback_at TEXT, ip TEXT, channel TEXT)"
    )
    conn.execute("INSERT INTO questions VALUES ('a', '2026-01-01T00:00:00', 's', '问？', 'q', 'a', '[]', 0, 1,"
                 " NULL, NULL, NULL, 'chat')")  # fmt: skip
    conn.commit()
    conn.close()
    old = QuestionLog(path)
    assert "问？  〔索引 未记录〕" in old.report(cases={})
    old.log(**entry(index_version="v1", confidence=0.5))
    assert old.flush()
    assert [r["index_version"] for r in old.rows()] == [None, "v1"]
    old.close()


def test_the_log_defaults_to_beside_the_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Not relative to the folder the server starts in: the server and `qa report` find the same log."""
    monkeypatch.delenv("QA_DB", raising=False)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    assert Settings.from_env().db_path == tmp_path / "idx" / "questions.sqlite3"
    assert Settings.from_env(index_dir=tmp_path / "other").db_path == tmp_path / "other" / "questions.sqlite3"
    assert Settings(index_dir=tmp_path / "x").db_path == tmp_path / "x" / "questions.sqlite3"
    monkeypatch.setenv("QA_DB", str(tmp_path / "mine.sqlite3"))  # an explicit QA_DB still wins
    assert Settings.from_env().db_path == tmp_path / "mine.sqlite3"
    assert Settings.from_env(index_dir=tmp_path / "other").db_path == tmp_path / "mine.sqlite3"


def test_qa_report_points_at_a_log_left_at_the_old_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_DB", raising=False)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    old = QuestionLog(tmp_path / "data" / "questions.sqlite3")
    old.log(**entry())
    assert old.flush()
    old.close()
    result = CliRunner().invoke(main, ["report"])
    assert result.exit_code == 0, result.output
    assert "还不存在" in result.output and "data/questions.sqlite3 是旧版本默认位置的问答日志" in result.output

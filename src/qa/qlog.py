"""The question log: one SQLite row per answered question, for editors.

Answering must never wait for, or fail because of, the log. So ``log`` and
``feedback`` only put a record on a bounded in-memory queue and return at once;
one background thread does every write, in order. Row ids are made here (random
hex), not by SQLite, so ``log`` can return one before the row exists, and so the
ids that clients get for feedback cannot be guessed.

When writing fails (database locked, disk full, read-only folder) the failure is
logged once, the records are dropped, and answering goes on; if writes start to
succeed again, that is logged too and a later failure is reported again.

Under load the writer takes everything already queued (up to ``WRITE_BATCH``
records) into one transaction: one commit, and so one disk sync, per batch
instead of per question, which is what lets the log keep up with hundreds of
cached answers a second.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import QAError
from .qreport import analyse, format_findings, read_rows, shown, storable

log = logging.getLogger(__name__)

MAX_PENDING = 1000  # records waiting for the writer; beyond this new ones are dropped, never awaited
BUSY_TIMEOUT = 2.0  # seconds the writer waits on a lock; only the writer thread ever waits
WRITE_BATCH = 200  # records per transaction at most
SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id          TEXT PRIMARY KEY,
    asked_at    TEXT NOT NULL,
    session_id  TEXT,
    question    TEXT NOT NULL,
    query       TEXT,
    answer      TEXT,
    case_ids    TEXT,
    grounded    INTEGER,
    latency_ms  REAL,
    feedback    INTEGER,
    feedback_at TEXT,
    ip          TEXT,
    channel     TEXT,
    index_version TEXT,
    confidence  REAL
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at);
"""
# Columns added after the first release: a log written before them gains them on the first write.
ADDED_COLUMNS = {"channel": "TEXT", "index_version": "TEXT", "confidence": "REAL"}
INSERT = (
    "INSERT INTO questions"
    " (id, asked_at, session_id, question, query, answer, case_ids, grounded, latency_ms, ip, channel,"
    " index_version, confidence)"
    " VALUES (:id, :asked_at, :session_id, :question, :query, :answer, :case_ids, :grounded, :latency_ms, :ip,"
    " :channel, :index_version, :confidence)"
)
# Where a question was asked, for `qa report`; rows from before channels were stored fall back on their
# session id (the widget's start with "w-").
CHANNEL_LABELS = {"chat": "聊天页面", "widget": "门户小窗口", "api": "REST 接口", "gradio_api": "Gradio 接口"}
CHANNEL = "COALESCE(channel, CASE WHEN session_id LIKE 'w-%' THEN 'widget' END)"
FEEDBACK = "UPDATE questions SET feedback = :feedback, feedback_at = :feedback_at WHERE id = :id"


@dataclass(frozen=True)
class _Write:
    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


_STOP = object()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class QuestionLog:
    """Asynchronous, failure-tolerant writer (and synchronous reader) of the question log."""

    def __init__(
        self,
        db_path: Path | str,
        log_ip: bool = False,
        max_pending: int = MAX_PENDING,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.db_path = Path(db_path)
        self.log_ip = log_ip
        self.busy_timeout = busy_timeout
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._conn: sqlite3.Connection | None = None
        self._failing = False  # True from the first failed write until one succeeds again
        self._dropped_reported = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # ---- writing (any thread; never blocks) ------------------------------------

    def log(
        self,
        *,
        question: str,
        query: str,
        answer: str,
        case_ids: Sequence[str],
        grounded: bool,
        latency_ms: float,
        session_id: str | None = None,
        ip: str | None = None,
        channel: str | None = None,
        index_version: str | None = None,
        confidence: float | None = None,
    ) -> str:
        """Queue one answered question; returns its row id at once.

        ``channel``: where it was asked; ``index_version``: the version that answered;
        ``confidence``: :func:`qa.qreport.reply_confidence`. Control characters and
        terminal escape sequences are stripped from the texts before they are stored.
        """
        row_id = uuid.uuid4().hex
        params = {
            "id": row_id,
            "asked_at": _now(),
            "session_id": storable(session_id, one_line=True),
            "question": storable(question, one_line=True),
            "query": storable(query, one_line=True),
            "answer": storable(answer),
            "case_ids": json.dumps(list(dict.fromkeys(case_ids)), ensure_ascii=False),
            "grounded": int(grounded),
            "latency_ms": round(latency_ms, 2),
            "ip": ip if self.log_ip else None,  # the operator must opt in to storing addresses
            "channel": channel,
            "index_version": index_version,
            "confidence": confidence,
        }
        self._submit(_Write(INSERT, params))
        return row_id

    def feedback(self, row_id: str, liked: bool | None) -> None:
        """Queue a like (True), dislike (False) or withdrawn vote (None) for a logged answer."""
        value = None if liked is None else (1 if liked else -1)
        self._submit(_Write(FEEDBACK, {"id": row_id, "feedback": value, "feedback_at": _now()}))

    def _submit(self, item: object) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            if not self._dropped_reported:  # a stuck writer must not flood the log either
                self._dropped_reported = True
                log.warning("question log: writer is behind (%d pending); dropping records", self._queue.maxsize)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="qa-question-log", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (or dropped); False on timeout."""
        done = threading.Event()
        self._ensure_thread()
        try:
            self._queue.put(_Flush(done), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        self.flush(timeout)
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    @property
    def healthy(self) -> bool:
        """False while writes are failing (reported by /api/health)."""
        return not self._failing

    # ---- the writer thread -------------------------------------------------------

    def _run(self) -> None:
        while True:
            writes, control = self._next_batch()
            if writes:
                self._write(writes)
            if control is _STOP:
                self._disconnect()
                return
            if isinstance(control, _Flush):
                control.done.set()

    def _next_batch(self) -> tuple[list[_Write], object | None]:
        """Wait for one item, then take the writes already queued behind it, up to a flush or stop."""
        writes: list[_Write] = []
        item = self._queue.get()
        while isinstance(item, _Write):
            writes.append(item)
            if len(writes) >= WRITE_BATCH:
                return writes, None
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return writes, None
        return writes, item

    def _write(self, items: list[_Write]) -> None:
        try:
            conn = self._connect()
            with conn:  # one transaction per batch: commit, or roll back on error
                for item in items:
                    conn.execute(item.sql, item.params)
        except Exception as exc:  # locked, disk full, read-only, corrupt file; anything else must not kill the writer
            self._disconnect()
            if not self._failing:
                self._failing = True
                log.warning("question log %s: write failed, answering continues without it: %s", self.db_path, exc)
            return
        if self._failing:
            self._failing = False
            log.info("question log %s: writing again", self.db_path)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path, timeout=self.busy_timeout)
            try:
                conn.executescript(SCHEMA)
                have = {row[1] for row in conn.execute("PRAGMA table_info(questions)")}
                for column, kind in ADDED_COLUMNS.items():
                    if column not in have:
                        conn.execute(f"ALTER TABLE questions ADD COLUMN {column} {kind}")
                # WAL lets `qa report` read while the server writes; not fatal where unsupported.
                conn.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL never corrupts the file; a power cut may lose the last batch of rows.
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                log.debug("question log: closing the connection failed", exc_info=True)
            self._conn = None

    # ---- reading (synchronous: for `qa report` and tests) ---------------------------

    def report(
        self, limit: int = 10, cases: Mapping[str, tuple[str, str]] | None = None, current_version: str | None = None
    ) -> str:
        """A plain-text report for editors: unanswered questions, disliked answers, questions per day.

        With ``cases`` (case id → title and file name, as ``qa report`` passes them) it starts
        with what to fix: the unanswered questions grouped by the case they were about, each
        group with a suggested action, then the low-confidence answers (:mod:`qa.qreport`);
        ``current_version`` (the published index) helps tell rolled-back versions. Every
        stored text is printed escaped: no control character reaches the terminal.
        """
        if not self.db_path.exists():
            return f"问答日志 {self.db_path} 还不存在：还没有人提问。"
        try:
            with self._read_only() as conn:
                channel = CHANNEL if _has_channel(conn) else CHANNEL.replace("channel, ", "NULL, ")
                sections = [
                    _unanswered(conn, limit),
                    _disliked(conn, limit, channel),
                    _per_channel(conn, channel),
                    _per_day(conn, limit),
                ]
                if cases is not None:
                    sections[:0] = format_findings(analyse(read_rows(conn), cases, current_version, limit))
        except sqlite3.Error as exc:
            raise QAError(
                f"cannot read question log {self.db_path}: {exc}", f"无法读取问答日志 {self.db_path}：{exc}"
            ) from exc
        return "\n\n".join(sections)

    def findings(
        self, cases: Mapping[str, tuple[str, str]], current_version: str | None, limit: int = 10
    ) -> dict[str, Any]:
        """The report's analysis as data (for /admin): groups by case, low-confidence answers, days, rolled back."""
        if not self.db_path.exists():
            return analyse([], cases, current_version, limit).to_dict()
        with self._read_only() as conn:
            return analyse(read_rows(conn), cases, current_version, limit).to_dict()

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first (for tests and ad-hoc exports)."""
        with self._read_only() as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM questions ORDER BY asked_at, rowid")]

    def _read_only(self) -> _ReadOnly:
        return _ReadOnly(self.db_path)


class _ReadOnly:
    """A read-only connection that is closed on exit (sqlite3's own context manager only commits)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _unanswered(conn: sqlite3.Connection, limit: int) -> str:
    rows = conn.execute(
        "SELECT question, COUNT(*) AS n, MAX(asked_at) FROM questions WHERE grounded = 0"
        " GROUP BY question ORDER BY n DESC, MAX(asked_at) DESC LIMIT ?",
        (limit,),
    ).fetchall()
    lines = [f"  {n:>4} 次  {shown(question)}" for question, n, _ in rows] or ["  （无）"]
    return "\n".join(["最常见的未答出问题（知识库中没有依据）：", *lines])


def _has_channel(conn: sqlite3.Connection) -> bool:
    return "channel" in {row[1] for row in conn.execute("PRAGMA table_info(questions)")}


def _label(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel or "", channel or "未记录")


def _disliked(conn: sqlite3.Connection, limit: int, channel: str) -> str:
    rows = conn.execute(
        f"SELECT asked_at, question, answer, {channel} FROM questions WHERE feedback = -1"
        " ORDER BY asked_at DESC LIMIT ?",
        (limit,),
    ).fetchall()
    lines = [
        f"  {shown(asked_at[:16].replace('T', ' '))}  [{shown(_label(ch))}] 问：{shown(q)}\n{'':19}答：{shown(a, 80)}"
        for asked_at, q, a, ch in rows
    ]
    return "\n".join(["被点踩的回答（最近的在前）：", *(lines or ["  （无）"])])


def _per_channel(conn: sqlite3.Connection, channel: str) -> str:
    """Questions, unanswered ones, likes and dislikes per channel: the widget's portal users apart from the chat's."""
    rows = conn.execute(
        f"SELECT {channel} AS ch, COUNT(*), SUM(grounded = 0), SUM(feedback = 1), SUM(feedback = -1)"
        " FROM questions GROUP BY ch ORDER BY COUNT(*) DESC"
    ).fetchall()
    lines = [
        f"  {shown(_label(ch))}：提问 {total}，未答出 {unanswered or 0}，赞 {likes or 0}，踩 {dislikes or 0}"
        for ch, total, unanswered, likes, dislikes in rows
    ]
    return "\n".join(["各渠道提问与评价：", *(lines or ["  （无）"])])


def _per_day(conn: sqlite3.Connection, limit: int) -> str:
    rows = conn.execute(
        "SELECT date(asked_at, 'localtime') AS day, COUNT(*), SUM(grounded = 0),"
        " SUM(feedback = 1), SUM(feedback = -1)"
        " FROM questions GROUP BY day ORDER BY day DESC LIMIT ?",
        (limit,),
    ).fetchall()
    lines = [
        f"  {shown(day)}  提问 {total:>5}  未答出 {unanswered or 0:>4}  赞 {likes or 0:>4}  踩 {dislikes or 0:>4}"
        for day, total, unanswered, likes, dislikes in rows
    ]
    return "\n".join(["每日提问量（最近的在前）：", *(lines or ["  （无）"])])

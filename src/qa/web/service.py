"""What the REST API and the chat UI share: ask, log, take feedback.

Both front ends go through :class:`ChatService`, so a question asked in the
browser and one asked over HTTP are answered and logged the same way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..assistant import Assistant, timed_ask
from ..config import Settings
from ..models import Reply
from ..qlog import QuestionLog
from ..qreport import reply_confidence
from .options import WebOptions
from .ratelimit import ClientLimits, FeedbackRateLimited

log = logging.getLogger(__name__)

RECENT_IDS = 100_000  # log ids handed out by this process, remembered for feedback (~10 MB at most)
# Where a question came from, stored with its log row so that `qa report` can tell them apart.
CHAT, WIDGET, API, GRADIO_API = "chat", "widget", "api", "gradio_api"
WIDGET_SESSION_PREFIX = "w-"  # the widget (static/widget.js) makes its session ids "w-" + 24 hex digits


def channel_of(session_id: str | None) -> str:
    """The channel of a ``POST /api/ask`` (or feedback): the widget, or any other API client."""
    return WIDGET if session_id and session_id.startswith(WIDGET_SESSION_PREFIX) else API


@dataclass(frozen=True)
class Answered:
    """A reply and the id of its log row (for feedback)."""

    reply: Reply
    log_id: str


class ChatService:
    """Answers questions and records them in the question log."""

    def __init__(
        self, assistant: Assistant, qlog: QuestionLog, settings: Settings, options: WebOptions | None = None
    ) -> None:
        self.assistant = assistant
        self.qlog = qlog
        self.settings = settings
        options = options or WebOptions()
        self.limits = ClientLimits(settings.rate_limit_per_minute, options.session_limit(settings))
        # Likes and dislikes: the same budgets as questions, kept apart so that voting never costs a question.
        self.feedback_limits = ClientLimits(
            settings.rate_limit_per_minute, options.session_limit(settings), error=FeedbackRateLimited
        )
        self.recent = RecentIds(RECENT_IDS)

    def ask(
        self,
        question: Any,
        history: Any = None,
        session_id: str | None = None,
        ip: str | None = None,
        channel: str | None = None,
    ) -> Answered:
        """Answer and queue the log row.

        ``ip`` is the client's address and ``session_id`` its chat session: the rate
        limits' keys (RateLimited when either asked too often; checked first, so invalid
        questions count too). The address is logged only with QA_LOG_IP. ``channel``
        (:data:`CHAT`, :data:`WIDGET`…) is stored with the row for ``qa report``.
        InvalidQuestion for unusable input.
        """
        self.limits.check(ip, session_id)
        reply, latency_ms = timed_ask(self.assistant, question, history)
        log_id = self.qlog.log(
            question=str(question).strip(),
            query=reply.query,
            answer=reply.answer,
            case_ids=[c.case_id for c in reply.citations],
            grounded=reply.grounded,
            latency_ms=latency_ms,
            session_id=session_id,
            ip=ip if self.settings.log_ip else None,
            channel=channel,
            # Read after answering: at a hot swap this may name the newer version, never a mix of two.
            index_version=self.assistant.version,
            confidence=reply_confidence(reply),
        )
        self.recent.add(log_id)
        return Answered(reply, log_id)

    def feedback(self, log_id: str, liked: bool | None, session_id: str | None = None, ip: str | None = None) -> bool:
        """Record a vote; False (and nothing recorded) when no answer has that id.

        Limited like questions, per address and per session (FeedbackRateLimited), so
        a flood of votes cannot fill the log's queue and push questions out of it.
        """
        self.feedback_limits.check(ip, session_id)
        if not self.known(log_id):
            return False
        self.qlog.feedback(log_id, liked)
        return True

    def known(self, log_id: str) -> bool:
        """An id this process handed out (its row may still be queued), or one already in the log file."""
        return log_id in self.recent or _in_log(self.qlog, log_id)

    def health(self) -> dict[str, Any]:
        info = self.assistant.health()
        info["question_log"] = "ok" if self.qlog.healthy else "degraded"
        return info


class RecentIds:
    """The last ``size`` ids added, for membership tests; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, item: str) -> None:
        with self._lock:
            self._ids[item] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._ids


def _in_log(qlog: QuestionLog, log_id: str) -> bool:
    """Whether the log file holds a row with this id (answers from before a restart); False when unreadable."""
    if not qlog.db_path.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{qlog.db_path}?mode=ro", uri=True, timeout=1.0)
        try:
            return conn.execute("SELECT 1 FROM questions WHERE id = ?", (log_id,)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        log.debug("question log %s unreadable while checking a feedback id", qlog.db_path, exc_info=True)
        return False

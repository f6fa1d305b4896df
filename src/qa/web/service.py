"""What the REST API and the chat UI share: ask, log, take feedback.

Both front ends go through :class:`ChatService`, so a question asked in the
browser and one asked over HTTP are answered and logged the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..assistant import Assistant, timed_ask
from ..config import Settings
from ..models import Reply
from ..qlog import QuestionLog
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answered:
    """A reply and the id of its log row (for feedback)."""

    reply: Reply
    log_id: str


class ChatService:
    """Answers questions and records them in the question log."""

    def __init__(self, assistant: Assistant, qlog: QuestionLog, settings: Settings) -> None:
        self.assistant = assistant
        self.qlog = qlog
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit_per_minute)

    def ask(self, question: Any, history: Any = None, session_id: str | None = None, ip: str | None = None) -> Answered:
        """Answer and queue the log row.

        ``ip`` is the client's address: the rate limit's key (RateLimited when it asked
        too often; checked first, so invalid questions count too), and logged only with
        QA_LOG_IP. InvalidQuestion for unusable input.
        """
        self.limiter.check(ip)
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
        )
        return Answered(reply, log_id)

    def feedback(self, log_id: str, liked: bool | None) -> None:
        self.qlog.feedback(log_id, liked)

    def health(self) -> dict[str, Any]:
        info = self.assistant.health()
        info["question_log"] = "ok" if self.qlog.healthy else "degraded"
        return info

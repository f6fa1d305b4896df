"""``qa eval --chat``'s everyday questions: asked alone, and right after a question about a practice."""

from __future__ import annotations

from typing import Any

from qa.chat_eval import format_chat, score_offtopic
from qa.models import Reply


class FakeBot:
    """Answers every question about a practice; an everyday question only when it follows one."""

    def __init__(self, hijacked: str) -> None:
        self.hijacked = hijacked

    def ask(self, question: str, history: Any = None) -> Reply:
        return Reply("答案", grounded=question.startswith("开场") or (question == self.hijacked and bool(history)))


def test_everyday_questions_are_scored_alone_and_after_an_opener() -> None:
    items = [{"id": f"o-{n}", "question": q} for n, q in enumerate(["重庆市长是谁？", "今天天气怎么样？"])]
    sessions = [{"turns": [{"question": f"开场{n}"}]} for n in range(5)]
    result = score_offtopic(FakeBot("重庆市长是谁？"), items, sessions, per_item=3)  # type: ignore[arg-type]
    assert result["refused"] == 2 and result["answered"] == []
    assert result["after"] == (3, 6)  # the hijacked question, after each of its three openers
    assert all(line.endswith("→ 重庆市长是谁？") for line in result["answered_after"])
    report = format_chat({"dev": {"sessions": _no_sessions(), "switches": _no_switches(), "offtopic": result}})
    assert "off-topic refused right after a question about a practice 3/6 (50%)" in report


def _no_sessions() -> dict[str, Any]:
    return {"chat": {}, "alone": {}, "misses": [], "resolved": (0, 0)}


def _no_switches() -> dict[str, int]:
    return {"pairs": 0, "right_alone": 0, "right_after": 0, "hijacked": 0}

"""Refusals: an honest "the knowledge base does not say", naming the nearest case when there is one."""

from __future__ import annotations

from ..models import Reply
from .knowledge import Knowledge
from .question import Draft, Question


def refuse(kb: Knowledge, q: Question, message: str, near_case: str | None = None) -> Reply:
    draft = Draft()
    if near_case and near_case in kb.cases:
        case = kb.cases[near_case]
        message += f"相关案例：《{case.title}》（{case.unit}）{draft.cite(kb.title_chunk(case), case.title, 0.0)}"
    return Reply(message, draft.citations, False, q.query)


def missing_message(kb: Knowledge, q: Question, case_id: str | None) -> str:
    if case_id is None:
        return (
            "抱歉，知识库中没有与这个问题相关的内容。本助手只回答重庆市政法领域十大改革最佳实践的相关问题，"
            f"例如：{examples(kb)}"
        )
    return f"知识库中关于“{kb.cases[case_id].short_name}”的资料没有提到这一点。"


def examples(kb: Knowledge) -> str:
    """Three questions the knowledge base answers, made from its own case names (the first ranked cases)."""
    ranked = sorted((c for c in kb.cases.values() if c.rank is not None), key=lambda c: (c.rank or 0, c.id))
    asks = [f"“{c.short_name}是什么？”" for c in ranked[:2]]
    if ranked and ranked[0].unit:
        asks.append(f"“{ranked[-1].short_name}是哪个单位报送的？”")
    return "".join(asks) or "“都有哪些案例？”"

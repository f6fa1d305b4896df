"""qa: grounded answers about Chongqing's ten best political-legal reform practices.

from qa import Assistant
bot = Assistant.load()
reply = bot.ask("警快办有多少人注册？", history=[])
reply.answer, reply.citations, reply.grounded, reply.query

``Assistant`` is imported on first use, so a module that needs only numpy and torch
(``qa.span_fit``, run on a training machine without the serving stack) imports without
jieba, FAISS or the web libraries.
"""

from typing import TYPE_CHECKING, Any

from . import kernels

kernels.pin()  # before torch, numpy's BLAS or fbgemm first computes (see qa.kernels)

from .errors import QAError  # noqa: E402  (every import of the package comes after the pins)
from .models import Citation, Reply  # noqa: E402

if TYPE_CHECKING:
    from .assistant import Assistant

__all__ = ["Assistant", "Citation", "QAError", "Reply"]


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'qa' has no attribute {name!r}")

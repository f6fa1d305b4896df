"""qa: grounded answers about Chongqing's ten best political-legal reform practices.

from qa import Assistant
bot = Assistant.load()
reply = bot.ask("警快办有多少人注册？", history=[])
reply.answer, reply.citations, reply.grounded, reply.query
"""

from .assistant import Assistant
from .errors import QAError
from .models import Citation, Reply

__all__ = ["Assistant", "Citation", "QAError", "Reply"]

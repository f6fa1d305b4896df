"""Composing an answer from retrieved passages: pick spans, cite them, or refuse.

No text is generated. Every statement in an answer is copied from a cited passage;
only short connectors (case names, "；", "更高") are added. The question's *shape*
(a figure, a list, a comparison, a follow-up) decides how spans are chosen; its
*content* only reaches the knowledge base through retrieval, the case metadata and
the learned reader, never through rules about particular cases.

Modules, one concern each (imports point down this list):

- ``shapes``: patterns of question shape and of figures in text;
- ``spans``: candidate answers in passages and their lexical fit;
- ``question``: the resolved question and the answer under construction;
- ``knowledge``: per-index look-ups shared by everything below;
- ``reply``: refusals;
- ``topic``: the on-topic gate for questions that name no case;
- ``choice``: the learned choice among candidate answers (reader and rules as signals);
- ``facts``: one-case facts, by the rules and the learned reader;
- ``structured``: catalogue, front-matter fields, comparisons;
- ``followups``: reading a question in the light of the conversation;
- ``engine``: ``Answerer``, which routes a question to the part that answers it.
"""

from .engine import Answerer
from .facts import Readers
from .question import Question
from .shapes import asked_field

__all__ = ["Answerer", "Question", "Readers", "asked_field"]

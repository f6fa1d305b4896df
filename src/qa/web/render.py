"""HTML for chat messages: the answer with its [n] markers, and a collapsible 来源 panel.

Every piece of text that comes from a user or from the knowledge base goes
through ``html.escape`` before it is placed in markup, so a case file or a
question containing ``<img onerror=…>`` shows as text. The output is one line
with no blank lines: the chat renders messages as Markdown, and an HTML block
that starts with ``<div>`` is passed through untouched only up to a blank line.
"""

from __future__ import annotations

import html
import re

from ..models import Citation, Reply

MARKER = re.compile(r"\[(\d+)\]")


def text_html(text: str) -> str:
    """Escaped text with line breaks kept."""
    return html.escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def question_html(question: str) -> str:
    """A user's message, shown literally (no Markdown, no HTML)."""
    return f'<div class="qa-question">{text_html(question)}</div>'


def answer_html(reply: Reply) -> str:
    """The answer with superscript [n] markers, followed by the sources panel."""
    numbers = {c.n for c in reply.citations}

    def marker(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f'<sup class="qa-ref">[{n}]</sup>' if n in numbers else match.group(0)

    body = MARKER.sub(marker, text_html(reply.answer))
    kind = "qa-answer" if reply.grounded else "qa-answer qa-ungrounded"
    return f'<div class="{kind}"><div class="qa-text">{body}</div>{sources_html(reply.citations)}</div>'


def sources_html(citations: list[Citation]) -> str:
    """A closed <details> block listing every citation with its passage."""
    if not citations:
        return ""
    items = "".join(citation_html(c) for c in citations)
    return (
        f'<details class="qa-sources"><summary>来源（{len(citations)}）</summary>'
        f'<ol class="qa-source-list">{items}</ol></details>'
    )


def citation_html(c: Citation) -> str:
    head = (
        f'<span class="qa-n">[{c.n}]</span> <span class="qa-title">{html.escape(c.title)}</span>'
        f' <span class="qa-unit">{html.escape(c.unit)}</span>'
        + "".join(f' <span class="qa-field">{html.escape(k)}：{html.escape(v)}</span>' for k, v in c.fields.items())
    )
    return f'<li class="qa-source"><div class="qa-source-head">{head}</div><blockquote>{highlight(c.text, c.quote)}</blockquote></li>'


def highlight(text: str, quote: str) -> str:
    """The passage, escaped, with the first occurrence of the cited sentence in <mark>."""
    at = text.find(quote) if quote else -1
    if at < 0:
        return text_html(text)
    before, after = text[:at], text[at + len(quote) :]
    return f"{text_html(before)}<mark>{text_html(quote)}</mark>{text_html(after)}"

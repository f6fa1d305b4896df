"""The chat's message HTML: markers, the sources panel, and escaping (no browser needed)."""

from __future__ import annotations

from qa.models import Citation, Reply
from qa.web.render import answer_html, highlight, question_html

EVIL = "<img src=x onerror=alert(1)>"


def citation(n: int = 1, text: str = "注册人数1714万,累计访问量5.4亿人次。", quote: str = "注册人数1714万") -> Citation:
    return Citation(n, "case", f"标题{EVIL}", f"单位{EVIL}", text, 0.5, "case:1:x", 1, 0, len(text), quote)


def test_answer_markers_and_sources_panel() -> None:
    html = answer_html(Reply("注册人数1714万[1]，见 [2]。", [citation()], True, "q"))
    assert '<sup class="qa-ref">[1]</sup>' in html
    assert "[2]" in html and '<sup class="qa-ref">[2]' not in html  # no such citation: left as text
    assert '<details class="qa-sources"><summary>来源（1）</summary>' in html
    assert "<mark>注册人数1714万</mark>,累计访问量5.4亿人次。" in html
    assert "\n" not in html  # a blank line would end the HTML block in the chat's Markdown


def test_every_text_is_escaped() -> None:
    reply = Reply(f"答案{EVIL}[1]\n第二行", [citation(text=f"前文{EVIL}后文", quote=EVIL)], True, "q")
    html = answer_html(reply) + question_html(f"问题{EVIL}")
    assert "<img" not in html and html.count("&lt;img src=x onerror=alert(1)&gt;") == 5
    assert "<mark>&lt;img" in html
    assert "第二行" in html and "<br>" in html


def test_ungrounded_answers_are_marked_and_empty_sources_omitted() -> None:
    html = answer_html(Reply("知识库中没有相关内容。", [], False, "q"))
    assert 'class="qa-answer qa-ungrounded"' in html and "qa-sources" not in html


def test_a_quote_not_in_the_passage_is_not_highlighted() -> None:
    assert highlight("原文<b>", "别的句子") == "原文&lt;b&gt;"
    assert highlight("原文", "") == "原文"

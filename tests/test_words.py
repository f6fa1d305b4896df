"""Topic words: jieba's made-up words cut again at the knowledge base's words; English words in other forms."""

from __future__ import annotations

from collections.abc import Callable

from qa.glossary import forms, translate
from qa.text import content_words, corpus_split


def known_in(text: str) -> Callable[[str], bool]:
    """A stand-in for ``SubstringIndex.anywhere`` over one text."""
    return lambda word: word in text


def test_a_run_of_made_up_words_is_cut_at_a_word_the_knowledge_base_uses() -> None:
    # jieba: 实施 / 后警 / 情降 / 了 — 后警 and 情降 are in neither its dictionary nor the text.
    words = content_words("一书一令实施后警情降了多少？", known_in("矛盾纠纷类警情同比下降23.7%"))
    assert "警情" in words
    assert "后警" not in words and "情降" not in words


def test_without_a_knowledge_base_word_inside_the_run_stays_as_jieba_cut_it() -> None:
    jieba_words = ["莎姐", "有没有", "后警", "情降"]
    assert corpus_split(jieba_words, known_in("没有一个相关的词")) == jieba_words


def test_words_of_the_dictionary_or_the_knowledge_base_are_never_cut() -> None:
    assert corpus_split(["实施", "警情"], known_in("警情")) == ["实施", "警情"]
    assert content_words("警快办注册人数有多少？") == content_words("警快办注册人数有多少？", known_in("注册人数"))


def test_british_spellings_and_derived_nouns_are_tried_after_the_word_itself() -> None:
    assert forms("honours") == ["honours", "honors"]
    assert forms("centre") == ["centre", "center"]
    assert forms("reconsideration") == ["reconsideration", "reconsider"]
    assert "fulfill" in forms("fulfilment")
    assert forms("hour") == ["hour"] and forms("more") == ["more"]  # no -our or -re spelling to change


def test_translate_falls_back_to_other_forms_only_where_the_word_itself_is_unknown() -> None:
    glossary = {"honor": ["荣誉"], "reconsider": ["复议"], "window": ["窗口"], "reconsiderat": ["复核"]}
    assert translate("How many honours?", glossary) == ["荣誉"]
    # The word's own entry wins over its base's.
    assert translate("reconsideration windows", glossary) == ["复核", "窗口"]
    assert translate("What about the weather?", glossary) == []


def test_a_locative_and_a_bare_thing_name_no_topic() -> None:
    """ "…里面的“一书”是指什么东西？" asks what 一书 means: 里面 (inside) and 东西 (a thing) are no details
    the case could lack. What a question counts stays a topic (能办多少项事情)."""
    words = content_words("一书一令里面的一书是指什么东西？")
    assert "里面" not in words and "东西" not in words and "一书" in words
    assert "事情" in content_words("警快办能办多少项事情？")

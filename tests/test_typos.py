"""Typo repair fixes near-misses of corpus names and never damages correct text."""

from __future__ import annotations

import pytest

from qa.assistant import Assistant
from qa.text import TypoIndex, normalise

# Correct phrases that put ordinary words right next to a name, where a sliding window overlaps both.
CONTEXTS = (
    "{}请了多少个律师",
    "社区{}",
    "{}小区有多少人",
    "在{}办事方便吗",
    "我们{}区里",
    "{}的工作室",
    "市民对{}满意吗",
    "{}社区在哪",
)


def test_correct_phrases_around_every_name_are_left_alone(bot: Assistant) -> None:
    retriever = bot._state.retriever
    damaged = []
    for name in retriever.lexicon:
        for context in CONTEXTS:
            phrase = normalise(context.format(name))
            if retriever.prepare(phrase) != phrase:
                damaged.append((phrase, retriever.prepare(phrase)))
    assert damaged == []


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("警快半有多少人注册", "警快办"),
        ("潮夕车道减少了多少拥堵", "潮汐车道"),
        ("沙姐是谁", "莎姐"),
        ("垫小而是什么", "垫小二"),
    ],
)
def test_near_misses_of_names_are_repaired(bot: Assistant, typed: str, meant: str) -> None:
    assert meant in bot._state.retriever.prepare(typed)


def test_the_reported_damage_is_gone(bot: Assistant) -> None:
    prepare = bot._state.retriever.prepare
    assert prepare("沙坪坝请了多少个律师") == "沙坪坝请了多少个律师"
    assert prepare("渝事荣易解和贵和工作室各自化解了多少纠纷?") == "渝事荣易解和贵和工作室各自化解了多少纠纷?"


def test_a_string_of_the_corpus_is_no_typo_of_a_name() -> None:
    """行政争议 differs from the name 行政复议 in one inner character, but the text says it: it is a word."""
    lexicon = ["行政复议", "警快办"]
    assert TypoIndex(lexicon).fix("化解行政争议") == "化解行政复议"
    text = "协同推进行政争议实质性化解"
    assert TypoIndex(lexicon, lambda window: window in text).fix("化解行政争议") == "化解行政争议"
    assert TypoIndex(lexicon, lambda window: window in text).fix("行政复义窗口") == "行政复议窗口"

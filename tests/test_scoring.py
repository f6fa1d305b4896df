"""CMRC 2018's metrics, as bench/cmrc.py and the span reader's training both report them."""

from __future__ import annotations

import pytest

from qa.scoring import best_f1, contains, exact, f1


def test_f1_is_over_characters_of_the_longest_common_substring() -> None:
    assert f1("东华实业", "东华实业") == 1.0
    # 4 common characters out of 8 predicted and 4 gold: precision 0.5, recall 1.
    assert f1("由东华实业开发的", "东华实业") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f1("广州", "东华实业") == 0.0 and f1("", "东华实业") == 0.0


def test_punctuation_case_and_spaces_do_not_count() -> None:
    assert exact("“东华 实业”。", ["东华实业"]) and exact("ABC", ["abc"])
    assert best_f1("东华实业", ["广州", "东华实业"]) == 1.0


def test_contains_asks_for_a_whole_gold_span_and_ignores_empty_ones() -> None:
    assert contains("五羊新城由东华实业开发。", ["东华实业"])
    assert not contains("五羊新城由东华开发。", ["东华实业"])
    assert not contains("任何回答", ["", "。"])  # a gold answer that is only punctuation holds nothing

"""A question's abbreviation of a corpus noun is read as the noun (qa.abbreviations)."""

from __future__ import annotations

from qa.abbreviations import Abbreviations

TEXT = "莎姐2次登上中央电视台“焦点访谈”栏目,3次被写入最高人民检察院工作报告,心甘情愿。"
WORDS = ["中央电视台", "最高人民检察院", "心甘情愿", "转换成", "工作报告"]


def abbreviations() -> Abbreviations:
    return Abbreviations(WORDS, lambda word: word in TEXT)


def test_an_abbreviation_no_passage_holds_is_written_out() -> None:
    expand = abbreviations().expand
    assert expand("莎姐上过几回央视的节目？") == "莎姐上过几回中央电视台的节目？"
    assert expand("最高检报告提到莎姐几次？") == "最高人民检察院报告提到莎姐几次？"


def test_words_in_their_own_right_and_idioms_are_left_alone() -> None:
    ab = abbreviations()
    assert ab.full_form("心情") is None  # a noun of its own (and 心甘情愿 is an idiom, no name)
    assert ab.full_form("转成") is None  # a verb, and 转换成 is no noun
    assert ab.full_form("报告") is None  # a passage holds it
    assert ab.full_form("检察") is None  # a passage holds it (inside 最高人民检察院)


def test_an_abbreviation_of_two_nouns_is_left_alone() -> None:
    ab = Abbreviations(["检察院", "人民检察院"], lambda word: False)
    assert ab.full_form("检院") is None

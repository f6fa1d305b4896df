"""How a question names a case: by a Chinese name, its pinyin, or the pinyin of a name's head."""

from __future__ import annotations

from qa.retrieval import CaseInfo, CaseNames, pinyin_names


def case(case_id: str, *aliases: str, title: str = "一个很长的案例标题用来描述做法") -> CaseInfo:
    return CaseInfo(case_id, title, "某某单位", "", "市级", 1, aliases)


def test_an_english_question_names_a_case_by_the_pinyin_of_its_head() -> None:
    names = CaseNames([case("guihe", "贵和工作法"), case("other", "警快办")])
    assert names.find("Which county runs the Guihe mediation rooms?") == ["guihe"]
    assert names.find("Which county runs the Guihegongzuofa?") == ["guihe"]


def test_a_head_two_cases_share_names_neither() -> None:
    names = CaseNames([case("a", "贵和工作法"), case("b", "贵和中心")])
    assert names.find("Which county runs the Guihe rooms?") == []
    assert names.find("What is the Guihe zhongxin?") == ["b"]


def test_a_whole_name_wins_over_another_names_head() -> None:
    assert pinyin_names({"莎姐": "a", "莎姐工作室": "b"})["shajie"] == "a"


def test_titles_lend_no_heads() -> None:
    sounds = pinyin_names({"创设西部金融法律服务中心": "a"})
    assert "chuangshe" not in sounds
    assert "chuangshexibujinrongfalvfuwuzhongxin" in sounds

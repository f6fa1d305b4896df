"""Question and figure shapes: numbers in words, where and who, money, measure words."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from qa.answer.absence import Absence, asked_kind
from qa.answer.followups import shares_figure
from qa.answer.knowledge import Knowledge
from qa.answer.shapes import (
    CHANGE_ASKED,
    COLLECTION,
    FIGURE_IN,
    LISTING,
    MONEY,
    TIME_SPAN,
    asked_date,
    asked_field,
    asks_measure,
)
from qa.answer.spans import counted_thing, figure_clauses, fits_type, is_mentioned, span_score, word_parts
from qa.text import content_words


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("共分为征集、展示、评选、成果运用四个阶段", "四个"),
        ("聚焦三大任务", "三大"),
        ("累计访问量5.4亿人次", "5.4亿人"),
    ],
)
def test_figures_in_digits_or_words(text: str, figure: str) -> None:
    found = FIGURE_IN.search(text)
    assert found is not None and found.group(0) == figure


@pytest.mark.parametrize("text", ["第一次从穆斯林手中夺回", "说一不“二”坚决兑现", "一站式", "一书一令"])
def test_orders_and_words_that_hold_a_numeral_are_no_figures(text: str) -> None:
    assert FIGURE_IN.search(text) is None


def test_a_duration_in_words_and_a_place_named_by_a_number() -> None:
    assert TIME_SPAN.search("有效期二十年") is not None
    # "四公里" is also a place (四公里立交): a length asked for is answered in digits only.
    assert not fits_type("潮汐车道总长有多少公里？", "仅海峡路大石路立交至四公里立交段,", [])
    assert fits_type("警快办被访问了多少次？", "累计访问量5.4亿人次,", [])  # 人次 answers 多少次


def test_numbers_in_words_are_no_topic_words() -> None:
    assert content_words("莎姐是一个什么品牌？") == ["莎姐", "品牌"]


def test_a_word_built_on_an_interrogative_is_no_topic() -> None:
    assert content_words("潮汐车道是怎么回事？") == content_words("潮汐车道")
    assert content_words("潮汐车道咋回事") == content_words("潮汐车道")
    assert "为啥" not in content_words("警快办为啥这么火？")


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("贵和工作法在哪里？", "region"),
        ("Where is the Sha Jie brand based?", "region"),
        ("一书一令是谁提出来的？", "unit"),
        ("车载便民法庭一般去哪儿？", None),  # where it goes is in the text, not the front matter
        ("打分权交给谁？", None),
        ("一书一令是在哪里搞的？", "region"),  # where it was done
        ("警快办的APP在哪里下载？", None),  # where to do something with it: not the district
        ("车载便民法庭是哪个单位推荐的？", "unit"),
        ("推荐一家火锅店吧", None),  # a request, not who nominated it
        ("车载便民法庭属于哪一级？", "level"),
        ("What level is Jingkuaiban?", "level"),
        ("一级调解员有多少人？", None),  # a grade of staff, not the practice's level
        ("警快办这篇报道的来源是哪里？", "source"),
        ("What is the source of the Sha Jie report?", "source"),
        ("纠纷的来源有哪些？", None),  # the source of disputes, not of the report
        ("这个名字来源于哪里？", None),  # where a name comes from (a CMRC question was asked so)
        ("莎姐的资料出处是？", "source"),
        ("贵和工作法最早是从哪个地方总结出来的？", "region"),  # 哪个地方 asks where as 哪里 does
        ("在哪个地方可以办理？", None),  # where to do something
        ("全市有多少个可以就近递材料的地方？", None),  # a count of places, not the practice's
        ("车载便民法庭算市级层面的实践，还是区县搞的？", "level"),  # an alternative between levels
        ("一书一令是市级还是区级的？", "level"),
        ("跑遍了多少区县？", None),
    ],
)
def test_which_front_matter_field_is_asked(question: str, field: str | None) -> None:
    assert asked_field(question) == field


@pytest.mark.parametrize(
    "question",
    [
        "莎姐检察官的工资是多少？",
        "渝事荣易解涉及的金额有多大？",
        "What is the fee?",
        "造价大概是多少？",
        "开支有多大？",
    ],
)
def test_money_asked_in_everyday_words(question: str) -> None:
    assert MONEY.search(question.lower())


def test_english_money_words_are_whole_words() -> None:
    assert not MONEY.search("how do people feel about the feedback")


@pytest.mark.parametrize(
    ("question", "listing"),
    [
        ("Which practices were submitted by district units?", True),
        ("Which cases are about mediation?", True),
        ("List the ten best practices, please.", True),
        # one practice, named in words no case name matches: a question about it, not a list
        ("Which unit submitted the tidal lane practice?", False),
        ("Which district is the case from?", False),
    ],
)
def test_english_which_lists_only_before_a_plural(question: str, listing: bool) -> None:
    lowered = question.lower()
    assert bool(LISTING.search(lowered) and COLLECTION.search(lowered)) is listing


@pytest.mark.parametrize(
    ("question", "thing"),
    [("老百姓一共办成了多少件事？", "事"), ("每个工作室配备几名调解员？", "调解员"), ("警情降了多少？", None)],
)
def test_the_thing_a_question_counts(question: str, thing: str | None) -> None:
    assert counted_thing(question) == thing


def test_a_counted_one_character_thing_lets_its_clause_answer() -> None:
    query = "老百姓一共办成了多少件事？"
    assert fits_type(query, "累计办事办件8567万余件", ["老百姓", "办成"])
    assert not fits_type(query, "累计申领电子证照1291万件", ["老百姓", "办成"])


@pytest.mark.parametrize(
    ("question", "measure", "change"),
    [
        ("涉及的金额有多少钱？", True, False),
        ("办了多少件事？", True, False),
        ("成功率是多少？", True, False),
        ("平均年龄是多少？", False, False),  # a bare 多少 fits any figure
        ("警情降了多少？", False, True),
        ("拥堵时间减少了多少？", False, True),
        ("How much did congestion fall by?", False, True),
        ("派出所有多少个？", False, False),  # 个 counts anything
    ],
)
def test_the_kind_of_figure_asked(question: str, measure: bool, change: bool) -> None:
    assert asks_measure(question) is measure
    assert bool(CHANGE_ASKED.search(question.lower())) is change


def test_a_time_of_day_is_answered_only_by_a_clock_time() -> None:
    assert fits_type("几点开门？", "每天9:00开门", [])
    assert fits_type("What time does it open?", "上午9点开门", [])
    assert not fits_type("几点开始变向？", "早高峰时段拥堵时长同比减少66.7%", [])
    assert not fits_type("几点开始？", "2021年1月1日正式上线", [])  # a date
    assert not fits_type("几点开始？", "时代在变", [])


def test_the_kind_a_which_asks_for() -> None:
    assert asked_kind("莎姐是照着哪位检察官起的名？") == "检察官"
    assert asked_kind("是哪个部门牵头建设的？") == "部门"
    assert asked_kind("警情降了多少？") is None


@pytest.mark.parametrize(
    ("question", "listing"),
    [("十大实践有哪几个？", True), ("哪几家单位报送了案例？", True), ("评选经历了哪几个阶段？", False)],
)
def test_which_few_lists_the_collection_only_when_it_names_it(question: str, listing: bool) -> None:
    # "哪几个阶段" asks for the stages, not for members of the collection: 哪几个 is read whole.
    assert bool(LISTING.search(question)) is listing


@pytest.mark.parametrize(
    ("words", "thing"),
    [
        (["前前后后"], False),  # an idiom says how, not what ("评选前前后后分了几步走？")
        (["那些", "起来"], False),  # a pronoun points, a verb says what was done
        (["平均年龄"], True),  # a noun jieba does not hold is a thing
        (["年龄"], True),
    ],
)
def test_only_words_that_name_a_thing_mark_an_unknown_thing(words: list[str], thing: bool) -> None:
    nowhere = cast(Knowledge, SimpleNamespace(mentioned_anywhere=lambda word: False))
    assert Absence(nowhere).unknown_thing(words) is thing


@pytest.mark.parametrize(
    ("query", "words", "absent"),
    [
        ("潮汐车道在哪一段效果明显？", ["明显"], False),  # an adjective says how much, not which detail
        ("警快办办事方便吗？", ["方便"], False),
        ("潮汐车道周末收费吗？", ["周末", "收费"], True),  # things the text never names
        ("潮汐车道的路灯明显吗？", ["路灯", "明显"], True),  # beside a thing, an adjective changes nothing
    ],
)
def test_unknown_adjectives_alone_mark_no_absent_detail(query: str, words: list[str], absent: bool) -> None:
    nowhere = cast(Knowledge, SimpleNamespace(mentioned_anywhere=lambda word: False, case_text={}))
    assert Absence(nowhere).unknown_detail(query, words, "case") is absent


def test_a_figure_is_scored_by_the_clauses_holding_it() -> None:
    """A pair of clauses does not borrow its neighbour's words: the figure's own clause says what it counts."""
    borrowed = (
        "检务服务区、诉讼服务区、警务服务区、公共法律服务区四大功能区,“全链条、一站式”金融法律服务正焕发澎湃法治力量。"
    )
    own = "中心对全区司法、行政、调解、仲裁、公证、律师等6大资源进行优化整合,"
    assert figure_clauses(borrowed) == "检务服务区、诉讼服务区、警务服务区、公共法律服务区四大功能区,"
    assert figure_clauses("没有数字的一句话。") == "没有数字的一句话。"
    query, focus = "江北的金融法律服务中心把几类力量整合到了一起?", ["力量", "整合", "一起"]
    assert span_score(borrowed, focus, query) > span_score(own, focus, query)
    assert span_score(borrowed, focus, query, figure=True) < span_score(own, focus, query, figure=True)


@pytest.mark.parametrize(
    ("question", "answers", "misses"),
    [
        ("评选结果是哪一天公布的？", "7月11日,结果揭晓", "7月发布评选结果"),
        ("On what date were the results announced?", "7月11日", "7月"),
        ("警快办是几月上线的？", "1月1日", "2021年"),
        ("警快办是哪一年上线的？", "2021年1月1日", "1月1日"),
    ],
)
def test_the_unit_of_a_date_asked(question: str, answers: str, misses: str) -> None:
    date = asked_date(question)
    assert date is not None and date.search(answers) and not date.search(misses)


def test_a_when_naming_no_unit_takes_any_date() -> None:
    assert asked_date("评选结果什么时候公布？") is None and asked_date("When was it launched?") is None
    assert asked_date("一书一令几日能办好？") is None  # how many days, not which day
    day = asked_date("结果是几月几日公布的？")
    assert day is not None and day.search("7月11日") and not day.search("7月发布")


def test_a_figure_shared_with_the_cases_text() -> None:
    text = "2017至2022年,中心直接收案24336件"
    assert shares_figure("2017到2022年一共收了多少案子？", text)
    assert not shares_figure("2021年有多少人注册？", text)
    assert not shares_figure("第3个是哪个？", "3. 重庆市南岸区")  # one digit is no figure


def test_a_place_word_names_the_thing_before_its_localizer() -> None:
    # jieba's place words glue a localizer to the thing (路上): "在哪一段路上" asks about a road the text names.
    assert "路" in word_parts("路上") and "村" in word_parts("村里")
    assert is_mentioned("路上", "仅海峡路大石路立交至四公里立交段")
    assert word_parts("路网") == [] and word_parts("会上") == []  # no place word, or no localizer's

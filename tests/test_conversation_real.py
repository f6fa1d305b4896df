"""Conversations with the real model: complete questions stand alone, follow-ups resolve visibly,
everyday questions are refused with a redirect, and a refusal never names what it says it lacks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import KNOWLEDGE

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import load_embedder
from qa.models import Reply

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    settings = Settings.from_env(knowledge_dir=KNOWLEDGE, index_dir=tmp_path_factory.mktemp("conv") / "index")
    embedder = load_embedder(settings)
    build_index(settings, embedder, progress=False)
    yield Assistant.load(settings=settings, embedder=embedder)


def chat(bot: Assistant, *questions: str) -> list[Reply]:
    history: list[dict[str, str]] = []
    replies = []
    for question in questions:
        reply = bot.ask(question, history)
        replies.append(reply)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": reply.answer}]
    return replies


@pytest.mark.parametrize(
    ("first", "second", "case"),
    [
        ("潮汐车道花了多少钱？", "垫小二是什么？", "dianjiang-dianxiaoer"),
        ("莎姐有多少名检察官？", "孩子在学校被欺负了，可以找垫小二吗？", "dianjiang-dianxiaoer"),
        ("警快办有多少人注册？", "十大改革最佳实践都有哪些？", "overview"),
    ],
)
def test_a_complete_question_is_never_rewritten(bot: Assistant, first: str, second: str, case: str) -> None:
    reply = chat(bot, first, second)[-1]
    assert not reply.answer.startswith("（按“")
    assert reply.query.rstrip("?？") == second.replace("，", ",").rstrip("?？")
    assert case in [c.case_id for c in reply.citations]


@pytest.mark.parametrize(
    "question",
    [
        "明天重庆会下雨吗？",
        "解放碑附近哪家火锅好吃？",
        "渝中区哪里可以打疫苗？",
        "你好，讲个笑话吧",
        "What's the weather like in Chongqing today?",
    ],
)
def test_everyday_questions_are_refused_with_examples(bot: Assistant, question: str) -> None:
    reply = chat(bot, "警快办有多少人注册？", question)[-1]
    assert not reply.grounded
    assert "例如" in reply.answer and "是什么？" in reply.answer


def test_a_follow_up_is_shown_as_understood(bot: Assistant) -> None:
    _, second = chat(bot, "垫小二是什么？", "它是哪个单位搞的？")
    assert second.grounded
    assert second.answer.startswith("（按“垫小二")
    assert "垫江县委政法委" in second.answer
    assert "没有提到" not in second.answer  # the unit is known: never refused while being named


def test_na_x_carries_the_question_over(bot: Assistant) -> None:
    reply = chat(bot, "荣昌便民纠纷解决中心成功化解了多少纠纷？", "那石柱呢？")[-1]
    assert "20570件" in reply.answer
    assert reply.answer.startswith("（按“")


def test_an_ordinal_picks_from_a_two_item_list(bot: Assistant) -> None:
    reply = chat(bot, "有哪些县级的案例？", "第二个是哪个县的？")[-1]
    assert "垫江" in reply.answer


def test_district_and_unit_are_answered_from_the_front_matter(bot: Assistant) -> None:
    assert "江北" in bot.ask("西部金融法律服务中心在哪个区？").answer
    assert "市公安局" in bot.ask("警快办属于哪个部门？").answer


def test_a_detail_no_passage_speaks_of_is_refused(bot: Assistant) -> None:
    reply = bot.ask("车载便民法庭怎么预约？")
    assert not reply.grounded


@pytest.mark.parametrize("everyday", ["重庆市长是谁？", "觀音橋有哪些購物中心？", "谢谢你"])
def test_a_short_everyday_question_after_a_practice_is_not_read_as_about_it(bot: Assistant, everyday: str) -> None:
    _, reply = chat(bot, "江北那个金融法律服务中心有什么功能区？", everyday)
    assert not reply.grounded and "金融" not in reply.query  # asked alone, not about the centre


@pytest.mark.parametrize("follow_up", ["效果怎么样？", "收了多少案子？"])
def test_a_short_question_in_other_words_than_the_cases_continues_it(bot: Assistant, follow_up: str) -> None:
    first, reply = chat(bot, "荣昌便民纠纷解决中心有多少间调解室？", follow_up)
    assert reply.query.startswith("渝事荣易解")  # read about the case, even where it then lacks the detail
    assert reply.citations and reply.citations[0].case_id == first.citations[0].case_id


def test_an_english_everyday_question_after_a_practice_is_not_read_as_about_it(bot: Assistant) -> None:
    _, reply = chat(bot, "車載便民法庭是哪個單位報送的？", "What can you do?")
    assert not reply.grounded and "法庭" not in reply.query  # the span reader found an answer to it there


def test_an_english_follow_up_is_answered_by_the_rules_span_holding_its_words(bot: Assistant) -> None:
    # Rewritten, the question holds 莎姐; as asked it is English, so the reader's own sentence (the
    # honours before the head count) does not answer outside the rules' spans.
    _, reply = chat(bot, "What is Sha Jie?", "How many prosecutors are involved?")
    assert reply.grounded and "416名" in reply.answer and reply.citations[0].case_id == "shajie-minors"


def test_a_complete_question_whose_words_only_the_last_case_holds_continues_it(bot: Assistant) -> None:
    # Asked alone, retrieval would pick 车载便民法庭, whose text lacks 打分; 垫小二's has every word.
    _, reply = chat(bot, "垫小二这个名字有什么含义？", "打分权交给谁？")
    assert reply.grounded and "企业和群众" in reply.answer and reply.citations[0].case_id == "dianjiang-dianxiaoer"


def test_a_request_after_a_practice_is_not_answered_with_its_nominating_unit(bot: Assistant) -> None:
    # 推荐 as "recommend me" is no question about who nominated the practice (推荐单位).
    _, reply = chat(bot, "车载便民法庭能提供哪些服务？", "推荐一家火锅店吧")
    assert not reply.grounded and "市高法院" not in reply.answer.split("相关案例")[0]


def test_a_single_character_is_no_sign_of_an_absent_detail(bot: Assistant) -> None:
    # 去 is in no passage; "一般去哪儿？" asks where the court goes (田间地头), no detail the case lacks.
    _, reply = chat(bot, "打分权交给谁？", "车载便民法庭一般去哪儿？")
    assert reply.grounded and "田间地头" in reply.answer


def test_what_about_after_an_english_question_asks_it_again_about_the_new_case(bot: Assistant) -> None:
    # The English question names its case in words no name matches ("the tidal lane practice"),
    # so the case it was about comes from the conversation; the new name leads the rewriting.
    _, reply = chat(bot, "Which unit submitted the tidal lane practice?", "What about Sha Jie?")
    assert reply.grounded and "大渡口区委政法委" in reply.answer and reply.citations[0].case_id == "shajie-minors"


def test_a_carried_english_question_names_the_new_case_and_asks_only_what_it_asked(bot: Assistant) -> None:
    # "Sha Jie" in the carried question becomes 贵和工作法, and its words (prosecutors → 检察官) are
    # what is asked: 贵和工作法's text has no prosecutors, so the reply says so instead of giving 242个.
    _, reply = chat(bot, "How many prosecutors does Sha Jie have?", "What about Guihe?")
    assert "How many prosecutors does 贵和工作法 have" in reply.answer
    assert not reply.grounded and "242" not in reply.answer


def test_a_practice_chosen_by_its_topic_is_the_one_a_pronoun_then_continues(bot: Assistant) -> None:
    first, reply = chat(bot, "十大最佳实践中有没有治理交通拥堵的？", "这个做法减少了哪一段的拥堵？")
    assert "潮汐车道" in first.answer and "nanan-tidal-lane" in [c.case_id for c in first.citations]
    assert reply.grounded and "海峡路" in reply.answer and reply.citations[0].case_id == "nanan-tidal-lane"


@pytest.mark.parametrize(
    ("first", "follow_up", "expected", "case"),
    [
        ("“莎姐”是哪里的品牌？", "现在一共有多少位检察官在做这件事？", "416名", "shajie-minors"),
        ("渝事荣易解是哪个区的做法？", "那里面一共有多少个房间是专门用来调解的？", "36间", "rongchang-mediation"),
        ("垫江的垫小二是谁搞的？", "他们一共给多少个窗口打了分？", "115个", "dianjiang-dianxiaoer"),
    ],
)
def test_this_thing_and_in_there_point_back_at_the_practice(
    bot: Assistant, first: str, follow_up: str, expected: str, case: str
) -> None:
    # 这件事 and 那里 name no topic of their own: the question is about the practice just discussed.
    _, reply = chat(bot, first, follow_up)
    assert reply.grounded and expected in reply.answer and reply.citations[0].case_id == case


def test_a_demonstrative_is_replaced_whole_in_the_reading_shown(bot: Assistant) -> None:
    # A leading 那 ("so") is dropped, but not the 那 of 那个: the reading read "渝事荣易解个中心…".
    _, reply = chat(bot, "渝事荣易解是哪个区的做法？", "那个中心有多少间调解室？")
    assert "渝事荣易解中心有多少间调解室" in reply.answer and "36间" in reply.answer


def test_a_follow_up_in_words_of_a_name_it_does_not_use_is_no_absent_detail(bot: Assistant) -> None:
    # 纠纷 is a word of the case's other name (荣昌便民纠纷解决中心), so it was no topic word of the
    # follow-up, which then spoke of nothing the case's text holds and was refused.
    _, reply = chat(bot, "渝事荣易解是哪个区的做法？", "这几年它处理的纠纷一共涉及多少金额？")
    assert reply.grounded and "14.3亿元" in reply.answer


def test_a_complete_question_in_words_several_cases_share_continues_the_last_case(bot: Assistant) -> None:
    # 化解 and 纠纷 are in 渝事荣易解's text as well, and alone the question goes there; after two
    # questions about 贵和工作法, whose text holds both words, it asks about 贵和工作法.
    *_, reply = chat(bot, "贵和工作法是哪个县的？", "贵和工作法是怎么调解矛盾的？", "迄今一共化解了多少件纠纷？")
    assert reply.grounded and "20570件" in reply.answer and reply.citations[0].case_id == "shizhu-guihe"


@pytest.mark.parametrize(
    ("first", "question", "expected", "case"),
    [
        # 堵车 and 时间 are no words of any passage, so the question is complete and no case's text holds
        # all its words; alone it is off-topic. "少了多少" asks what the practice under discussion changed.
        ("南岸的潮汐车道是谁牵头建的？", "早高峰堵车的时间少了多少？", "66.7%", "nanan-tidal-lane"),
        # 案子 is no passage's word (收案 is): a year the last case's text holds points at it.
        ("荣昌区那个渝事荣易解品牌是啥", "2017到2022年一共收了多少案子？", "24336件", "rongchang-mediation"),
        # Asked alone it is on-topic about 一书一令, so it does not continue the tidal lane.
        ("南岸的潮汐车道是谁牵头建的？", "矛盾纠纷类警情同比下降了多少？", "23.7%", "banan-yishuyiling"),
    ],
    ids=["change-continues", "year-continues", "other-case-switches"],
)
def test_a_change_or_a_shared_number_asked_of_nothing_named(
    bot: Assistant, first: str, question: str, expected: str, case: str
) -> None:
    _, reply = chat(bot, first, question)
    assert reply.grounded and expected in reply.answer and reply.citations[0].case_id == case


def test_an_everyday_change_asked_after_a_practice_is_not_answered(bot: Assistant) -> None:
    _, reply = chat(bot, "南岸的潮汐车道是谁牵头建的？", "重庆今年GDP增长了多少？")
    assert not reply.grounded


@pytest.mark.parametrize(
    ("first", "question", "expected", "case"),
    [
        # 那个 before a description of 警快办 (no name, no place): its words are 警快办's, not the tidal lane's.
        ("潮汐车道花了多少钱？", "重庆公安那个手机应用上线以来注册人数有多少？", "1714万", "jingkuaiban"),
        # The same demonstrative pointing back: the words are the last case's own.
        ("警快办是什么？", "那个应用的注册人数有多少？", "1714万", "jingkuaiban"),
    ],
    ids=["describes-another-switches", "points-back-continues"],
)
def test_a_demonstrative_before_a_description(
    bot: Assistant, first: str, question: str, expected: str, case: str
) -> None:
    _, reply = chat(bot, first, question)
    assert reply.grounded and expected in reply.answer and reply.citations[0].case_id == case

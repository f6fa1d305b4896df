"""Behaviour with the real model, one test per question category. Wording is fresh (not in the dev set)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import KNOWLEDGE

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import load_embedder

pytestmark = pytest.mark.slow
MARKER = re.compile(r"\[\d+\]")


@pytest.fixture(scope="module")
def real_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    settings = Settings.from_env(knowledge_dir=KNOWLEDGE, index_dir=tmp_path_factory.mktemp("real") / "index")
    embedder = load_embedder(settings)
    build_index(settings, embedder, progress=False)  # also runs knowledge/checks.jsonl against the real model
    yield Assistant.load(settings=settings, embedder=embedder)


def ask(bot: Assistant, question: str, history: list[dict[str, str]] | None = None) -> tuple[str, list[str], bool]:
    reply = bot.ask(question, history or [])
    for citation in reply.citations:
        assert citation.quote in citation.text  # every quote is an exact span of its passage
    return reply.answer, [c.case_id for c in reply.citations], reply.grounded


def assert_answered(bot: Assistant, question: str, case: str, expected: str) -> str:
    """``question`` is answered from ``case`` (its first citation) with ``expected`` in the answer."""
    answer, cited, grounded = ask(bot, question)
    assert grounded and expected in answer and cited[0] == case
    return answer


def assert_concise(answer: str) -> None:
    assert len(MARKER.sub("", answer)) <= 150, answer


@pytest.mark.parametrize(
    ("question", "case", "expected"),
    [
        ("警快办的用户注册量达到了多少？", "jingkuaiban", "1714万"),
        ("巴南一书一令的履行率是多少", "banan-yishuyiling", "100%"),
        ("大渡口的莎姐有多少名检察官？", "shajie-minors", "416名"),
        ("垫小二覆盖了垫江多少个窗口科室", "dianjiang-dianxiaoer", "115个"),
        ("潮汐车道让早高峰拥堵时间少了多少", "nanan-tidal-lane", "66.7%"),
        ("这次评选总共征集了几个范例", "overview", "89个"),
        ("石柱一共弄了多少个贵和工作室？", "shizhu-guihe", "242个"),  # no case says 弄: the span reader finds it
        ("警快办被访问了多少次？", "jingkuaiban", "5.4亿人次"),  # 人次 answers 多少次
        ("警快办一共办了多少件事？", "jingkuaiban", "8567万余件"),  # the clause need not repeat the name
    ],
)
def test_facts_are_exact_cited_and_concise(real_bot: Assistant, question: str, case: str, expected: str) -> None:
    assert_concise(assert_answered(real_bot, question, case, expected))


def test_paraphrased_need_finds_the_practice(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "被家里人打了，想申请人身安全保护令要多长时间？")
    assert grounded and cited[0] == "banan-yishuyiling" and "20分钟" in answer


def test_traditional_typo_and_english(real_bot: Assistant) -> None:
    assert "1714万" in ask(real_bot, "警快辦註冊用戶有多少？")[0]
    assert "66.7%" in ask(real_bot, "潮夕车道早高峰拥堵减少了多少？")[0]
    answer, cited, _ = ask(real_bot, "How many volunteers work with Sha Jie?")
    assert "1678名" in answer and cited[0] == "shajie-minors"


@pytest.mark.parametrize(
    ("question", "case", "expected"),
    [
        ("治理早高峰拥堵的那项改革是哪个区的？", "nanan-tidal-lane", "南岸区"),
        ("Which department is behind the police quick-service app?", "jingkuaiban", "市公安局"),
        ("Which county runs the Guihe mediation rooms?", "shizhu-guihe", "石柱县"),  # the pinyin of a name's head
    ],
)
def test_a_practice_described_not_named_gets_its_front_matter(
    real_bot: Assistant, question: str, case: str, expected: str
) -> None:
    assert_answered(real_bot, question, case, expected)


@pytest.mark.parametrize(
    ("question", "case", "expected"),
    [
        ("贵和工作法在哪里？", "shizhu-guihe", "石柱县"),  # where a practice is: its district
        ("Where is the Sha Jie brand based?", "shajie-minors", "大渡口区"),
        ("一书一令是谁提出来的？", "banan-yishuyiling", "巴南区委政法委"),  # 是谁…的: who is behind it
        ("评选活动是谁主办的？", "overview", "市委政法委、市法学会"),  # the overview: its text says so
    ],
)
def test_where_and_who_of_a_named_case_come_from_its_front_matter(
    real_bot: Assistant, question: str, case: str, expected: str
) -> None:
    assert_answered(real_bot, question, case, expected)


def test_numbers_in_words_are_figures_not_topics(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "评选分几个阶段？")  # the text says 四个阶段
    assert grounded and "四个阶段" in answer and cited[0] == "overview"
    answer, cited, grounded = ask(real_bot, "莎姐是一个什么品牌？")  # 一个 is no topic the case lacks
    assert grounded and cited[0] == "shajie-minors"


def test_words_jieba_made_up_are_cut_at_the_knowledge_bases_words(real_bot: Assistant) -> None:
    # jieba cuts 实施后警情降了 into 后警 and 情降, hiding 警情: it was refused as a detail the case lacks.
    assert_answered(real_bot, "一书一令实施后警情降了多少？", "banan-yishuyiling", "23.7%")


def test_the_readers_place_picks_among_close_clauses_where_it_would_not_answer(real_bot: Assistant) -> None:
    # 调解 (of the name the user gave) drew the clause of 36间调解室; the reader points at 16206件, below its
    # no-answer option.
    assert_answered(real_bot, "荣昌调解中心化解了多少纠纷？", "rongchang-mediation", "16206件")


def test_a_practice_asked_about_in_an_interrogative_idiom_is_described(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "南岸的潮汐车道是怎么回事？")  # 怎么回事 was a topic no passage holds
    assert grounded and cited[0] == "nanan-tidal-lane" and "潮汐车道" in answer
    # Nothing but the name to go on: the sentence naming it, not the slogan before it ("为你铺“垫”…").
    answer, cited, grounded = ask(real_bot, "垫小二是干什么的？")
    assert grounded and cited[0] == "dianjiang-dianxiaoer" and "大众点评" in answer


@pytest.mark.parametrize(
    ("question", "case", "expected"),
    [
        ("How many honours has the Sha Jie brand won?", "shajie-minors", "40多项"),  # British spelling
        ("How many administrative reconsideration windows are there in Chongqing?", "admin-reconsideration", "41个"),
        ("What is the fulfilment rate of Yishu Yiling?", "banan-yishuyiling", "100%"),  # fulfil(l)ment → fulfill
        # Named by no case: the glossary's 结果 and 揭晓 outweigh the dense ranking's heading "2. 重庆市荣昌区".
        # Two sentences of the overview answer it, "7月11日…结果揭晓" and "7月发布最佳实践评选结果"; the
        # reader, which learned from Chinese questions, favours the second with fbgemm's AVX2 kernels.
        ("When were the results of the selection announced?", "overview", "7月"),
        # English words no passage holds no longer dilute 主办: the source line "(文章来源:上游新闻)" answered.
        ("Who organised the selection of Chongqing's ten best political-legal reform practices?", "overview", "主办"),
    ],
)
def test_english_words_in_other_forms_find_their_chinese(
    real_bot: Assistant, question: str, case: str, expected: str
) -> None:
    assert_answered(real_bot, question, case, expected)


def test_a_question_ranking_the_practices_is_not_answered_by_one_practices_front_matter(real_bot: Assistant) -> None:
    answer, _, grounded = ask(real_bot, "哪个区县的调解成功率最高？")
    assert grounded and "%" in answer  # a sentence with its figure, not the best-retrieved practice's district


def test_follow_up_keeps_the_case_and_switches_when_named(real_bot: Assistant) -> None:
    first = real_bot.ask("警快办是干什么的？")
    history = [{"role": "user", "content": "警快办是干什么的？"}, {"role": "assistant", "content": first.answer}]
    follow = real_bot.ask("它累计办了多少件事？", history)
    assert "警快办" in follow.query and "8567万余件" in follow.answer
    switched = real_bot.ask("那莎姐有多少志愿者？", history)
    assert switched.citations[0].case_id == "shajie-minors" and "1678名" in switched.answer


def test_lists_come_from_case_metadata(real_bot: Assistant) -> None:
    answer, cited, _ = ask(real_bot, "县里报送的实践有哪些？")
    assert "贵和工作法" in answer and "垫小二" in answer and "警快办" not in answer
    assert set(cited) == {"shizhu-guihe", "dianjiang-dianxiaoer"}
    answer, _, _ = ask(real_bot, "十大实践都有哪些")
    assert answer.count("\n") == 10


def test_a_figure_asked_in_words_the_text_never_uses_gets_the_clause_the_reader_places(real_bot: Assistant) -> None:
    # 涉及的金额 for 涉案标的: no clause holds the question's words, so the reader says where.
    answer, cited, grounded = ask(real_bot, "渝事荣易解涉及的金额有多大？")
    assert grounded and "14.3亿元" in answer and cited == ["rongchang-mediation"]


def test_a_figure_asked_in_other_verbs_is_answered_where_the_reader_doubts_it(real_bot: Assistant) -> None:
    # The reader puts these at its floor; but what is counted (事) or the kind of figure (钱 → 元)
    # is the text's, and only the verbs (办成, 实施, 处理) are other words.
    answer, cited, grounded = ask(real_bot, "警快办上老百姓办成了几件事？")
    assert grounded and "8567万余件" in answer and cited == ["jingkuaiban"]
    answer, _, grounded = ask(real_bot, "一书一令实施后纠纷警情降了多少？")
    assert grounded and "23.7%" in answer
    answer, _, grounded = ask(real_bot, "这些年荣昌中心处理的纠纷涉及金额有多少钱？")
    assert grounded and "14.3亿元" in answer


def test_by_how_much_is_answered_by_a_figure_said_to_have_changed(real_bot: Assistant) -> None:
    # 派出所 and 推行 share more words with "28个派出所已全面推行"; the question asks a decrease.
    answer, _, grounded = ask(real_bot, "一书一令推行后派出所的纠纷警情少了多少？")
    assert grounded and "23.7%" in answer and "28个" not in answer


def test_an_effect_asked_is_answered_by_what_changed(real_bot: Assistant) -> None:
    # The text never says 效果 or 成效: not an absent detail, and the sentence saying what improved answers.
    answer, _, grounded = ask(real_bot, "垫小二有什么成效？")
    assert grounded and "满意度" in answer
    history = [{"role": "user", "content": "潮汐车道花了多少钱？"}]
    answer, cited, grounded = ask(real_bot, "效果好不好？", history)
    assert grounded and "66.7%" in answer and cited == ["nanan-tidal-lane"]


def test_a_figure_of_the_measure_asked_may_leave_its_topic_to_its_sentence(real_bot: Assistant) -> None:
    # "自…上线运行以来,注册人数1714万,累计访问量5.4亿人次": 上线 is in the sentence's first clause only.
    answer, cited, grounded = ask(real_bot, "警快办上线以后，大伙儿总共用了多少次？")
    assert grounded and "5.4亿人次" in answer and cited == ["jingkuaiban"]


def test_a_word_of_time_asked_is_no_absent_detail(real_bot: Assistant) -> None:
    # 当时 (then) says when the question looks, not what it asks about: the figure answers.
    answer, cited, grounded = ask(real_bot, "朝汐车道当时一共才花了多少钱？")
    assert grounded and "200万元" in answer and cited == ["nanan-tidal-lane"]


def test_a_day_asked_is_answered_by_the_clause_that_gives_the_day(real_bot: Assistant) -> None:
    """Two sentences date the results: "7月发布…结果" and "7月11日,…结果揭晓"; a day asked gets the day."""
    assert_answered(real_bot, "十大实践的评选结果是哪一天公布的？", "overview", "7月11日")
    answer = assert_answered(
        real_bot, "What date was the result of the ten best practices selection published?", "overview", "7月11日"
    )
    assert answer.startswith("7月11日")


def test_a_follow_up_asking_where_on_the_road_is_no_absent_detail(real_bot: Assistant) -> None:
    # 路上 is jieba's place word for "on the road"; the text names the road (海峡路…段), not 路上.
    history = [{"role": "user", "content": "南岸区的潮汐车道是谁建的？"}]
    answer, cited, grounded = ask(real_bot, "它具体在哪一段路上见效最明显？", history)
    assert grounded and "四公里立交" in answer and cited == ["nanan-tidal-lane"]


def test_an_abbreviation_of_the_texts_name_is_no_absent_detail(real_bot: Assistant) -> None:
    # 央视 is 中央电视台 shortened; no passage says 央视.
    assert_answered(real_bot, "莎姐在央视露过几次面？", "shajie-minors", "2次登上中央电视台")


def test_an_english_question_takes_the_clause_the_reader_places_among_close_ones(real_bot: Assistant) -> None:
    # "candidate" → 候选 is in the wrong sentence; the reader places 89个 though its no-answer option wins.
    question = "How many candidate practices were submitted before the ten best reform practices were picked?"
    answer, _, grounded = ask(real_bot, question)
    assert grounded and "89个" in answer


def test_a_figure_asked_in_words_the_text_uses_elsewhere_is_not_placed_by_the_reader(real_bot: Assistant) -> None:
    # 全国 and 机构 are the text's words, in other sentences: the question asks about something else.
    answer, _, _ = ask(real_bot, "全国有多少个行政复议机构？")
    assert "1034" not in answer and "41个" not in answer


def test_an_english_which_question_about_one_practice_is_no_list(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "Which unit submitted the tidal lane practice?")
    assert grounded and "南岸区委政法委" in answer and "\n" not in answer and cited[0] == "nanan-tidal-lane"


def test_a_list_asked_by_topic_holds_the_practices_whose_text_speaks_of_it(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "哪些实践跟交通有关？")
    assert grounded and "交通" in answer.splitlines()[0] and cited == ["nanan-tidal-lane"]
    answer, cited, _ = ask(real_bot, "十大实践里有哪些和调解有关？")
    assert "rongchang-mediation" in cited and "banan-yishuyiling" in cited and "jingkuaiban" not in cited
    answer, cited, _ = ask(real_bot, "哪个案例是关于未成年人保护的？")  # one asked for, chosen among them
    assert "shajie-minors" in cited
    answer, cited, _ = ask(real_bot, "Which of the practices is about traffic?")
    assert cited == ["nanan-tidal-lane"]
    # "involve" relates the practices to the topic; its translations (当事…) are no topic
    answer, cited, _ = ask(real_bot, "Which practices involve mediation?")
    assert {"rongchang-mediation", "banan-yishuyiling"} <= set(cited) and "与“调解”有关" in answer


def test_practices_asked_by_a_topic_no_practice_speaks_of_are_none(real_bot: Assistant) -> None:
    for question in ("有没有关于环保的案例？", "有哪些关于环保的案例？"):
        answer, _, grounded = ask(real_bot, question)
        assert not grounded and answer.startswith("知识库中没有符合条件的案例")


def test_words_no_listed_practice_speaks_of_do_not_filter_a_list(real_bot: Assistant) -> None:
    # "units" translates to 基层, 科室: words of two county practices, not of any district's.
    answer, cited, _ = ask(real_bot, "Which practices were submitted by district units?")
    assert answer.startswith("共有 5 个区级案例") and len(cited) == 5


def test_the_level_comes_from_the_front_matter(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "车载便民法庭属于哪一级？")
    assert grounded and answer.startswith("车载便民法庭：市级") and "5g-mobile-court" in cited
    answer, _, _ = ask(real_bot, "贵和工作法属于哪一级？")
    assert answer.startswith("贵和工作法：县级")


def test_where_and_the_level_asked_in_everyday_words_come_from_the_front_matter(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "贵和工作法最早是在哪个地方搞起来的？")
    assert grounded and answer.startswith("贵和工作法：重庆市石柱县") and "shizhu-guihe" in cited
    answer, _, _ = ask(real_bot, "莎姐是市级还是区级的实践？")
    assert answer.startswith("莎姐：区级")
    answer, _, _ = ask(real_bot, "垫小二算市级的做法还是区县的？")
    assert answer.startswith("垫小二：县级")


def test_the_source_comes_from_the_front_matter_without_a_passage_that_does_not_state_it(
    real_bot: Assistant,
) -> None:
    answer, cited, grounded = ask(real_bot, "警快办这篇的来源是哪里？")
    assert grounded and answer == "警快办：上游新闻[1]。" and cited == ["jingkuaiban"]


def test_the_sources_of_the_material_answer_a_source_question_naming_no_case(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "这篇报道来自哪家媒体？")
    assert grounded and answer.startswith("知识库的资料来自：上游新闻（11 份资料）") and cited == ["overview"]
    _, _, grounded = ask(real_bot, "哪家媒体最权威？")  # about media, not about this material
    assert not grounded


def test_comparison_states_both_figures_and_the_winner(real_bot: Assistant) -> None:
    answer, cited, grounded = ask(real_bot, "巴南和石柱的调解成功率哪个高？")
    assert grounded and "98.8%" in answer and "99.42%" in answer and answer.endswith("更高。")
    assert {"banan-yishuyiling", "shizhu-guihe"} <= set(cited)


@pytest.mark.parametrize(
    "question",
    [
        "周末去哪里吃火锅比较好？",
        "帮我写一段 JavaScript 代码",
        "What's the capital of France?",
        "杭州的政务服务做得怎么样？",
        "北京的交通拥堵治理是哪个部门负责的？",
    ],
)
def test_off_topic_is_refused_plainly(real_bot: Assistant, question: str) -> None:
    answer, cited, grounded = ask(real_bot, question)
    assert not grounded and "知识库" in answer and not cited


@pytest.mark.parametrize(
    ("question", "case"),
    [
        ("警快办的客服电话是多少？", "jingkuaiban"),
        ("莎姐品牌是哪一年创立的？", "shajie-minors"),
        ("5G车载便民法庭一共有多少辆车？", "5g-mobile-court"),
        ("莎姐检察官的工资是多少？", "shajie-minors"),  # money: a head count is no answer
        ("警快办的APP在哪里下载？", "jingkuaiban"),  # where to download: not its district
        # a figure of something no passage mentions, the reader sure it is absent: not the head count beside it
        ("莎姐检察官的平均年龄是多少？", "shajie-minors"),
        ("南岸的潮汐车道总长有多少公里？", "nanan-tidal-lane"),
        # a time of day: no clock time in the text, whatever sentence speaks of the practice
        ("What time does the finance legal service center open?", "jiangbei-finance-law"),
        ("警快办早上几点开始办理业务？", "jingkuaiban"),
        # the kind a "which" asks for (检察官) is no sign the case speaks of the person asked about
        ("一书一令是哪位法官想出来的？", "banan-yishuyiling"),
        ("莎姐最初是哪位检察官创立的？", "shajie-minors"),
    ],
)
def test_missing_detail_is_refused_and_points_to_the_case(real_bot: Assistant, question: str, case: str) -> None:
    answer, cited, grounded = ask(real_bot, question)
    assert not grounded and "没有提到" in answer and cited == [case]


def test_index_dir_argument(real_bot: Assistant, tmp_path: Path) -> None:
    assert real_bot.health()["cases"] == 11 and real_bot.health()["model"] == "multilingual-e5-small"


def test_bare_case_name_re_asks_the_previous_question(real_bot: Assistant) -> None:
    first = real_bot.ask("石柱化解了多少矛盾纠纷？")
    history = [{"role": "user", "content": "石柱化解了多少矛盾纠纷？"}, {"role": "assistant", "content": first.answer}]
    reply = real_bot.ask("那荣昌呢？", history)
    assert "纠纷" in reply.query and "16206件" in reply.answer and reply.citations[0].case_id == "rongchang-mediation"
    missing = real_bot.ask("那警快办呢？", history)
    assert not missing.grounded


def test_how_it_is_done_is_described_though_the_text_never_uses_the_verb(real_bot: Assistant) -> None:
    # "是怎么…的" asks how the practice works, which a description answers (运作, 搞法 are no word of
    # the text); "怎么预约" asks how the user does a thing, a detail the text may well lack.
    answer, cited, grounded = ask(real_bot, "复调对接机制是怎么运作的？")
    assert grounded and "复调对接" in answer and cited == ["admin-reconsideration"]
    answer, _, grounded = ask(real_bot, "渝事荣易解是怎么个搞法？")
    assert grounded and "机制" in answer
    _, _, grounded = ask(real_bot, "渝事荣易解怎么预约？")
    assert not grounded


def test_money_asked_as_an_outlay_is_answered_by_the_sum_invested(real_bot: Assistant) -> None:
    # 开支 is no word of the text, but it asks money: the clause in 元 answers, not an absent-detail refusal.
    answer, cited, grounded = ask(real_bot, "建潮汐车道的开支有多大？")
    assert grounded and "200万元" in answer and cited == ["nanan-tidal-lane"]


def test_who_built_it_is_answered_by_the_text_where_the_reader_is_sure(real_bot: Assistant) -> None:
    # The front matter holds the unit that put the case forward (南岸区委政法委); the text says who built it.
    answer, cited, grounded = ask(real_bot, "潮汐车道是哪个部门负责建成的？")
    assert grounded and "南岸区公安分局" in answer and cited == ["nanan-tidal-lane"]
    answer, _, grounded = ask(real_bot, "潮汐车道是哪个单位报送的？")
    assert grounded and "南岸区委政法委" in answer and "公安分局" not in answer

"""What questions and answers look like: the patterns of a question's *shape* (a figure, a date,
a list, a follow-up) and of figures in text. Shape only: nothing here names a case or its words."""

from __future__ import annotations

import math
import re

MAX_CHARS = 150
NAME_CHARS = 8  # longer "names" are titles, whose words describe rather than name
STOPS = "。！？!?"  # what ends a sentence
SENTENCE_END = re.compile(rf"(?<=[{STOPS}])(?![”’」』])|(?<=[{STOPS}][”’」』])")
CLAUSE_END = re.compile(rf"(?<=[,，;；{STOPS}])|(?<=……)")
# What kind of answer the question wants decides which spans may answer it at all.
QUANTITY = re.compile(
    r"多少|(?<!哪)几(?!乎)|多大|多高|多长|多久|比例|百分|率|how many|how much|number of|percent|\brates?\b"
)
WHEN = re.compile(
    r"什么时候|何时|哪天|哪一天|哪年|哪一年|几月|几号|日期|\bwhen\b|what (?:year|month|date|day)|which (?:year|month|day)"
)
# The unit a "when" names, finest first, and a date of that unit: a day asked ("哪一天公布的？") is not
# answered by a month ("7月发布…") where a clause gives the day ("7月11日,…结果揭晓"). A bare 几日 is
# not among them: "几日能办好？" asks how many days.
DATE_UNITS = (
    (
        re.compile(r"哪天|哪一天|几号|几月几日|哪日|日期|\bwhat (?:date|day)\b|\bwhich day\b|\bon what date\b"),
        re.compile(r"\d+\s*[日号]"),
    ),
    (re.compile(r"几月|哪个月|哪月|\bwhat month\b|\bwhich month\b"), re.compile(r"\d+\s*月")),
    (re.compile(r"哪年|哪一年|\bwhat year\b|\bwhich year\b"), re.compile(r"\d{4}\s*年")),
)
# "几点开始变向？" asks a time of day: only a clock time answers it, not a date or a duration.
CLOCK_ASKED = re.compile(r"几点|\bwhat time\b|\bat what hour\b")
CLOCK_IN = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*(?:点|时(?![代间期长]))")
DESCRIBE = re.compile(
    r"是什么|干什么|做什么|干嘛|干啥|做啥|是啥|啥意思|什么意思|含义|介绍|怎么样|是怎么|是怎样|如何|what is|what does|what are"
)
CONTACT = re.compile(r"电话|热线|网址|网站|邮箱|地址|联系方式|微信|公众号|官网|下载|phone|address|website|email")
WHO = re.compile(r"谁|哪家|哪个部门|哪个单位|哪位|\bwho\b")
WHICH = re.compile(r"哪(?:一)?(?:位|个|家)")
DURATION = re.compile(r"多长时间|多久|多少时间|多少天|几天|how long")
PERCENT = re.compile(r"百分|率|percent|\brates?\b")
MONEY = re.compile(
    r"钱|花了|花费|费用|成本|资金|投入|投资|经费|金额|工资|薪|价格|收费|造价|开销|开支|花销|预算|money|cost|invest|\bprices?\b|\bsalar(?:y|ies)\b|\bfees?\b"
)
SPENDING = re.compile(r"投资|资金|经费|费用|成本|花费|投入")
SPENDING_Q = re.compile(r"花|投资|投入|费用|成本|经费|造价|cost|invest|spend")
# "Which unit nominated it?" is answered from the case metadata's unit, not from the text. 推荐 names
# the nominating unit as "推荐的/推荐单位/被推荐", not as a request ("推荐一家火锅店吧").
UNIT = re.compile(
    r"报送|推荐(?:的|单位)|被推荐|谁推荐|申报|选送|(?:哪个|哪家|什么|哪一个)(?:单位|部门|机构|机关)|谁(?:搞|做|办|推出|牵头|负责|主导|建)|是谁\w{1,4}的"
    r"|which (?:unit|department|agency|organi[sz]ation|body)|who (?:runs|submitted|nominated|launched|is behind)"
)
# "Which district is it in?": the case's region, from the front matter. "在哪里" asks where a practice
# is ("垫小二在哪里？") or was done ("是在哪里搞的？"), not where to do something with it ("APP在哪里下载？").
# "哪个地方" and the like ask "where" as 哪里 does.
WHERE = r"(?:哪里|哪儿|哪个地方|什么地方|哪个地区|何地)"
# The unit asked as the one that put the case forward, which the front matter records (报送单位).
SUBMITTED = re.compile(r"报送|报上|推荐|申报|选送|submit|nominat")
REGION = re.compile(
    rf"(?:哪个|哪一个|哪)(?:区县|区|县)(?![委域])|{WHERE}的(?:做法|案例|实践)"
    rf"|[在从]{WHERE}(?:\w{{1,5}}的)?(?=$|[？?。！!，,\s])"
    r"|which (?:district|county)|where (?:is|are)\b|where's"
)
# "属于哪一级？": the practice's level (市级, 区, 县), from the front matter.
# An alternative between levels ("算市级的，还是区县搞的？") asks it too.
LEVELS = r"(?:市级|区级|县级|区县级?)"
LEVEL = re.compile(
    rf"哪一级|哪个级别|什么级别|哪一层级|哪个层级|{LEVELS}[^？?。]{{0,10}}还是|还是[^？?。]{{0,6}}{LEVELS}"
    r"|\b(?:what|which) level\b"
)
# "这篇报道来自哪家媒体？": the publisher of the report, from the front matter.
REPORT_WORDS = "报道|文章|新闻|资料|这篇"  # the knowledge base's own material
SOURCE = re.compile(
    rf"(?:{REPORT_WORDS})\w{{0,4}}(?:来源|出处)|(?:哪家|哪个|什么)媒体|哪家报纸"
    r"|\bsource\b.*\b(?:report|article|news|story)\b|\b(?:report|article|news|story)\b.*\bsource\b"
    r"|which (?:media|newspaper|outlet)|who (?:published|reported)"
)
# The knowledge base's own material: "这篇报道来自哪家媒体？" asks about it, "哪家媒体最权威？" does not.
REPORT = re.compile(rf"{REPORT_WORDS}|\b(?:report\w*|articles?|news|stor(?:y|ies)|published)\b")
FIELD_NAMES = {"unit": "报送单位", "region": "所在区县", "level": "层级", "source": "来源"}
ALL_OF = re.compile(r"(?:所有|全部)(\w{2})")
MEASURE = re.compile(r"(?:多少|几)(公里|千米|平方米|米|亩|吨|[名件项份张次间所辆人岁元])")
# A measure word in the question and the ones that answer it (多少人 → 1678名).
MEASURE_ANSWERS = {"人": "人|名|位", "元": "元", "次": "人?次"}
# A figure: digits, or a number in words before a measure word ("四个阶段", "三大任务").
DIGITS = r"\d[\d.]*[余多]?[万亿]?[余多]?"
WORDS = (
    r"(?<!第)(?:[二两三四五六七八九十百千][零一二两三四五六七八九十百千]*|一(?=[个名件项份次间所]))"  # 第一次: an order
)
TIME_SPAN = re.compile(rf"(?:\d+|{WORDS})\s*(?:分钟|小时|天|周|个月|年|日)")
FIGURE_IN = re.compile(rf"(?:{DIGITS}|{WORDS})" + r"(?:%|[个名件项份张次间所辆人元倍版大]|人次|分钟|小时|天)")
DATE_IN = re.compile(r"\d+\s*(?:年|月|日)")
HEADING = re.compile(r"^\d+\.\s*\S{0,12}$")
# A catalogue question asks for the members of the collection itself: "有哪些？", "哪些是县一级的？".
LISTING = re.compile(
    # 哪几个 whole: "哪几个阶段" lists stages, though "哪几" + 个 would look like "哪几个".
    r"(?:哪些|哪几个|哪几(?!个)|哪几项|有什么|分别是什么|都是什么)(?=$|[？?。!！,，\s]|是|个|项|家|案例|实践|范例|单位|部门|区县|县|区|做法|项目)"
    r"|\blist\b|\bwhich\b(?=.*\b(?:practices|cases|examples)\b)|what are"
)
# One practice (or any) chosen by what it is about: "哪个案例是关于未成年人的？", "有没有治理拥堵的？"
CHOOSING = re.compile(
    r"(?:哪个|哪一个|哪项|哪一项)(?:案例|实践|范例|做法|项目)|有没有\w*的(?:案例|实践|范例|做法)?(?=$|[？?。！!])"
    r"|(?:哪些|哪个|哪几个)(?:[和跟与同]\w+(?:有关|相关)|关于|涉及)"
)
# Words that relate the practices to their topic ("涉及", "有关", "involve"), not the topic itself.
RELATION = re.compile(
    r"涉及|有关|相关|关于|关联|用到|用了|\b(?:involv\w*|concern\w*|relat\w*|deal\w*|regard\w*|about|use[ds]?|using)\b"
)
COLLECTION = re.compile(
    r"实践|案例|范例|单位|部门|做法|项目|名单|入选|区县|县级|县一级|县里|区级|区一级|区里|市级|practices?\b|cases?\b|examples?\b"
)
# "警情降了多少？" asks by how much something changed: a clause saying it changed answers ("同比下降23.7%").
CHANGE_ASKED = re.compile(
    r"(?:少|多|降|涨|升|增|减|短|长|快)了(?:多少|几)|(?:减少|下降|降低|缩短|增加|增长|提高|提升|上升)(?:了)?(?:多少|几)"
    r"|by how much|how much\b.*\b(?:drop|fall|fell|rise|rose|increase|decrease|reduce|cut)"
)
# "效果如何？" asks what a practice achieved: the words name the kind of answer (a result, often a
# change), not a detail the text must hold (it says 减少66.7%, 满意度持续提升, never 效果).
# Not 作用: "有什么作用" asks what a thing is for, "副作用" are side effects (two CMRC dev questions).
EFFECT = re.compile(r"效果|成效|好处|(?<!side )\beffect(?:s|ive)?\b|\bimpacts?\b")
CHANGE_SAID = re.compile(r"同比|环比|下降|减少|降低|缩短|增加|增长|提高|提升|上升|降至|升至|increase|decrease")
HIGHER = re.compile(r"更高|更多|更大|谁.*高|谁.*多|哪个.*多|哪个.*高|higher|more")
LOWER = re.compile(r"更低|更少|更小|谁.*低|谁.*少|lower|fewer|less")
# "哪个区县的调解成功率最高？" ranks the practices: the best-retrieved one's front matter is no answer.
SUPERLATIVE = re.compile(r"最(?:高|多|大|低|少|小|好|快)|\b(?:highest|most|lowest|least|fewest|best|largest)\b")
ANAPHORA = re.compile(r"它|其|该|他们|她们|这个|那个|这项|那项|此|呢|还有|\bit\b|\bits\b|\bthey\b")
# Words that point back at something named before; "呢"/"还有" only mark ellipsis.
# What 这 and 那 point with (这个, 那项, 这件, 那里, 这儿, 那边); FollowUps._rewrite keeps such a 那.
POINTED = "个项件里儿边"
ANAPHORA_STRONG = re.compile(rf"它|其|该|他们|她们|[这那][{POINTED}]|此|\bit\b|\bits\b|\bthey\b|\bthis\b")
# What may stand beside a case name in a "那X呢？" question.
ELLIPSIS = frozenset("那 那么 呢 还有 的 又 呀 啊 吧 和 与 再 what about and how then so the".split())
ORDINAL = re.compile(r"第\s*([一二三四五六七八九十]+|\d+)\s*[个项条名]")
CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
TOPIC_LEXICAL_CAP = 15.0  # BM25 scores above this say nothing more about being on-topic
GENERIC_IDF = math.log(2)  # a word in more than about half of the cases is not a topic


def asks_amount(word: str) -> bool:
    """A word that asks for an amount, a sum or a time ("多少钱", "几次", "几点"): the type of answer, no topic."""
    return bool(QUANTITY.search(word) or MONEY.search(word) or WHEN.search(word))


def wants_figure(query: str) -> bool:
    lowered = query.lower()
    return not WHEN.search(lowered) and bool(QUANTITY.search(lowered) or MONEY.search(lowered))


def asks_measure(query: str) -> bool:
    """The question names the kind of figure it wants: a measure word (多少件), money, a share or a time span."""
    lowered = query.lower()
    return bool(MEASURE.search(query) or MONEY.search(lowered) or PERCENT.search(lowered) or DURATION.search(lowered))


def asked_field(query: str) -> str | None:
    """Which front-matter field a question asks for, if any: the nominating unit, the district, the level
    or the report's source."""
    lowered = query.lower()
    if UNIT.search(lowered):
        return "unit"
    if REGION.search(lowered):
        return "region"
    if LEVEL.search(lowered):
        return "level"
    if SOURCE.search(lowered):
        return "source"
    return None


def ranks_cases(query: str) -> bool:
    """The question asks which case is higher, lower, or the most of something."""
    lowered = query.lower()
    return bool(HIGHER.search(lowered) or LOWER.search(lowered) or SUPERLATIVE.search(lowered))


def visible_query(query: str) -> str:
    return query.rstrip("?？。 ")


def asked_levels(query: str) -> set[str]:
    levels: set[str] = set()
    if re.search(r"市级|市一级|市直|市属|市级部门|city", query.lower()):
        levels.add("市级")
    if "区县" in query or re.search(r"区级|区一级|区里|各区|哪些区|区委|district", query.lower()):
        levels.add("区")
    if "区县" in query or re.search(r"县级|县一级|哪些县|县委|县里|county", query.lower()):
        levels.add("县")
    if "区县" in query and re.search(r"而不是区县|不是区县|非区县", query):
        levels -= {"区", "县"}
    return levels


def ordinal_value(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    if raw.startswith("十"):
        return 10 + CN_DIGITS.get(raw[1:], 0)
    return CN_DIGITS.get(raw, 0)


def asked_date(query: str) -> re.Pattern[str] | None:
    """A date of the unit the question asks for (a day, a month, a year), or None where it names none."""
    lowered = query.lower()
    return next((date for asked, date in DATE_UNITS if asked.search(lowered)), None)

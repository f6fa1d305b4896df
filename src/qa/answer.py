"""Composing an answer from retrieved passages: pick clauses, cite them, or refuse.

No text is generated. Every statement in an answer is a clause copied from a
cited passage; only short connectors (case names, "；", "更高") are added. The
question's *shape* (a figure, a list, a comparison, a follow-up) decides how
clauses are chosen; its *content* only ever reaches the knowledge base through
retrieval and the case metadata, never through rules about particular cases.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import jieba
import jieba.posseg as pseg
import numpy as np

from .models import Chunk, Citation, Figure, Hit, Reply
from .relevance import Evidence, RelevanceModel, load_model
from .retrieval import CaseInfo, Retriever
from .substrings import SubstringIndex
from .text import CJK, FUNCTION_WORDS, content_words, normalise

MAX_CHARS = 150
NAME_CHARS = 8  # longer "names" are titles, whose words describe rather than name
SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![”’」』])|(?<=[。！？!?][”’」』])")
CLAUSE_END = re.compile(r"(?<=[,，;；。！？!?])|(?<=……)")
# What kind of answer the question wants decides which spans may answer it at all.
QUANTITY = re.compile(
    r"多少|(?<!哪)几(?!乎)|多大|多高|多长|多久|比例|百分|率|how many|how much|number of|percent|\brates?\b"
)
WHEN = re.compile(r"什么时候|何时|哪天|哪一天|哪年|哪一年|几月|几号|日期|\bwhen\b|what year")
DESCRIBE = re.compile(r"是什么|干什么|做什么|什么意思|含义|介绍|怎么样|如何|what is|what does|what are")
CONTACT = re.compile(r"电话|热线|网址|网站|邮箱|地址|联系方式|微信|公众号|官网|下载|phone|address|website|email")
WHO = re.compile(r"谁|哪家|哪个部门|哪个单位|哪位|\bwho\b")
DURATION = re.compile(r"多长时间|多久|多少时间|多少天|几天|how long")
TIME_SPAN = re.compile(r"\d+\s*(?:分钟|小时|天|周|个月|年|日)")
PERCENT = re.compile(r"百分|率|percent|\brates?\b")
MONEY = re.compile(r"钱|花了|花费|费用|成本|资金|投入|投资|经费|money|cost|invest")
SPENDING = re.compile(r"投资|资金|经费|费用|成本|花费|投入")
SPENDING_Q = re.compile(r"花|投资|投入|费用|成本|经费|造价|cost|invest|spend")
# "Which unit nominated it?" is answered from the case metadata's unit, not from the text.
UNIT = re.compile(
    r"报送|推荐|申报|选送|(?:哪个|哪家|什么|哪一个)(?:单位|部门|机构|机关)|谁(?:搞|做|办|推出|牵头|负责|主导|建)"
    r"|which (?:unit|department|agency|organi[sz]ation|body)|who (?:runs|submitted|nominated|launched|is behind)"
)
# "Which district is it in?": the case's region, from the front matter.
REGION = re.compile(r"(?:哪个|哪一个|哪)(?:区县|区|县)(?![委域])|哪里的(?:做法|案例|实践)|which (?:district|county)")
FIELD_NAMES = {"unit": "报送单位", "region": "所在区县"}
ALL_OF = re.compile(r"(?:所有|全部)(\w{2})")
MEASURE = re.compile(r"(?:多少|几)(公里|千米|平方米|米|亩|吨|[名件项份张次间所辆人岁元])")
# A measure word in the question and the ones that answer it (多少人 → 1678名).
MEASURE_ANSWERS = {"人": "人|名|位", "元": "元"}
FIGURE_IN = re.compile(r"\d[\d.]*[余多]?[万亿]?[余多]?(?:%|[个名件项份张次间所辆人元倍版大]|人次|分钟|小时|天)")
DATE_IN = re.compile(r"\d+\s*(?:年|月|日)")
HEADING = re.compile(r"^\d+\.\s*\S{0,12}$")
# A catalogue question asks for the members of the collection itself: "有哪些？", "哪些是县一级的？".
LISTING = re.compile(
    r"(?:哪些|哪几个?|哪几项|有什么|分别是什么|都是什么)(?=$|[？?。!！,，\s]|是|个|项|家|案例|实践|范例|单位|部门|区县|县|区|做法|项目)"
    r"|\blist\b|\bwhich\b|what are"
)
COLLECTION = re.compile(
    r"实践|案例|范例|单位|部门|做法|项目|名单|入选|区县|县级|县一级|县里|区级|区一级|区里|市级|practices?\b|cases?\b|examples?\b"
)
HIGHER = re.compile(r"更高|更多|更大|谁.*高|谁.*多|哪个.*多|哪个.*高|higher|more")
LOWER = re.compile(r"更低|更少|更小|谁.*低|谁.*少|lower|fewer|less")
ANAPHORA = re.compile(r"它|其|该|这个|那个|这项|那项|此|呢|还有|\bit\b|\bits\b|\bthey\b")
# Words that point back at something named before; "呢"/"还有" only mark ellipsis.
ANAPHORA_STRONG = re.compile(r"它|其|该|这个|那个|这项|那项|此|\bit\b|\bits\b|\bthey\b|\bthis\b")
# What may stand beside a case name in a "那X呢？" question.
ELLIPSIS = frozenset("那 那么 呢 还有 的 又 呀 啊 吧 和 与 再 what about and how then so the".split())
ORDINAL = re.compile(r"第\s*([一二三四五六七八九十]+|\d+)\s*[个项条名]")
CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
TOPIC_LEXICAL_CAP = 15.0  # BM25 scores above this say nothing more about being on-topic
GENERIC_IDF = math.log(2)  # a word in more than about half of the cases is not a topic


@dataclass
class Draft:
    """An answer under construction: text parts and the passages they quote."""

    parts: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)

    def cite(self, chunk: Chunk, quote: str, score: float) -> str:
        for citation in self.citations:
            if citation.chunk_id == chunk.chunk_id:
                return f"[{citation.n}]"
        n = len(self.citations) + 1
        self.citations.append(
            Citation(
                n,
                chunk.case_id,
                chunk.title,
                chunk.unit,
                chunk.text,
                round(score, 4),
                chunk.chunk_id,
                chunk.paragraph,
                chunk.start,
                chunk.end,
                quote,
            )
        )
        return f"[{n}]"


@dataclass(frozen=True)
class Question:
    """A question after normalisation and follow-up resolution."""

    text: str
    query: str
    named: list[str]
    terms: tuple[str, ...] = ()  # corpus words translating an English question's words
    # Read in the light of the conversation ("那石柱呢？", "它有多少人？"): its topic words must be
    # the case's own, since a reading the user did not write must not stretch to a loose match.
    carried: bool = False


class Answerer:
    """Turns a question (plus history) into a grounded, cited reply."""

    def __init__(self, retriever: Retriever, relevance: RelevanceModel | None = None) -> None:
        self.retriever = retriever
        self.relevance = relevance or load_model()
        self.cases: dict[str, CaseInfo] = retriever.cases
        self.batches = {str(m["id"]): str(m.get("batch") or "") for m in retriever.data.cases}  # case → selection
        self.chunks_by_case: dict[str, list[Chunk]] = {}
        for chunk in retriever.data.chunks:
            self.chunks_by_case.setdefault(chunk.case_id, []).append(chunk)
        self.figures_by_case: dict[str, list[Figure]] = {}
        for figure in retriever.data.figures:
            self.figures_by_case.setdefault(figure.case_id, []).append(figure)
        self.case_text = {cid: normalise("".join(c.text for c in cs)) for cid, cs in self.chunks_by_case.items()}
        self.word_case_freq: dict[str, int] = {}
        # Keyed look-ups built once per index version: no question walks every chunk or case.
        self.case_texts = SubstringIndex(list(self.case_text.values()))
        self.chunk_texts = SubstringIndex([c.text for c in retriever.data.chunks])
        self.chunks_by_id: dict[str, Chunk] = {}
        for chunk in retriever.data.chunks:
            self.chunks_by_id.setdefault(chunk.chunk_id, chunk)
        self.unit_chunks: dict[str, Chunk | None] = {}

    # ---- entry point ---------------------------------------------------------

    def answer(self, question: str, history: Sequence[dict[str, str]] = ()) -> Reply:
        q = self.resolve(question, history)
        reply = self._answer(q)
        if q.query == q.text:
            return reply
        # A rewritten question is shown as it was understood: no reading the user cannot see.
        return replace(reply, answer=f"（按“{_visible(q.query)}”理解）{reply.answer}")

    def _answer(self, q: Question) -> Reply:
        if self.is_catalogue(q):
            return self.catalogue(q)
        practices = [cid for cid in q.named if self.cases[cid].rank is not None]
        field = asked_field(q.query)
        if practices and field:
            return self.attribute(q, practices, field)
        if len(practices) >= 2:
            return self.compare(q, practices)
        return self.fact(q)

    # ---- understanding the question -----------------------------------------

    def resolve(self, question: str, history: Sequence[dict[str, str]]) -> Question:
        """Normalise, repair typos, and resolve an elliptical follow-up against the history.

        Only an elliptical question is read in the light of the conversation: "那X呢？"
        (nothing but a case name and particles) re-asks the previous question about X;
        a pronoun, an ordinal or a bare predicate ("累计访问量呢？") continues the last
        case. A question that names a case or asks something complete stands alone.
        """
        text = self.retriever.prepare(question)
        named = self.retriever.names.find(text)
        terms = tuple(self.retriever.translate(text))
        if not history:
            return Question(text, text, named, terms)
        if named:
            carried = self._carry_over(text, named[0], history) if self._only_names(text, named) else None
            return Question(text, carried or text, named, terms, carried=bool(carried))
        previous = self._case_from_history(text, history)
        if previous is None or not self._continues(text, terms, previous):
            return Question(text, text, named, terms)
        return Question(text, self._rewrite(text, previous), [previous], terms, carried=True)

    def _continues(self, text: str, terms: tuple[str, ...], case_id: str) -> bool:
        """Does a question that names no case continue the conversation's last case?

        Elliptical questions (a pronoun, an ordinal, a bare predicate) do when the
        case speaks of what they ask, or when they would not be on-topic alone
        ("花了多少钱？"). A complete question continues the case only when, asked
        alone, it would be off-topic while the case's own text speaks of it
        ("上过几次焦点访谈？" after a question about 莎姐).
        """
        if self.is_catalogue(Question(text, text, [], terms)):  # "十大范例一共有哪些？" is never about one case
            return False
        words = self._topic_words(text, terms)
        case_text = self.case_text.get(case_id, "")
        mentioned = not words or any(_mentioned(w, case_text) for w in words)
        if ANAPHORA_STRONG.search(text.lower()) or ORDINAL.search(text):
            return True
        if self._is_follow_up(text):
            return mentioned or self._on_topic_alone(text, terms)
        # A complete question: every topic word in the case's text, and one of them particular to few cases.
        every = bool(words) and all(_mentioned(w, case_text) for w in words)
        particular = any(self._idf(w) > GENERIC_IDF for w in words)
        return every and particular and not self._on_topic_alone(text, terms)

    def _topic_words(self, text: str, terms: tuple[str, ...]) -> list[str]:
        """Chinese content words that name a topic, not the type of answer ("多少钱", "几次")."""
        words = [w for w in content_words(text) if (CJK.search(w) and len(w) >= 2) or w in terms]
        return [w for w in words if not (QUANTITY.search(w) or MONEY.search(w) or WHEN.search(w))]

    def _on_topic_alone(self, text: str, terms: tuple[str, ...]) -> bool:
        hits = self.retriever.search(text, k=1, expand=terms)
        return bool(hits) and self.on_topic(Question(text, text, [], terms), hits[0].chunk.case_id)

    def _only_names(self, text: str, named: list[str]) -> bool:
        """ "那石柱呢？", "What about Sha Jie?": nothing but case names and particles."""
        names = [n for n, cid in self.retriever.names.by_name.items() if cid in named]
        sounds = [p for p, cid in self.retriever.names.by_pinyin.items() if cid in named]
        for word in jieba.lcut(text.lower()):
            word = word.strip()
            if not word or not (CJK.search(word) or word.isalnum()) or word in ELLIPSIS:
                continue
            if not any(word in n for n in names) and not (word.isascii() and any(word in p for p in sounds)):
                return False
        return True

    def _carry_over(self, text: str, case_id: str, history: Sequence[dict[str, str]]) -> str | None:
        """The previous question (as it was resolved), asked again about the newly named case."""
        users = [i for i, m in enumerate(history) if m.get("role") == "user"]
        if not users:
            return None
        last = users[-1]
        previous = self.resolve(history[last]["content"], history[:last]).query
        old = self.retriever.names.find(previous)
        if not old or old[0] == case_id:
            return None
        surface = [n for n, cid in self.retriever.names.by_name.items() if cid == old[0] and n in previous]
        new_name = self.cases[case_id].short_name
        for name in sorted(surface, key=lambda n: (-len(n), n)):
            previous = previous.replace(name, new_name)
        return previous

    def _is_follow_up(self, text: str) -> bool:
        return bool(ANAPHORA.search(text)) or len(content_words(text)) <= 2 or bool(ORDINAL.search(text))

    def _case_from_history(self, text: str, history: Sequence[dict[str, str]]) -> str | None:
        ordinal = ORDINAL.search(text)
        for message in reversed(history):
            named = self.retriever.names.find(normalise(str(message.get("content", ""))))
            named = [cid for cid in named if self.cases[cid].rank is not None] or named
            if ordinal and len(named) >= 2 and message.get("role") == "assistant":  # a list answer
                position = _ordinal(ordinal.group(1))
                return named[position - 1] if 0 < position <= len(named) else None
            if len(named) == 1 or (named and message.get("role") == "user"):
                return named[0]
        return None

    def _rewrite(self, text: str, case_id: str) -> str:
        name = self.cases[case_id].short_name
        text = re.sub(r"^(那么|那|还有|另外)", "", text)
        text = ORDINAL.sub(name, text, count=1) if ORDINAL.search(text) else text
        demonstrative = re.search(r"它们|它|其|该|这个|那个|这项|那项|\bthis\b|\bit\b", text)
        if demonstrative is None:
            return f"{name}{text}"
        # "这个中心" → the name, not "名字中心": a noun after the demonstrative that the name ends with goes too.
        end = demonstrative.end()
        following = next((k for k in range(4, 0, -1) if name.endswith(text[end : end + k])), 0)
        return text[: demonstrative.start()] + name + text[end + following :]

    def is_catalogue(self, q: Question) -> bool:
        named = [cid for cid in q.named if self.cases[cid].rank is not None]
        lowered = q.query.lower()
        return not named and bool(LISTING.search(lowered)) and bool(COLLECTION.search(lowered))

    # ---- lists ---------------------------------------------------------------

    def catalogue(self, q: Question) -> Reply:
        levels = _levels(q.query)
        batch, batches = self._asked_batch(q.query)
        cases = [
            c
            for c in self.cases.values()
            if c.rank is not None and (not levels or c.level in levels) and self.batches.get(c.id, "") == batch
        ]
        cases.sort(key=lambda c: c.rank or 0)
        if not cases:
            return self.refuse(q, "知识库中没有符合条件的案例。")
        draft = Draft()
        lines = [f"{c.rank}. {c.title}（{c.unit}）{draft.cite(self._title_chunk(c), c.title, 1.0)}" for c in cases]
        scope = "、".join(sorted(levels, key="市级区县".find)) + "级" if levels else ""
        where = "知识库" if len(batches) == 1 else f"“{batch}”" if batch else "首批"
        head = (
            f"共有 {len(cases)} 个{scope}案例："
            if scope
            else f"{where}共收录 {len(cases)} 个案例：{self._cite_enumeration(draft, batch)}"
        )
        if len(batches) > 1:  # the other selections are named, so the editor's next year's ten are findable
            head = f"（另有：{'、'.join(b or '首批' for b in batches if b != batch)}）{head}"
        return Reply(head + "\n" + "\n".join(lines), draft.citations, True, q.query)

    def _asked_batch(self, query: str) -> tuple[str, list[str]]:
        """The selection a catalogue question means (its name or year, else the latest) and all of them, oldest first."""
        batches = sorted(
            {self.batches.get(c.id, "") for c in self.cases.values() if c.rank is not None},
            key=lambda b: (int(m.group()) if (m := re.search(r"(?:19|20)\d\d", b)) else 0, b),
        )
        named = [b for b in batches if b and (b in query or any(y in query for y in re.findall(r"(?:19|20)\d\d", b)))]
        return (named or batches or [""])[-1], batches

    def _cite_enumeration(self, draft: Draft, batch: str = "") -> str:
        """Cite the overview passage that lists the cases, when there is one: the list's own source."""
        ranked = [c for c in self.cases.values() if c.rank is not None and self.batches.get(c.id, "") == batch]
        best, most = None, 2
        for case in self.cases.values():
            overview = case.rank is None and self.batches.get(case.id, "") == batch
            for chunk in self.chunks_by_case.get(case.id, []) if overview else []:
                named = sum(c.unit in chunk.text for c in ranked)
                if named > most:
                    best, most = chunk, named
        return draft.cite(best, best.text, 1.0) if best else ""

    def _title_chunk(self, case: CaseInfo) -> Chunk:
        chunks = self.chunks_by_case.get(case.id, [])
        return next((c for c in chunks if case.title in c.text), chunks[0])

    def attribute(self, q: Question, case_ids: list[str], field: str) -> Reply:
        """ "哪个单位报送的？", "是哪个区的？": a front-matter field, quoted from a passage that states it."""
        draft = Draft()
        parts = []
        for case_id in case_ids:
            case = self.cases[case_id]
            value = getattr(case, field) or ""
            chunk, span = self._field_passage(case, value)
            title = draft.cite(self._title_chunk(case), case.title, 1.0)
            if not value:
                parts.append(f"{case.short_name}：资料没有写明{FIELD_NAMES[field]}{title}")
            elif chunk is None or span is None:
                parts.append(f"{case.short_name}：{value}{title}")
            else:  # the passage states the value; the case's own heading says which case it is
                item = draft.cite(chunk, span, 1.0)
                shown = span if value in span else f"{value}（{span}）"
                parts.append(f"{case.short_name}：{shown}{item}{title if chunk.case_id != case.id else ''}")
        return Reply("；".join(parts) + "。", draft.citations, True, q.query)

    def _field_passage(self, case: CaseInfo, value: str) -> tuple[Chunk | None, str | None]:
        """The case's own passage naming ``value`` (or its stem: 南岸区 → 南岸), else a list item naming its unit."""
        stem = re.sub(r"(区|县|市)$", "", value)
        for needle in dict.fromkeys(n for n in (value, stem) if len(n) >= 2):
            for chunk in self.chunks_by_case.get(case.id, []):
                span = _item_span(chunk.text, needle)
                if span:
                    return chunk, span
        listed = self._unit_chunk(case)
        return (listed, _item_span(listed.text, case.unit)) if listed and case.unit else (None, None)

    def _unit_chunk(self, case: CaseInfo) -> Chunk | None:
        """Prefer a list item "title(unit)" over a bare heading that happens to contain the unit."""
        if not case.unit:  # the schema makes unit optional; "" is in every text
            return None
        if case.unit not in self.unit_chunks:
            all_chunks = self.retriever.data.chunks
            chunks = [all_chunks[i] for i in self.chunk_texts.containing(case.unit)]
            listed = [c for c in chunks if f"({case.unit})" in c.text or f"（{case.unit}）" in c.text]
            self.unit_chunks[case.unit] = next(iter(listed or chunks), None)
        return self.unit_chunks[case.unit]

    # ---- comparisons ---------------------------------------------------------

    def compare(self, q: Question, case_ids: list[str]) -> Reply:
        draft = Draft()
        found: list[tuple[CaseInfo, Figure]] = []
        for case_id in case_ids:
            case = self.cases[case_id]
            figure = self._best_figure(case_id, self._metric(q, case_id), q.query)
            if figure is None:
                part = self._fact_part(q, case_id, draft)
                draft.parts.append(part or f"{case.short_name}：知识库中没有相关数字")
                continue
            chunk = self._chunk(figure.chunk_id)
            draft.parts.append(f"{case.short_name}：{figure.clause}{draft.cite(chunk, figure.clause, 1.0)}")
            found.append((case, figure))
        if not draft.citations:
            return self.refuse(q, "知识库中没有可供比较的相关信息。")
        answer = "；".join(draft.parts) + "。" + _verdict(q.query, found)
        return Reply(answer.strip(), draft.citations, True, q.query)

    def _metric(self, q: Question, case_id: str) -> list[str]:
        """The words that say what to count for ``case_id``: its own part of the question.

        "警快办累计办件量和荣昌中心直接收案量分别是多少" asks one measure per case; the part
        from a case's name up to the next case's name holds it. When that part has no
        words of its own ("A和B各自化解了多少纠纷"), the shared tail after the last name does.
        Case names stay in: "石柱的贵和工作室数量" names the metric with the case's own word.
        """
        starts = self.retriever.names.positions(q.query)
        cuts = sorted(p for p in starts.values() if p < len(q.query))
        begin = starts.get(case_id, len(q.query))
        end = next((p for p in cuts if p > begin), len(q.query))
        own = self._focus_words(q.query[begin:end], [case_id])
        if own:
            return content_words(q.query[begin:end]) + list(q.terms)
        tail = q.query[cuts[-1] :] if cuts else q.query
        return content_words(tail) + list(q.terms)

    def _focus_words(self, text: str, case_ids: list[str]) -> list[str]:
        names = self.retriever.names.names_of(case_ids)
        return [w for w in content_words(text) if not any(w in n for n in names)]

    def _best_figure(self, case_id: str, metric: list[str], query: str) -> Figure | None:
        """The figure whose own words best match the metric asked about; names weigh less than metric words."""
        figures = self.figures_by_case.get(case_id, [])
        measure = MEASURE.search(query)
        # The case's own names say which case, not which figure; quoted terms of the text (“贵和工作室”)
        # are names too. Long titles are left out: their words ("化解", "纠纷") are what figures measure.
        own = [n for n, cid in self.retriever.names.by_name.items() if cid == case_id and len(n) <= NAME_CHARS]
        terms = set(self.retriever.terms)
        plain = [w for w in metric if w not in terms and not any(w in n for n in own)]
        named = [w for w in metric if w not in plain]
        scored = []
        for figure in figures:
            score = _overlap(plain, figure.metric) + 0.3 * _overlap(named, figure.metric)
            if measure and measure.group(1) in figure.unit:
                score += 0.5
            if "率" in query and figure.unit == "%":
                score += 0.5
            scored.append((score, figure))
        best = max(scored, key=lambda s: s[0], default=None)
        return best[1] if best and best[0] > 0.1 else None

    # ---- single facts --------------------------------------------------------

    def fact(self, q: Question) -> Reply:
        hits = self.retriever.search(q.query, k=8, case_ids=q.named or None, expand=q.terms)
        weak = not q.named or (q.query == q.text and self.retriever.names.only_places(q.query))
        if not hits or (weak and not self.on_topic(q, hits[0].chunk.case_id)):
            return self.refuse(q, self._missing_message(q, None))
        case_id = q.named[0] if q.named else hits[0].chunk.case_id
        draft = Draft()
        part = self._fact_part(q, case_id, draft)
        if part is None:
            return self.refuse(q, self._missing_message(q, case_id), case_id)
        return Reply(part, draft.citations, True, q.query)

    def _fact_part(self, q: Question, case_id: str, draft: Draft) -> str | None:
        """The best span about ``case_id`` for this question, cited; None when no span can answer it."""
        hits = self.retriever.search(q.query, k=6, case_ids=[case_id], expand=q.terms)
        focus = self._focus(q, [case_id])
        if self._asks_unknown_detail(q.query, focus, case_id, strict=q.carried):
            return None
        # A figure is one clause; "how", "what", "when" read better as a whole sentence.
        sentences = not _wants_figure(q.query)
        title = _plain(self.cases[case_id].title)
        candidates = [
            (h, rank, span)
            for rank, h in enumerate(hits)
            for span in _spans(h.chunk.text, sentences)
            if not sentences or _plain(span) != title  # as a description, the heading only repeats the name
        ]
        # Names included ("多少个复议窗口" counts 复议); words most cases share (重庆) say nothing.
        topic = [w for w in content_words(q.query) + list(q.terms) if self._idf(w) > GENERIC_IDF]
        candidates = [c for c in candidates if _fits_type(q.query, c[2], topic)]
        if not candidates:
            return None
        scores = self._score_spans(q.query, focus, candidates)
        best = int(np.argmax(scores))
        hit, _, span = candidates[best]
        span = _trim(span)
        name = self.cases[case_id].short_name
        prefix = "" if name in span else f"{name}："
        return f"{prefix}{span}{draft.cite(hit.chunk, span, hit.score)}"

    def _score_spans(self, query: str, focus: list[str], candidates: list[tuple[Hit, int, str]]) -> np.ndarray:
        """Lexical fit to the topic words; for questions without Chinese topic words (English), meaning."""
        lexical = np.array([_span_score(span, focus, query) + 0.3 / (1 + rank) for _, rank, span in candidates])
        if any(CJK.search(w) for w in focus):
            return lexical
        vectors = self.retriever.embedder.embed_passages([span for _, _, span in candidates])
        return lexical + 4.0 * (vectors @ self.retriever.query_vector(query))

    def _asks_unknown_detail(self, query: str, focus: list[str], case_id: str, strict: bool = False) -> bool:
        """A contact detail (电话, 地址…), or a "who" (or carried-over) topic the case never mentions, cannot be answered.

        Other questions are not refused for unfamiliar words: a paraphrase
        ("打官司有没有更方便的办法") shares no words with its answer by design.
        """
        cjk_focus = [w for w in focus if CJK.search(w)]
        if not cjk_focus:
            return False
        text = self.case_text.get(case_id, "")
        mentioned = [w for w in cjk_focus if _mentioned(w, text)]
        if CONTACT.search(query.lower()) and not any(CONTACT.search(w) for w in mentioned):
            return True
        # A question carried over from another case names its topic exactly ("功能区"): absent means absent.
        if (strict or bool(WHO.search(query.lower()))) and not mentioned:
            return True
        # A question whose every topic word no passage of the whole knowledge base speaks of
        # ("怎么预约？", "周末上班吗？") asks a detail the knowledge base lacks.
        # A "what is it" question is answered by a description, whatever its words (含义, 意思).
        topic = [w for w in cjk_focus if not (QUANTITY.search(w) or MONEY.search(w) or WHEN.search(w))]
        if not topic or DESCRIBE.search(query.lower()):
            return False
        return not any(self._mentioned_anywhere(w) for w in topic)

    def _focus(self, q: Question, case_ids: list[str]) -> list[str]:
        """Topic words of the question that are not just the name of a case it is about."""
        names = self.retriever.names.names_of(case_ids)
        return [w for w in content_words(q.query) + list(q.terms) if not any(w in n for n in names)]

    def on_topic(self, q: Question, top_case: str) -> bool:
        """Is a question that names no case (or only a place) about the knowledge base at all?

        Decided by a logistic model fitted on labelled questions (see :mod:`qa.relevance`),
        not by a hand-set cut-off: e5 puts most Chinese sentences near 0.8 of each
        other, so the evidence is relative (the best passage against the best of a
        set of everyday passages and questions, data/background.txt) plus lexical
        overlap and whether a place the knowledge base never mentions is named.
        """
        return self.relevance.on_topic(self.evidence(q, top_case))

    def evidence(self, q: Question, top_case: str, hide_background: np.ndarray | None = None) -> Evidence:
        """What retrieval says about ``q``; ``hide_background`` masks background rows (leave-one-out fitting)."""
        vector = self.retriever.query_vector(q.query)
        background = self.retriever.data.background
        scores = background @ vector if len(background) else np.zeros(1)
        if hide_background is not None and len(background):
            scores = np.where(hide_background, -1.0, scores)
        focus = [w for w in content_words(q.query) + list(q.terms) if CJK.search(w)]
        lexical = min(float(self.retriever.lexical_scores(q.query, q.terms).max(initial=0.0)), TOPIC_LEXICAL_CAP)
        return Evidence(
            kb_best=round(float(self.retriever.dense_scores(q.query).max(initial=0.0)), 6),
            background_best=round(float(scores.max()), 6),
            lexical=lexical / TOPIC_LEXICAL_CAP,
            coverage=self._coverage(focus, top_case) if focus else 0.0,
            unknown_place=self._unknown_place(q.query),
            english=not CJK.search(q.query),
        )

    def _unknown_place(self, query: str) -> bool:
        places = [w for w, flag in pseg.lcut(query) if flag == "ns" and len(w) >= 2]
        return any(not self.case_texts.containing(p) for p in places)

    def _coverage(self, focus: list[str], case_id: str) -> float:
        """IDF-weighted share of the topic words that the case's own text contains."""
        text = self.case_text.get(case_id, "")
        total = covered = 0.0
        for word in focus:
            weight = self._idf(word)
            total += weight
            if word in text or (len(word) >= 3 and _bigram_share(word, text) >= 0.5):
                covered += weight
        return covered / total if total else 1.0

    def _mentioned_anywhere(self, word: str) -> bool:
        """Some case's text speaks of ``word`` (or a two-character-plus part of it): ``_mentioned`` on every case."""
        return self.case_texts.anywhere(word) or any(self.case_texts.anywhere(p) for p in _parts(word))

    def _idf(self, word: str) -> float:
        if word not in self.word_case_freq:
            self.word_case_freq[word] = self.case_texts.count(word)
        n = len(self.case_text)
        return math.log((n + 1) / (self.word_case_freq[word] + 0.5))

    # ---- refusing ------------------------------------------------------------

    def refuse(self, q: Question, message: str, near_case: str | None = None) -> Reply:
        draft = Draft()
        if near_case and near_case in self.cases:
            case = self.cases[near_case]
            message += (
                f"相关案例：《{case.title}》（{case.unit}）{draft.cite(self._title_chunk(case), case.title, 0.0)}"
            )
        return Reply(message, draft.citations, False, q.query)

    def _missing_message(self, q: Question, case_id: str | None) -> str:
        if case_id is None:
            return (
                "抱歉，知识库中没有与这个问题相关的内容。本助手只回答重庆市政法领域十大改革最佳实践的相关问题，"
                f"例如：{self._examples()}"
            )
        return f"知识库中关于“{self.cases[case_id].short_name}”的资料没有提到这一点。"

    def _examples(self) -> str:
        """Three questions the knowledge base answers, made from its own case names (the first ranked cases)."""
        ranked = sorted((c for c in self.cases.values() if c.rank is not None), key=lambda c: (c.rank or 0, c.id))
        asks = [f"“{c.short_name}是什么？”" for c in ranked[:2]]
        if ranked and ranked[0].unit:
            asks.append(f"“{ranked[-1].short_name}是哪个单位报送的？”")
        return "".join(asks) or "“都有哪些案例？”"

    def _chunk(self, chunk_id: str) -> Chunk:
        return self.chunks_by_id[chunk_id]


# ---- small pure helpers ---------------------------------------------------------


def _mentioned(word: str, text: str) -> bool:
    """The word, or a two-character-plus part of it (主办单位 → 主办), occurs in the text."""
    if word in text:
        return True
    return any(p in text for p in _parts(word))


def _parts(word: str) -> list[str]:
    """The two-character-plus parts of ``word`` that are not question-shape words (主办单位 → 主办, 单位)."""
    return [p for p in jieba.lcut_for_search(word) if len(p) >= 2 and p != word and p not in FUNCTION_WORDS]


def _wants_figure(query: str) -> bool:
    lowered = query.lower()
    return not WHEN.search(lowered) and bool(QUANTITY.search(lowered) or MONEY.search(lowered))


def _plain(text: str) -> str:
    return re.sub(r"[\s“”\"'‘’]", "", text)


def _spans(text: str, sentences: bool = False) -> list[str]:
    """Candidate answers in a passage: clauses and adjacent pairs, or whole sentences.

    A sentence too long to quote whole is offered as runs of clauses that fit.
    """
    spans: list[str] = []
    for sentence in (x for x in SENTENCE_END.split(text) if x.strip()):
        parts = [p for p in CLAUSE_END.split(sentence) if p.strip()]
        if sentences:
            spans += [sentence.strip()] if len(sentence) <= MAX_CHARS else _runs(parts)
        else:
            spans += [p.strip() for p in parts]
            spans += ["".join(parts[i : i + 2]).strip() for i in range(len(parts) - 1)]
    spans = [s.lstrip("”’」』") for s in spans]
    return [s for s in dict.fromkeys(spans) if len(s) >= 4 and not HEADING.match(s)]


def _runs(parts: list[str]) -> list[str]:
    """Every maximal run of consecutive clauses that fits in an answer."""
    runs = []
    for start in range(len(parts)):
        run = ""
        for part in parts[start:]:
            if len(run) + len(part) > MAX_CHARS - 20:
                break
            run += part
        if run:
            runs.append(run.strip())
    return runs


def _fits_type(query: str, span: str, focus: list[str]) -> bool:
    """Only a span with a date answers "when", only a span with a matching figure answers "how many"."""
    lowered = query.lower()
    if WHEN.search(lowered):
        return bool(DATE_IN.search(span))
    money = bool(MONEY.search(lowered))
    if not (QUANTITY.search(lowered) or money):
        return True
    if money and "元" not in span:
        return False
    spending = bool(SPENDING_Q.search(lowered))
    if spending and not SPENDING.search(span):  # 涉案标的14.3亿元 is not what anything cost
        return False
    if PERCENT.search(lowered) and "%" not in span:
        return False
    if DURATION.search(lowered) and not TIME_SPAN.search(span):
        return False
    measure = MEASURE.search(query)
    if measure:
        unit = MEASURE_ANSWERS.get(measure.group(1), measure.group(1))
        if not re.search(rf"\d[\d.]*[余多]?[万亿]?[余多]?(?:{unit})", span):
            return False
    cjk_focus = [w for w in focus if CJK.search(w) and len(w) >= 2 and not MONEY.search(w)]
    counted = bool(FIGURE_IN.search(span)) or _all_of(span, query)
    return counted and (spending or not cjk_focus or _overlap(cjk_focus, span) > 0)


def _all_of(span: str, query: str) -> bool:
    """ "所有区县" answers "多少区县": an "all of X" counts when X is what the question counts."""
    return any(m.group(1) in query for m in ALL_OF.finditer(span))


def _span_score(span: str, focus: list[str], query: str) -> float:
    score = _overlap(focus, span) * 2.0 + _bigram_share(query, span) * 0.5
    return score - 0.002 * len(span)  # of two equally good spans, the shorter reads better


def _item_span(text: str, value: str) -> str | None:
    """The list item or clause that names ``value``: "“警快办”——不见面就能办(市公安局)"."""
    for item in re.split(r"[;；。,，\n]", text):
        if value in item:
            return re.sub(r"^\d+\.\s*", "", item.strip().split(":")[-1].strip()) or None
    return None


def asked_field(query: str) -> str | None:
    """Which front-matter field a question asks for, if any: the nominating unit or the district."""
    lowered = query.lower()
    if UNIT.search(lowered):
        return "unit"
    if REGION.search(lowered):
        return "region"
    return None


def _visible(query: str) -> str:
    return query.rstrip("?？。 ")


def _trim(span: str) -> str:
    span = span.strip().rstrip(",，;；、")
    if len(span) <= MAX_CHARS:
        return span
    clauses = CLAUSE_END.split(span)
    out = ""
    for clause in clauses:
        if len(out) + len(clause) > MAX_CHARS:
            break
        out += clause
    return (out or span[:MAX_CHARS]).rstrip(",，;；、")


def _overlap(words: list[str], text: str) -> float:
    """Share of ``words`` (weighted by length) found in ``text``; bigrams rescue near-misses."""
    if not words:
        return 0.0
    total = sum(len(w) for w in words)
    found = sum(len(w) * (1.0 if w in text else _part_share(w, text) * 0.8) for w in words)
    return found / total


def _part_share(word: str, text: str) -> float:
    """Share of a word's meaningful parts (主办单位 → 主办, 单位) found in the text; bigrams for the rest."""
    parts = [p for p in jieba.lcut_for_search(word) if len(p) >= 2 and p != word]
    if not parts:
        return _bigram_share(word, text)
    return sum(p in text for p in parts) / len(parts)


def _bigram_share(word: str, text: str) -> float:
    grams = {word[i : i + 2] for i in range(len(word) - 1) if CJK.fullmatch(word[i : i + 2])}
    if not grams:
        return 0.0
    return sum(g in text for g in grams) / len(grams)


def _levels(query: str) -> set[str]:
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


def _ordinal(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    if raw.startswith("十"):
        return 10 + CN_DIGITS.get(raw[1:], 0)
    return CN_DIGITS.get(raw, 0)


def _verdict(query: str, found: list[tuple[CaseInfo, Figure]]) -> str:
    """ "X更高" only when two figures share a unit: never compare 件 with %."""
    if len(found) < 2 or len({f.unit.lstrip("万亿") for _, f in found}) != 1:  # values are already scaled
        return ""
    if HIGHER.search(query.lower()):
        case, _ = max(found, key=lambda cf: cf[1].value)
        return f"{case.short_name}更高。" if found[0][1].unit == "%" else f"{case.short_name}更多。"
    if LOWER.search(query.lower()):
        case, _ = min(found, key=lambda cf: cf[1].value)
        return f"{case.short_name}更低。" if found[0][1].unit == "%" else f"{case.short_name}更少。"
    return ""

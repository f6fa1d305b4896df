"""The indexed name matcher and typo repair give what trying every name gives, on many generated strings.

``reference_fix_typos`` and ``reference_matches`` are the implementations that
scanned every name (before issue 17), kept here verbatim as the specification.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import write_case

from qa.answer.knowledge import Knowledge
from qa.answer.question import Draft
from qa.answer.spans import is_mentioned
from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder
from qa.models import Chunk
from qa.retrieval import CaseNames, Retriever
from qa.text import CJK, TypoIndex, _near_window, normalise, pinyin_key

CONTEXTS = ("{}", "{}请了多少个律师", "社区{}", "在{}办事方便吗", "我们{}区里", "市民对{}满意吗", "{}和{}哪个多")
# Characters that sound like corpus characters (办/半, 汐/夕, 莎/沙, 二/而) or are common in names.
SWAPS = "半办夕汐沙莎而二平评区县市局院所法警快车道社工作室调解中心"


def reference_fix_typos(text: str, lexicon: Iterable[str], in_corpus: Callable[[str], bool] | None = None) -> str:
    names = sorted(set(lexicon), key=lambda n: (-len(n), n))
    known = set(names)
    kept = [False] * len(text)
    for name in names:
        if len(name) < 2 or not CJK.fullmatch(name):
            continue
        for match in re.finditer(re.escape(name), text):
            kept[match.start() : match.end()] = [True] * len(name)
        start = _near_window(text, name, known, kept, in_corpus)
        if start is not None:
            text = text[:start] + name + text[start + len(name) :]
            kept[start : start + len(name)] = [True] * len(name)
    return text


def reference_matches(names: CaseNames, text: str) -> list[tuple[str, int]]:
    matches = []
    taken = [False] * len(text)
    for name in names.longest_first:
        for match in re.finditer(re.escape(name), text):
            if any(taken[match.start() : match.end()]):
                continue
            taken[match.start() : match.end()] = [True] * len(name)
            matches.append((name, match.start()))
    return matches


def variants(name: str, rng: random.Random) -> list[str]:
    """``name`` itself, with each character changed, with a character inserted, and with a same-sound swap."""
    out = [name]
    for i in range(len(name)):
        out.append(name[:i] + rng.choice(SWAPS) + name[i + 1 :])
        out.append(name[:i] + rng.choice(SWAPS) + name[i:])
    return out


def phrases(lexicon: list[str], seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    out = []
    for name in sorted(lexicon):
        for variant in variants(name, rng):
            other = rng.choice(lexicon)
            for context in rng.sample(CONTEXTS, 3):
                out.append(normalise(context.format(variant, other)))
    # Glued runs of several names and near-misses: overlaps between names and repairs.
    for _ in range(300):
        parts = [rng.choice(variants(rng.choice(lexicon), rng)) for _ in range(rng.randint(2, 4))]
        out.append(normalise(rng.choice(["", "的", "和"]).join(parts)))
    return out


@pytest.fixture
def retriever(bot: Assistant) -> Retriever:
    return bot._state.retriever


def test_typo_repair_through_the_index_equals_trying_every_name(retriever: Retriever) -> None:
    lexicon = retriever.lexicon
    texts = phrases(lexicon)
    assert len(texts) > 1000
    differ = [(t, reference_fix_typos(t, lexicon, retriever.in_corpus), retriever.typos.fix(t)) for t in texts]
    differ = [d for d in differ if d[1] != d[2]]
    assert differ == []
    repaired = sum(reference_fix_typos(t, lexicon, retriever.in_corpus) != t for t in texts)
    assert repaired > 50  # the strings exercise repairs, not only the untouched path


def test_name_matching_in_one_pass_equals_trying_every_name(retriever: Retriever) -> None:
    names = retriever.names
    texts = phrases(list(names.by_name)) + [retriever.typos.fix(t) for t in phrases(retriever.lexicon, seed=3)]
    for text in texts:
        assert names._matches(text) == reference_matches(names, text), text
        found: dict[str, int] = {}
        for name, start in reference_matches(names, text):
            found[names.by_name[name]] = min(found.get(names.by_name[name], start), start)
        assert list(names._find_chinese(text).items()) == list(found.items())


def test_a_small_lexicon_with_overlapping_names() -> None:
    lexicon = ["警快办", "快办", "潮汐车道", "汐车", "大众点评", "莎姐", "沙坪坝区", "沙坪坝", "aa", "x"]
    index = TypoIndex(lexicon)
    for text in ["警快半和快办", "潮夕车道", "大众点平", "沙姐是谁", "沙坪坝请了", "警快半警快半", "aaa警快办"]:
        assert index.fix(text) == reference_fix_typos(text, lexicon)
    assert pinyin_key("快半") == pinyin_key("快办")


def test_substring_index_equals_the_full_scan(bot: Assistant) -> None:
    answerer = bot._state.answerer
    texts = list(answerer.kb.case_text.values())
    words = {w for t in texts for w in (t[i : i + n] for i in range(0, len(t), 7) for n in (1, 2, 3, 5))}
    words |= {"", "成都", "不存在的词", "警快办", "。", "2022"}
    for word in sorted(words):
        assert answerer.kb.case_texts.containing(word) == [i for i, t in enumerate(texts) if word in t], word
    chunks = bot._state.data.chunks
    for case in answerer.kb.cases.values():
        scan = [c for c in chunks if case.unit in c.text]
        listed = [c for c in scan if f"({case.unit})" in c.text or f"（{case.unit}）" in c.text]
        assert answerer.kb.unit_chunk(case) == (next(iter(listed or scan), None) if case.unit else None)
    assert all(answerer.kb.chunk(c.chunk_id) is next(x for x in chunks if x.chunk_id == c.chunk_id) for c in chunks)


def _rrf(scores: np.ndarray) -> np.ndarray:
    """1 / (60 + rank) of every row, ranking every row: fusion as it was before any shortcut."""
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores), dtype=np.float32)
    return np.asarray(1.0 / (60 + ranks), dtype=np.float32)


def reference_search(retriever: Retriever, query: str, k: int, case_ids: list[str]) -> list[tuple[str, float]]:
    dense, lexical = retriever.dense_scores(query), retriever.lexical_scores(query)
    fused = _rrf(dense) + _rrf(lexical)
    allowed = set(case_ids)
    hits = []
    for i in np.argsort(-fused, kind="stable"):
        chunk = retriever.data.chunks[int(i)]
        if allowed and chunk.case_id not in allowed:
            continue
        hits.append((chunk.chunk_id, float(fused[i])))
        if len(hits) == k:
            break
    return hits


def test_search_within_cases_by_look_up_equals_the_scan(retriever: Retriever) -> None:
    ids = sorted(retriever.cases)
    for query in ["警快办有多少人注册", "调解", "法院", "nothing", ""]:
        for k in (1, 3, 8, 0):
            for case_ids in ([], ids[:1], ids[2:5], ["no-such-case"], ids):
                got = [(h.chunk.chunk_id, h.score) for h in retriever.search(query, k, case_ids)]
                assert got == reference_search(retriever, query, k, case_ids)


def test_mentioned_anywhere_by_look_up_equals_the_scan(bot: Assistant) -> None:
    answerer = bot._state.answerer
    words = ["主办单位", "警快办", "成都", "调解", "交通拥堵", "上海迪士尼", "哪家医院", "a", ""]
    for word in words:
        assert answerer.kb.mentioned_anywhere(word) == any(
            is_mentioned(word, t) for t in answerer.kb.case_text.values()
        )
    names = bot._state.retriever.names
    for case_ids in ([], sorted(answerer.kb.cases)[:3]):
        assert names.names_of(case_ids) == {n for n, cid in names.by_name.items() if cid in case_ids}


def reference_enumeration(kb: Knowledge, batch: str) -> Chunk | None:
    """The overview passage as ``Structured._cite_enumeration`` found it before issue 17: a scan."""
    ranked = [c for c in kb.cases.values() if c.rank is not None and kb.batches.get(c.id, "") == batch]
    best, most = None, 2
    for case in kb.cases.values():
        overview = case.rank is None and kb.batches.get(case.id, "") == batch
        for chunk in kb.chunks_by_case.get(case.id, []) if overview else []:
            named = sum(c.unit in chunk.text for c in ranked)
            if named > most:
                best, most = chunk, named
    return best


def test_overview_passage_by_look_up_equals_the_scan(kb_dir: Path, settings: Settings, fake: HashingEmbedder) -> None:
    # Two copies of the overview tie (the first in case order wins); a later selection has none.
    overview = (kb_dir / "00-overview.md").read_text(encoding="utf-8")
    (kb_dir / "99-overview-copy.md").write_text(overview.replace("id: overview", "id: overview-copy"), "utf-8")
    write_case(kb_dir, "98-later.md", "later", "下一批案例", "测试单位的做法。", rank=1, batch="2025")
    build_index(settings, fake, progress=False)
    structured = Assistant.load(settings=settings, embedder=fake)._state.answerer.structured
    for batch in ("", "2025", "no-such-batch"):
        draft = Draft()
        cited = structured._cite_enumeration(draft, batch)
        expected = reference_enumeration(structured.kb, batch)
        assert [c.chunk_id for c in draft.citations] == ([expected.chunk_id] if expected else [])
        assert bool(cited) == (expected is not None)
    assert reference_enumeration(structured.kb, "") is not None  # the case the look-up must get right

"""The fast path: reply and query-vector caches keyed on the index version, and batched model calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.webapp import build_web_index

from qa import assistant as assistant_module
from qa import retrieval
from qa.assistant import Assistant
from qa.batching import BatchingEmbedder
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder

QUESTION = "警快办有多少人注册？"
OTHERS = ["荣昌调解中心有多少间调解室？", "5G车载便民法庭是什么？", "今天天气怎么样？", "莎姐是谁？"]


class CountingEmbedder(HashingEmbedder):
    """The fake embedder, counting the queries it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.queries.extend(texts)
        return super().embed_queries(texts)


@pytest.fixture
def site(tmp_path: Path) -> Settings:
    return build_web_index(tmp_path, with_xss_case=False)


def load(settings: Settings, embedder: HashingEmbedder) -> Assistant:
    return Assistant.load(settings=settings, embedder=embedder)


def new_version(settings: Settings) -> str:
    """Publish a new index version, as `qa index` after an edit would."""
    path = settings.knowledge_dir / "04-jingkuaiban.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n补充：新版本。\n", encoding="utf-8")
    return build_index(settings, HashingEmbedder(), progress=False).version


def test_a_repeated_question_is_answered_once(site: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = load(site, CountingEmbedder())
    calls: list[str] = []
    answer = bot._state.answerer.answer

    def counted(question: str, history: list[dict[str, str]]) -> Any:
        calls.append(question)
        return answer(question, history)

    monkeypatch.setattr(bot._state.answerer, "answer", counted)
    first = bot.ask(QUESTION)
    assert all(bot.ask(QUESTION) is first for _ in range(5))
    assert bot.ask(f"  {QUESTION}\n") is first  # the key is the cleaned question
    assert calls == [QUESTION]


def test_the_history_is_part_of_the_key(site: Settings) -> None:
    bot = load(site, CountingEmbedder())
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "1714万"}]
    alone, followed = bot.ask("它累计访问量是多少？"), bot.ask("它累计访问量是多少？", history)
    assert alone is not followed and "警快办" in followed.query


def test_a_query_is_encoded_once_per_index_version(site: Settings) -> None:
    embedder = CountingEmbedder()
    bot = load(site, embedder)
    bot.ask(QUESTION)
    encoded = len(embedder.queries)
    assert encoded >= 1
    bot._cache.clear()  # force the answerer to run again: the query vector must come from its cache
    bot.ask(QUESTION)
    assert len(embedder.queries) == encoded


def test_a_new_index_version_gets_fresh_caches(site: Settings) -> None:
    embedder = CountingEmbedder()
    bot = load(site, embedder)
    old_version, old_reply = bot.version, bot.ask(QUESTION)
    encoded = len(embedder.queries)
    assert bot.reload() is False  # nothing new published: caches stay
    assert bot.ask(QUESTION) is old_reply
    new_version(site)
    assert bot.reload() is True and bot.version != old_version
    new_reply = bot.ask(QUESTION)
    assert new_reply is not old_reply
    assert len(embedder.queries) > encoded  # the new version's retriever encodes for itself
    assert all(key[0] == bot.version for key in bot._cache)  # old entries were dropped with the old version


def test_caches_stay_bounded_and_consistent_under_concurrency(site: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assistant_module, "REPLY_CACHE", 8)
    monkeypatch.setattr(retrieval, "QUERY_CACHE", 8)
    bot = load(site, CountingEmbedder())
    questions = [f"{q}{'？' * n}" for q in [QUESTION, *OTHERS] for n in range(6)]  # 30 distinct: evictions galore

    def ask(n: int) -> str:
        return bot.ask(questions[n % len(questions)]).answer

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(600)))
    assert len(answers) == 600 and all(answers)
    assert len(bot._cache) <= 8 and len(bot._state.retriever._query_vectors) <= 8


# ---- batched model calls --------------------------------------------------------------------------


class SlowModel(HashingEmbedder):
    """A model call that takes a while, whatever the batch: what batching is for."""

    def __init__(self, seconds: float = 0.05, fail_on: str | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.fail_on = fail_on
        self.batches: list[int] = []
        self.running = 0
        self.overlapped = False

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            time.sleep(self.seconds)
            self.batches.append(len(texts))
            if self.fail_on is not None and self.fail_on in texts:
                raise RuntimeError("model failed")
            return super().embed_queries(texts)
        finally:
            self.running -= 1

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self.embed_queries(texts)


def concurrently(embedder: BatchingEmbedder, texts: list[str]) -> list[np.ndarray | BaseException]:
    def one(text: str) -> np.ndarray | BaseException:
        try:
            return embedder.embed_queries([text])
        except BaseException as exc:
            return exc

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(one, texts))


def test_concurrent_queries_share_model_calls_and_get_their_own_vectors() -> None:
    model = SlowModel()
    batching = BatchingEmbedder(model, max_batch=8)
    texts = [f"问题{n}" for n in range(24)]
    results = concurrently(batching, texts)
    for text, vector in zip(texts, results, strict=True):
        assert isinstance(vector, np.ndarray)
        np.testing.assert_array_equal(vector, HashingEmbedder().embed_queries([text]))
    assert len(model.batches) < len(texts) and max(model.batches) <= 8
    assert sum(model.batches) == len(texts) and not model.overlapped  # one model call at a time


def test_a_lone_query_does_not_wait_for_company() -> None:
    model = SlowModel(seconds=0.0)
    batching = BatchingEmbedder(model)
    started = time.perf_counter()
    for n in range(50):
        batching.embed_queries([f"问题{n}"])
    assert time.perf_counter() - started < 1.0 and model.batches == [1] * 50


def test_a_failed_model_call_fails_its_batch_and_nothing_else() -> None:
    model = SlowModel(fail_on="坏")
    batching = BatchingEmbedder(model, max_batch=64)
    results = concurrently(batching, ["坏", *[f"好{n}" for n in range(10)]])
    assert isinstance(results[0], RuntimeError)  # the failure reaches every waiter in that batch: no hang
    assert isinstance(batching.embed_queries(["好"]), np.ndarray)  # and the next call works


def test_batches_and_passages_take_turns_with_queries() -> None:
    model = SlowModel()
    batching = BatchingEmbedder(model)
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batching.embed_passages, ["段落一", "段落二"]) for _ in range(2)]
        futures += [pool.submit(batching.embed_queries, [f"问题{n}"]) for n in range(4)]
        assert all(f.result(timeout=10).shape[1] == model.dim for f in futures)
    assert not model.overlapped
    assert batching.name == model.name and batching.dim == model.dim


def test_a_long_passage_job_lets_questions_in_between() -> None:
    """An admin rebuild embeds many passages with the server's embedder: questions must not wait for all of it."""
    model = SlowModel(seconds=0.02)
    batching = BatchingEmbedder(model, max_batch=4)
    with ThreadPoolExecutor(2) as pool:
        rebuild = pool.submit(batching.embed_passages, [f"段落{n}" for n in range(40)])  # 10 turns of 20 ms
        time.sleep(0.03)
        started = time.perf_counter()
        pool.submit(batching.embed_queries, ["问题"]).result(timeout=10)
        waited = time.perf_counter() - started
        vectors = rebuild.result(timeout=10)
    assert waited < 0.15  # one slice of the rebuild, not all ten
    np.testing.assert_array_equal(vectors, HashingEmbedder().embed_passages([f"段落{n}" for n in range(40)]))
    assert not model.overlapped

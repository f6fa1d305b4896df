"""The span reader: windows and labels, training that learns, a safe artefact, and how the engine asks it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa import index as store
from qa import span_fit
from qa import span_reader as sr
from qa.answer import Readers, facts, reading
from qa.answer.followups import FollowUps
from qa.answer.topic import TopicGate
from qa.assistant import Assistant
from qa.bert_embedder import BertEncoder, Geometry
from qa.config import Settings
from qa.embedding import ensure_default_model
from qa.errors import ReaderMissing
from qa.models import Chunk, Hit

SPECIALS = span_fit.Specials(bos=0, eos=2, pad=1)


def _context(n: int) -> tuple[list[int], list[tuple[int, int]]]:
    """``n`` tokens of two characters each."""
    return list(range(10, 10 + n)), [(2 * i, 2 * i + 2) for i in range(n)]


def test_windows_overlap_and_label_only_the_window_holding_the_answer() -> None:
    ids, offsets = _context(600)
    answer = (2 * 450 + 1, 2 * 452)  # starts inside token 450, ends with token 451
    windows = span_fit.encode([5, 6, 7], ids, offsets, SPECIALS, answer)
    assert len(windows) > 2 and (windows.lengths <= span_fit.MAX_LEN).all()
    first = 3 + 2
    assert (windows.ctx_start == first).all()
    assert windows.ids[0, :first].tolist() == [0, 5, 6, 7, 2]
    holding = np.flatnonzero(windows.start > 0)
    assert len(holding) >= 1
    for r in holding:
        assert windows.offsets[r, windows.start[r], 0] <= answer[0] < windows.offsets[r, windows.start[r], 1]
        assert windows.offsets[r, windows.end[r], 1] == answer[1]
    covered = {int(t) for r in range(len(windows)) for t in windows.ids[r, first : windows.ctx_end[r]]}
    assert covered == set(ids)  # every context token is read by some window
    assert windows.ids[-1, windows.lengths[-1] - 1] == SPECIALS.eos


def _toy_weights(g: Geometry, vocab: int, seed: int = 0) -> dict[str, object]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=gen) * 0.1  # noqa: E731
    w: dict[str, object] = {
        "embeddings.word_embeddings.weight": rand(vocab, g.hidden),
        "embeddings.position_embeddings.weight": rand(span_fit.MAX_LEN, g.hidden),
        "embeddings.token_type_embeddings.weight": rand(2, g.hidden),
        "embeddings.LayerNorm.weight": torch.ones(g.hidden),
        "embeddings.LayerNorm.bias": torch.zeros(g.hidden),
    }
    sizes = {"intermediate.dense": (4 * g.hidden, g.hidden), "output.dense": (g.hidden, 4 * g.hidden)}
    for layer in range(g.layers):
        for name in span_fit.LINEAR:
            out, inp = sizes.get(name, (g.hidden, g.hidden))
            w[f"encoder.layer.{layer}.{name}.weight"] = rand(out, inp)
            w[f"encoder.layer.{layer}.{name}.bias"] = torch.zeros(out)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"encoder.layer.{layer}.{norm}.weight"] = torch.ones(g.hidden)
            w[f"encoder.layer.{layer}.{norm}.bias"] = torch.zeros(g.hidden)
    return w


def _toy_windows(n: int, seed: int) -> span_fit.Windows:
    """Questions ask for the marker token 4; half the contexts lack it (no answer)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        ids, offsets = list(rng.integers(10, 40, size=20)), [(2 * k, 2 * k + 2) for k in range(20)]
        answer = None
        if i % 2 == 0:
            at = int(rng.integers(0, 19))
            ids[at] = 4
            answer = (2 * at, 2 * at + 2)
        parts.append(span_fit.encode([3], [int(t) for t in ids], offsets, SPECIALS, answer, i))
    return span_fit.Windows.join(parts)


def test_training_learns_a_span_and_the_no_answer_option() -> None:
    g = Geometry(hidden=32, heads=2, layers=2, eps=1e-12)
    model = span_fit.SpanModel(_toy_weights(g, 40), g, first_trained=0)  # type: ignore[arg-type]
    span_fit.fit(model, _toy_windows(256, 1), span_fit.Schedule(epochs=12, rate=3e-3, batch=16))
    held = _toy_windows(40, 2)
    predicted = span_fit.predict(model, held)
    answered = predicted[:, 2] > predicted[:, 3]
    right = [
        (not answered[r]) if held.start[r] == 0 else (answered[r] and predicted[r, 0] == held.start[r])
        for r in range(40)
    ]
    assert np.mean(right) >= 0.9


def test_the_training_network_computes_what_the_served_encoder_computes() -> None:
    import torch

    g = Geometry(hidden=32, heads=2, layers=3, eps=1e-12)
    weights = _toy_weights(g, 40, seed=3)
    model = span_fit.SpanModel(weights, g, first_trained=1)  # type: ignore[arg-type]
    windows = _toy_windows(4, 5)
    ids, mask, _ = span_fit.tensors(windows, "cpu")
    served = BertEncoder(weights, g)(ids, mask)
    head = (model.head.weight.detach(), model.head.bias.detach())
    with torch.no_grad():
        start, _ = model(ids, mask)
    expected = torch.nn.functional.linear(served, *head)[..., 0]
    assert torch.allclose(start[mask.bool()], expected[mask.bool()], atol=1e-5)


def test_the_answer_is_the_best_span_of_any_window_against_the_lowest_no_answer_score() -> None:
    # Rows of best_spans: first token, last token, span score, no-answer score.
    best = np.array([[3, 4, 2.0, 1.0], [5, 6, 5.0, 9.0], [7, 7, 4.0, 4.5]], dtype=np.float32)
    assert span_fit.choose(best) == (1, 4.0)  # window 1's span, against window 0's no-answer score
    assert span_fit.choose(best[[0, 2]]) == (1, 3.0)
    assert span_fit.choose(best[[2]]) == (0, -0.5)  # only the no-answer option is better: refuse


def test_int8_rows_round_trip_within_their_step() -> None:
    w = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    stored = span_fit.quantise({"encoder.layer.0.output.dense.weight": w, "qa_head.bias": np.ones(2, np.float32)})
    back = span_fit.dequantise(stored)
    step = np.abs(w).max(axis=1, keepdims=True) / 127
    assert (np.abs(back["encoder.layer.0.output.dense.weight"] - w) <= step / 2 + 1e-7).all()
    assert back["qa_head.bias"].tolist() == [1.0, 1.0]


def test_a_missing_damaged_or_foreign_file_is_refused_in_chinese(tmp_path: Path) -> None:
    folder = ensure_default_model(Settings.from_env().cache_dir)
    with pytest.raises(ReaderMissing, match="缺失或损坏"):
        sr.load(folder, tmp_path / "absent.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a zip file")
    with pytest.raises(ReaderMissing, match="缺失或损坏"):
        sr.load(folder, damaged)
    foreign = tmp_path / "foreign.npz"
    sr.save(foreign, {}, {"layers": 12, "model": "another-model"})
    with pytest.raises(ReaderMissing, match="不匹配"):
        sr.load(folder, foreign)


def test_the_shipped_reader_is_small_and_finds_the_answer() -> None:
    assert sr.DEFAULT_PATH.stat().st_size < 30 * 1024 * 1024
    reader = sr.load(ensure_default_model(Settings.from_env().cache_dir))
    context = "自2021年1月1日正式上线运行以来,“警快办”注册人数1714万,累计访问量5.4亿人次,累计办事办件8567万余件。"
    guess = reader.guess("“警快办”累计访问量有多少？", context)
    assert guess is not None and guess.margin > 0
    assert "5.4亿" in context[guess.start : guess.end] and guess.end - guess.start < 15


def test_a_reading_keeps_every_span_and_its_best_is_the_guess() -> None:
    reader = sr.load(ensure_default_model(Settings.from_env().cache_dir))
    context = "自2021年1月1日正式上线运行以来,“警快办”注册人数1714万,累计访问量5.4亿人次,累计办事办件8567万余件。"
    question = "“警快办”累计访问量有多少？"
    reading = reader.read(question, context)
    assert reading is not None and reading.guess == reader.guess(question, context)
    best = reading.guess
    assert reading.best_within(0, len(context)) == pytest.approx(reading.top)
    assert reading.best_within(best.start, best.end) == pytest.approx(reading.top)
    before, after = reading.best_within(0, best.start), reading.best_within(best.end, len(context))
    assert before is not None and after is not None and max(before, after) < reading.top  # the other clauses rate lower
    assert reading.best_within(3, 3) is None


def test_reads_from_many_threads_at_once_equal_reads_one_at_a_time() -> None:
    """Request threads read at once; a text's int8 pass must depend on that text alone."""
    reader = sr.load(ensure_default_model(Settings.from_env().cache_dir))
    base = "自2021年1月1日正式上线运行以来,“警快办”注册人数1714万,累计访问量5.4亿人次。"
    items = [("“警快办”注册人数是多少？", base * n + "累计办事办件8567万余件。" * (4 - n)) for n in range(1, 5)]
    alone = [reader.guess(q, c) for q, c in items]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda item: reader.guess(*item), items * 6))
    assert together == alone * 6


class FakeSpan:
    """A span reader that points at ``answer`` in whatever it reads (or declines when absent);
    with no ``answer``, at the first four characters it reads."""

    digest = "f" * 64

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.calls = 0
        self.seen = ""

    def guess(self, question: str, context: str) -> sr.Guess | None:
        self.calls += 1
        self.seen = context
        at = context.find(self.answer) if self.answer is not None else 0
        size = len(self.answer) if self.answer is not None else 4
        return sr.Guess(at, at + size, 1.0) if at >= 0 else sr.Guess(0, 1, -1.0)

    def read(self, question: str, context: str) -> sr.Reading:
        """The same favourite as :meth:`guess`, scored 1; a character a token, any other span -2 or -5."""
        best = self.guess(question, context)
        assert best is not None
        first = np.arange(len(context))
        start = np.where(first == best.start, 0.5, -2.5).astype(np.float32)
        end = np.where(first + 1 == best.end, 0.5, -2.5).astype(np.float32)
        return sr.Reading(best, 1.0, (sr.Window(first, first + 1, start, end),))


def test_span_mode_lets_the_reader_choose_among_close_rule_spans(bot: Assistant) -> None:
    fake = FakeSpan("累计访问量5.4亿人次")
    bot.use_readers(Readers("span", None, fake))  # type: ignore[arg-type]
    reply = bot.ask("警快办是做什么的？")
    assert reply.grounded and fake.calls == 1
    assert "5.4亿" in reply.answer  # the sentence (a description's shape) that holds the reader's span
    assert bot.health()["reader"] == "span " + "f" * 12


def test_span_mode_refuses_where_the_rules_find_nothing_and_the_reader_declines(bot: Assistant) -> None:
    fake = FakeSpan("not in any passage")
    bot.use_readers(Readers("span", None, fake))  # type: ignore[arg-type]
    reply = bot.ask("警快办有多少公里？")  # no clause holds a figure in 公里
    assert not reply.grounded and fake.calls == 1
    first = FakeSpan(None)
    bot.use_readers(replace(bot.readers, span=first))  # type: ignore[arg-type]
    reply = bot.ask("警快办有多少公里？")
    assert reply.grounded and first.seen[:4] in reply.answer  # the sentence around the reader's span


def test_words_no_case_mentions_refuse_only_where_the_reader_declines_too(bot: Assistant) -> None:
    question = "警快办的吉祥物叫什么？"  # 吉祥物 is in no case: by its words, a detail the case lacks
    declines = FakeSpan("not in any passage")
    bot.use_readers(Readers("span", None, declines))  # type: ignore[arg-type]
    assert not bot.ask(question).grounded and declines.calls == 1
    finds = FakeSpan("400余项")  # a paraphrase shares no word with its answer; the reader finds it
    bot.use_readers(Readers("span", None, finds))  # type: ignore[arg-type]
    reply = bot.ask(question)
    assert reply.grounded and "400余项" in reply.answer
    bot.use_readers(Readers("rules"))  # without the span reader, the words decide alone
    assert not bot.ask(question).grounded


def test_a_bare_english_follow_up_in_words_the_case_lacks_continues_where_the_reader_answers_it(
    bot: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FollowUps, "_on_topic_alone", lambda self, asked: False)
    monkeypatch.setattr(TopicGate, "everyday", lambda self, q: False)
    history = [{"role": "user", "content": "警快办是做什么的？"}, {"role": "assistant", "content": "警快办：……"}]
    question = "Total costs?"  # no word the glossary knows, none in 警快办's passages
    bot.use_readers(Readers("span", None, FakeSpan("not in any passage")))  # type: ignore[arg-type]
    assert bot.ask(question, history).query == question  # not continued: asked alone
    bot.use_readers(Readers("span", None, FakeSpan(None)))  # type: ignore[arg-type]
    assert bot.ask(question, history).query == "警快办Total costs?"


def test_span_mode_answers_the_readers_sentence_where_no_rule_span_holds_it(
    bot: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts, "_clear_lead", lambda scores: False)  # the reader is always asked
    monkeypatch.setattr(facts, "fits_type", lambda query, span, topic: "累计访问量" not in span)
    fake = FakeSpan("累计访问量5.4亿人次")  # in a sentence the (patched) rules do not offer
    bot.use_readers(Readers("span", None, fake))  # type: ignore[arg-type]
    reply = bot.ask("警快办是做什么的？")
    assert reply.grounded and fake.calls == 1 and "5.4亿" in reply.answer
    heading = FakeSpan("不见面就能办")  # the case's heading: the rules' best span answers instead
    bot.use_readers(Readers("span", None, heading))  # type: ignore[arg-type]
    reply = bot.ask("警快办是做什么的？")
    assert reply.grounded and heading.calls == 1 and "9个警种" in reply.answer


def test_the_readers_sentence_without_the_measure_asked_gives_way_to_the_rule_spans(
    bot: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts, "_clear_lead", lambda scores: False)  # the reader is always asked
    fake = FakeSpan("9个警种")  # a sentence with figures, none of them in 件
    bot.use_readers(Readers("span", None, fake))  # type: ignore[arg-type]
    reply = bot.ask("警快办一共办了多少件事？")
    assert reply.grounded and fake.calls >= 1 and "8567万余件" in reply.answer and "9个警种" not in reply.answer
    described = bot.ask("警快办是做什么的？")  # no measure asked: the reader's sentence answers
    assert described.grounded and "9个警种" in described.answer


def test_manifest_names_the_span_reader(built: Settings) -> None:
    assert store.load_current(built.index_dir).manifest["reader"]["span_sha256"] == sr.artefact_digest()


def _hit(text: str, n: int) -> Hit:
    return Hit(Chunk(f"c{n}", "case", "标题", "单位", n, 0, len(text), text), 1.0 / (n + 1))


def test_short_headings_do_not_take_the_place_of_passages_of_text() -> None:
    heading, title = _hit("1.重庆市高级人民法院", 0), _hit("5G“车载便民法庭”打造老百姓家门口法院", 1)
    body = [_hit("为了让老百姓在家门口就能接受法律服务，" * 3, n) for n in (2, 3, 4)]
    assert reading.to_read([heading, title, *body]) == [heading, title, body[0], body[1]]
    assert reading.to_read(body) == body[:2]
    assert reading.to_read([body[0], heading, body[1], title]) == [body[0], heading, body[1]]


def test_a_short_chinese_question_continues_the_case_unless_it_reads_as_everyday_talk(
    bot: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = [{"role": "user", "content": "警快办是做什么的？"}, {"role": "assistant", "content": "警快办：……"}]
    bot.use_readers(Readers("span", None, FakeSpan("not in any passage")))  # type: ignore[arg-type]
    monkeypatch.setattr(TopicGate, "everyday", lambda self, q: q.text.startswith("重庆市长"))
    assert bot.ask("重庆市长是谁?", history).query == "重庆市长是谁?"  # asked alone
    assert bot.ask("效果怎么样?", history).query == "警快办效果怎么样?"  # no word of 警快办's, no reader

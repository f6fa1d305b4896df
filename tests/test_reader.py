"""The learned reader: spans on word boundaries, a no-answer option, a reproducible fit, a safe artefact."""

from __future__ import annotations

from pathlib import Path

import jieba.posseg as pseg
import numpy as np
import pytest

from qa import index as store
from qa import reader as rd
from qa import reader_fit as fit
from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import ReaderMissing

PASSAGE = (
    "五羊新城位于广州市越秀区，由东华实业开发，1985年动工。"
    "小区共有住宅120栋，常住人口约3万人。"
    "2003年，广州市政府将其列为示范社区。"
)


def _word_bounds(sentence: str) -> set[int]:
    """Word boundaries as the reader segments (jieba with parts of speech)."""
    bounds, pos = {0}, 0
    for pair in pseg.lcut(sentence):
        pos += len(pair.word)
        bounds.add(pos)
    return bounds


def test_every_span_is_whole_words_of_one_sentence() -> None:
    options = rd.candidates("五羊新城由哪个公司开发？", [PASSAGE])
    assert options[0].text == "" and options[0].passage == -1  # the no-answer option comes first
    spans = options[1:]
    assert spans
    for span in spans:
        start = span.start
        assert span.sentence[start : start + len(span.text)] == span.text
        bounds = _word_bounds(span.sentence)
        assert start in bounds and start + len(span.text) in bounds, span.text
        assert span.text[0] not in "，。；" and span.text[-1] not in "，。；"


def test_edges_hold_no_loose_punctuation() -> None:
    """No "、1678名" and no "“一书一令": a quote or bracket stays only with its partner."""
    passage = "重庆市三级检察院、416名“莎姐”检察官、1678名社会各界志愿者,共同组成“莎姐”守护明天。"
    for span in rd.candidates("莎姐志愿者有多少？", [passage])[1:]:
        assert span.text[0] not in "、,，“”" or (span.text[0] == "“" and "”" in span.text), span.text
        assert span.text[-1] not in "、,，“”" or (span.text[-1] == "”" and "“" in span.text), span.text


def test_the_no_answer_margin_keeps_answerable_questions_answered() -> None:
    examples = _toy_examples()
    reader = rd.Reader(fit.fit(fit.featurise(examples + fit.without_answer(examples, every=1)), epochs=30))
    reader.null_margin = fit.null_margin(reader, examples, refused_at_most=0.0)
    assert all(reader.read(ex.question, ex.passages).span is not None for ex in examples)
    reader.null_margin = -1e9  # a margin that always prefers no answer
    assert reader.read(examples[0].question, examples[0].passages).span is None


def test_features_are_stable_ids() -> None:
    """Hashed ids come from crc32, not Python's salted hash: the same under every PYTHONHASHSEED."""
    a = rd.candidates("东华实业开发了什么？", [PASSAGE])
    b = rd.candidates("东华实业开发了什么？", [PASSAGE])
    assert [s.text for s in a] == [s.text for s in b]
    assert all(np.array_equal(x.ids, y.ids) for x, y in zip(a, b, strict=True))
    assert max(int(s.ids.max()) for s in a) < len(rd.DENSE) + (1 << rd.HASH_BITS)


def _toy_examples() -> list[fit.Example]:
    """Questions whose answer follows "由" or is a year: enough signal for a fit to learn."""
    made = []
    for place, firm, year in [("甲城", "华夏建设", 1990), ("乙城", "南方置业", 1995), ("丙城", "北辰集团", 2001)]:
        text = f"{place}位于江边，由{firm}开发，{year}年动工。当地有公园两座。"
        made.append(fit.Example(f"{place}由哪个公司开发？", [text], [firm]))
        made.append(fit.Example(f"{place}哪一年动工？", [text], [f"{year}年"]))
    return made


def test_fit_is_reproducible_and_learns_the_toy_task() -> None:
    examples = _toy_examples()
    first = fit.fit(fit.featurise(examples), epochs=30)
    second = fit.fit(fit.featurise(examples), epochs=30)
    assert np.array_equal(first, second)
    reader = rd.Reader(first)
    answer = reader.read("丁城由哪个公司开发？", ["丁城位于江边，由西山地产开发，2010年动工。当地有公园两座。"])
    assert answer.span is not None and answer.span.text == "西山地产"


def test_no_answer_examples_target_the_null_option() -> None:
    examples = fit.without_answer(_toy_examples(), every=1)
    assert examples and all(not ex.answers for ex in examples)
    assert all("华夏建设" not in p for ex in examples[:1] for p in ex.passages)
    batch = fit.featurise(examples[:1])[0]
    assert batch.target[0] == 1.0 and batch.target.sum() == 1.0


def test_f1_matches_the_cmrc_definition() -> None:
    assert fit.f1("东华实业", "东华实业") == 1.0
    assert fit.f1("由东华实业开发", "东华实业") == pytest.approx(2 * (4 / 7) / (4 / 7 + 1.0))  # precision 4/7, recall 1
    assert fit.f1("", "东华实业") == 0.0


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    weights = np.zeros(len(rd.DENSE) + (1 << rd.HASH_BITS), dtype=np.float32)
    weights[[0, 5, 99_999]] = [0.5, -1.25, 2.0]
    path = tmp_path / "reader.npz"
    rd.save(path, weights, {"trained_on": "test"})
    loaded = rd.load(path)
    assert np.array_equal(loaded.weights, weights)
    assert len(loaded.digest) == 64


def test_missing_or_damaged_or_foreign_artefact_is_a_chinese_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderMissing, match="缺失或损坏"):
        rd.load(tmp_path / "absent.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a zip file")
    with pytest.raises(ReaderMissing, match="缺失或损坏"):
        rd.load(damaged)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, index=np.array([1]), value=np.array([1.0]), meta=np.array('{"feature_version": 0}'))
    with pytest.raises(ReaderMissing, match="不匹配"):
        rd.load(foreign)


def test_shipped_artefact_is_small_and_loads() -> None:
    assert rd.DEFAULT_PATH.stat().st_size < 30 * 1024 * 1024
    reader = rd.load()
    answer = reader.read(
        "“警快办”累计访问量有多少？",
        ["自2021年1月1日正式上线运行以来,“警快办”注册人数1714万,累计访问量5.4亿人次,累计办事办件8567万余件。"],
    )
    assert answer.span is not None and "5.4亿" in answer.span.text
    assert len(answer.span.text) < 20  # the span, not the sentence


def test_manifest_and_health_name_the_reader(built: Settings, bot: Assistant) -> None:
    manifest = store.load_current(built.index_dir).manifest
    assert manifest["reader"]["sha256"] == rd.artefact_digest()
    mode, digest = bot.health()["reader"].split()
    assert mode == built.reader_mode == "hybrid" and manifest["reader"]["sha256"].startswith(digest)


def test_reader_modes_route_fact_spans(bot: Assistant) -> None:
    """ "reader" answers a fact with the reader's short span and quotes its whole sentence."""
    bot.use_reader(rd.load(), "reader")
    reply = bot.ask("警快办累计访问量有多少？")
    assert reply.grounded and "5.4亿" in reply.answer
    quote = reply.citations[0].quote
    assert len(quote) > len(reply.answer.split("[")[0]) and quote in reply.citations[0].text
    bot.use_reader(None, "rules")
    assert "5.4亿" in bot.ask("警快办累计访问量有多少？").answer

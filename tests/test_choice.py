"""Mode "choice": the learned weighing of the span reader against the rules (qa.answer.choice)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa import index as store
from qa.answer import Readers, choice, facts
from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import ReaderMissing
from test_span_reader import FakeSpan


def test_features_mark_unread_candidates_and_clip_the_readers_gap() -> None:
    rows = choice.features([2.0, None, -40.0], 2.0, np.array([0.5, 0.9, 0.1]), [0, 3, 1], [10, 200, 50])
    assert rows.shape == (3, len(choice.FEATURES))
    reader, unread, lexical, gap, passage, length = rows.T
    assert reader.tolist() == [0.0, 0.0, choice.FLOOR]
    assert unread.tolist() == [0.0, 1.0, 0.0]
    assert gap == pytest.approx([-0.4, 0.0, -0.8]) and lexical.tolist() == [0.5, 0.9, 0.1]
    assert passage.tolist() == [0.0, 2.0, 1.0] and length.tolist() == [0.1, 2.0, 0.5]


def test_fit_learns_which_feature_marks_the_right_candidate() -> None:
    """Synthetic questions: the right candidate is the reader's favourite, lexical fit is noise."""
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(60):
        x = np.column_stack([-rng.uniform(0, 10, 4), np.zeros(4), rng.uniform(0, 1, 4), np.zeros((4, 3))])
        right = rng.integers(4)
        x[right, 0] = 0.0
        groups.append((x, (np.arange(4) == right).astype(float)))
    weights = choice.fit(groups)
    assert weights[0] > abs(weights[2])
    picks = [choice.SpanChoice(weights, "").pick(x) for x, _ in groups]
    assert all(y[i] == 1.0 for i, (_, y) in zip(picks, groups, strict=True))
    assert choice.fit([(groups[0][0], np.zeros(4))]).tolist() == [0.0] * len(choice.FEATURES)  # nothing to learn


def test_fit_takes_as_many_weights_as_the_rows_have_columns() -> None:
    """``bench/answer_signals.py`` fits seven other features with the same fit."""
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(20):
        x = rng.normal(size=(4, 7))
        right = int(np.argmax(x[:, 4]))  # the fifth column decides in this made-up data
        groups.append((x, np.eye(4)[right]))
    w = choice.fit(groups, steps=300, rate=0.2)
    assert int(np.argmax(np.abs(w))) == 4


def test_the_shipped_weights_load_and_a_bad_file_says_so_in_chinese(tmp_path: Path) -> None:
    shipped = choice.load()
    assert shipped.weights.shape == (len(choice.FEATURES),) and len(shipped.digest) == 64
    with pytest.raises(ReaderMissing, match="缺失或损坏"):
        choice.load(tmp_path / "absent.json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"features": ["reader"], "weights": [1.0]}), encoding="utf-8")
    with pytest.raises(ReaderMissing, match="缺失或损坏"):
        choice.load(other)
    saved = tmp_path / "saved.json"
    choice.save(saved, np.arange(len(choice.FEATURES), dtype=float), {"fitted_on": "a test"})
    assert choice.load(saved).weights.tolist() == list(range(len(choice.FEATURES)))


def _use(bot: Assistant, fake: FakeSpan, weights: list[float]) -> None:
    bot.use_readers(Readers("choice", None, fake, choice.SpanChoice(np.array(weights, dtype=float), "")))  # type: ignore[arg-type]


def test_choice_mode_weighs_the_reader_against_the_rules(bot: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts, "_clear_lead", lambda scores, lead=0.0: False)  # the reader is always asked
    fake = FakeSpan("累计访问量5.4亿人次")
    _use(bot, fake, [1.0, -1.0, 0.0, 0.0, 0.0, 0.0])  # the reader's rating decides
    reply = bot.ask("警快办是做什么的？")
    assert reply.grounded and fake.calls == 1 and "5.4亿" in reply.answer
    assert bot.health()["reader"] == "choice " + "f" * 12
    by_words = FakeSpan("累计访问量5.4亿人次")
    _use(bot, by_words, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0])  # lexical fit decides: the rules' favourite
    assert "5.4亿" not in bot.ask("警快办是做什么的？").answer and by_words.calls == 1


def test_choice_mode_refuses_where_the_rules_find_nothing_and_the_reader_declines(bot: Assistant) -> None:
    declines = FakeSpan("not in any passage")
    _use(bot, declines, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert not bot.ask("警快办有多少公里？").grounded and declines.calls == 1
    answers = FakeSpan(None)  # points at the first characters it reads: its sentence answers
    _use(bot, answers, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    reply = bot.ask("警快办有多少公里？")
    assert reply.grounded and answers.seen[:4] in reply.answer


def test_the_manifest_names_the_choice_weights(built: Settings) -> None:
    assert store.load_current(built.index_dir).manifest["reader"]["choice_sha256"] == choice.load().digest

"""The pure parts of ``bench/answer_signals.py``: what its figures are computed with."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "answer_signals.py"


@pytest.fixture(scope="module")
def signals() -> ModuleType:
    spec = importlib.util.spec_from_file_location("answer_signals", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


def test_auc_counts_pairs_ordered_and_ties_half(signals: ModuleType) -> None:
    assert signals.auc([3.0, 2.0, 1.0, 0.0], [True, True, False, False]) == 1.0
    assert signals.auc([0.0, 1.0], [True, False]) == 0.0
    assert signals.auc([1.0, 1.0], [True, False]) == 0.5


def choice(lead: bool) -> dict:
    return {
        "lexical": np.array([0.9, 0.5, 0.2]),
        "held": np.array([0.0, 0.0, 1.0]),
        "lead": lead,
        "margin": 3.0,
        "e5": np.array([0.80, 0.91, 0.85]),
        "passage": np.array([0.0, 1.0, 4.0]),
    }


def test_the_readers_place_wins_only_where_the_reader_was_asked(signals: ModuleType) -> None:
    assert signals.product_pick(choice(lead=False)) == 2
    assert signals.product_pick(choice(lead=True)) == 0


def test_features_zero_the_reader_under_a_clear_lead(signals: ModuleType) -> None:
    read, unread = signals.features(choice(lead=False)), signals.features(choice(lead=True))
    columns = {name: i for i, name in enumerate(signals.FEATURES)}
    assert read[:, columns["reader_holds"]].tolist() == [0.0, 0.0, 1.0]
    assert not unread[:, columns["reader_holds"]].any()
    assert read[:, columns["e5_top"]].tolist() == [0.0, 1.0, 0.0]
    assert read[:, columns["passage"]].tolist() == [0.0, 1.0, 2.0]

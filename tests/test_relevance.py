"""The on-topic model: a deterministic fit, and a shipped model that matches the code's features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.relevance import FEATURES, Evidence, RelevanceModel, fit, load_model


def evidence(margin: float) -> Evidence:
    return Evidence(0.8 + margin, 0.8, 0.5, 0.5, False, False)


def toy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    margins = np.concatenate([rng.normal(0.05, 0.02, 50), rng.normal(-0.05, 0.02, 50)])
    x = np.array([evidence(float(m)).vector() for m in margins])
    return x, np.array([1.0] * 50 + [0.0] * 50)


def test_fit_separates_and_is_deterministic() -> None:
    x, y = toy()
    model = fit(x, y)
    assert model == fit(x, y)
    assert model.on_topic(evidence(0.08)) and not model.on_topic(evidence(-0.08))


def test_the_shipped_model_loads_and_refuses_a_far_question() -> None:
    model = load_model()
    far = Evidence(0.75, 0.95, 0.0, 0.0, True, False)
    near = Evidence(0.93, 0.80, 1.0, 1.0, False, False)
    assert not model.on_topic(far) and model.on_topic(near)


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    raw = RelevanceModel((0.0,) * len(FEATURES), (1.0,) * len(FEATURES), (0.0,) * len(FEATURES), 0.0).to_dict()
    raw["features"] = ["margin"]
    path = tmp_path / "relevance.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError):
        load_model(path)

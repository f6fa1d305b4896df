"""Build checks that stay affordable on a large knowledge base (issue 17)."""

from __future__ import annotations

import pytest

from qa import build
from qa.build import BuildReport, build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder


def test_a_full_build_up_to_the_limit_checks_every_title() -> None:
    report = BuildReport(added=[f"c{i}" for i in range(5)], full=True)
    assert build._titles_to_check(report, set()) is None


def test_above_the_limit_a_full_build_checks_a_sample_and_every_guarded_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "TITLE_CHECK_ALL", 3)
    report = BuildReport(added=[f"c{i}" for i in range(10)], full=True, cases=10)
    chosen = build._titles_to_check(report, {"c9", "gone"})
    assert chosen is not None and "c9" in chosen and "gone" not in chosen
    assert len(chosen - {"c9"}) in (2, 3)
    assert chosen == build._titles_to_check(report, {"c9", "gone"})  # the same sample every time
    assert build._sampled_note(report, chosen) and not build._sampled_note(report, None)


def test_a_large_full_build_says_it_sampled(
    settings: Settings, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "TITLE_CHECK_ALL", 3)
    checked: list[set[str] | None] = []
    real = build._check_titles

    def spy(retriever: object, only: set[str] | None) -> list[tuple[str, str]]:
        checked.append(only)
        return real(retriever, only)  # type: ignore[arg-type]

    monkeypatch.setattr(build, "_check_titles", spy)
    report = build_index(settings, fake, progress=False)
    assert checked and checked[0] is not None and len(checked[0]) == 3
    assert any("抽查" in w for w in report.warnings)

from __future__ import annotations

from tests.conftest import KNOWLEDGE

from qa.chunking import chunk_case, chunk_cases
from qa.corpus import load_cases
from qa.figures import figures_for


def test_spans_point_into_the_body_and_stay_in_one_paragraph() -> None:
    for case in load_cases(KNOWLEDGE):
        for chunk in chunk_case(case, chunk_size=60, chunk_overlap=10):
            assert case.body[chunk.start : chunk.end] == chunk.text
            assert chunk.text in case.paragraphs[chunk.paragraph - 1]
            assert len(chunk.text) <= 60


def test_chunk_ids_are_stable_and_unique() -> None:
    cases = load_cases(KNOWLEDGE)
    first, second = chunk_cases(cases), chunk_cases(cases)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)


def test_figures_keep_metric_value_unit_and_exact_clause() -> None:
    figures = figures_for(chunk_cases(load_cases(KNOWLEDGE)))
    by_clause = {(f.case_id, f.value, f.unit) for f in figures}
    assert ("jingkuaiban", 17140000.0, "万") in by_clause
    assert ("banan-yishuyiling", 98.8, "%") in by_clause
    assert ("shizhu-guihe", 20570.0, "件") in by_clause
    # dates and versions are not figures
    assert not any(f.unit == "" or "年" in f.unit for f in figures)
    chunks = {c.chunk_id: c for c in chunk_cases(load_cases(KNOWLEDGE))}
    assert all(f.clause in chunks[f.chunk_id].text for f in figures)

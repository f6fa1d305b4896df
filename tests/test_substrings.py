"""The bigram index must answer exactly what ``word in text`` over every text answers."""

from __future__ import annotations

import random

from qa.models import Chunk, Figure
from qa.substrings import SubstringIndex

ALPHABET = "调解中心服务站警快办重庆市12"


def _texts(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choices(ALPHABET, k=rng.randint(0, 30))) for _ in range(count)]


def test_containing_anywhere_and_count_equal_a_full_scan() -> None:
    rng = random.Random(3)
    texts = _texts(rng, 300)
    index = SubstringIndex(texts)
    words = ["", "调", "调解", "中心服务", "警快办重庆", "21", "无"] + [
        "".join(rng.choices(ALPHABET, k=3)) for _ in range(50)
    ]
    for word in words:
        expected = [i for i, text in enumerate(texts) if word in text]
        assert index.containing(word) == expected, word
        assert index.anywhere(word) == bool(expected), word
        assert index.count(word) == len(expected), word


def test_an_index_of_no_texts_finds_nothing() -> None:
    index = SubstringIndex([])
    assert index.containing("调解") == [] and not index.anywhere("调解") and index.count("") == 0


def test_passages_read_from_an_index_share_their_case_strings() -> None:
    """70,000 passages repeat a few thousand titles and units: they are held once each."""
    row = {"chunk_id": "a-0", "case_id": "a", "title": "警快办" + str(7), "unit": "市公安局", "paragraph": 0}
    first = Chunk.from_dict(row | {"start": 0, "end": 3, "text": "一"})
    second = Chunk.from_dict(dict(row, chunk_id="a-1", title="警快办" + str(7)) | {"start": 3, "end": 6, "text": "二"})
    assert first.title is second.title and first.unit is second.unit
    assert not hasattr(first, "__dict__")
    figure = {
        "case_id": "a",
        "chunk_id": "a-0",
        "metric": "".join(["注册", "人数"]),
        "value": 1.0,
        "unit": "人",
        "clause": "c",
    }
    assert Figure.from_dict(figure).metric is Figure.from_dict(dict(figure, metric="".join(["注册", "人数"]))).metric

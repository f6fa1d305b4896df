"""Cases into passages small enough to cite, with ids that survive rebuilds.

Chunks never cross a paragraph: a citation then always points at one paragraph,
and an edit to one paragraph leaves every other chunk id (and its vector) intact,
which is what makes incremental rebuilds cheap.
"""

from __future__ import annotations

import hashlib

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .models import Case, Chunk

# Chinese sentence ends first, then clause marks (the source often writes them
# as ASCII "," and ";"); "" is the last resort for an overlong sentence.
SEPARATORS = ["\n", "。", "！", "？", "；", ";", "…", "，", ",", "、", ""]


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )


def chunk_case(case: Case, chunk_size: int = 160, chunk_overlap: int = 20) -> list[Chunk]:
    """Split each paragraph of ``case``; spans index into ``case.body``."""
    splitter = make_splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    offset = 0
    for number, paragraph in enumerate(case.paragraphs, start=1):
        para_start = case.body.index(paragraph, offset)
        offset = para_start + len(paragraph)
        for doc in splitter.create_documents([paragraph]):
            start = para_start + int(doc.metadata["start_index"])
            chunks.append(_chunk(case, number, start, doc.page_content))
    return chunks


def chunk_cases(cases: list[Case], chunk_size: int = 160, chunk_overlap: int = 20) -> list[Chunk]:
    return [chunk for case in cases for chunk in chunk_case(case, chunk_size, chunk_overlap)]


def chunk_id(case_id: str, paragraph: int, text: str) -> str:
    """Content-addressed id: the same text in the same place keeps the same id."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    return f"{case_id}:{paragraph}:{digest}"


def embedding_text(chunk: Chunk) -> str:
    """What the model sees: the title (and unit, where the case has one) gives a bare figure its case context."""
    return f"{chunk.title}（{chunk.unit}）：{chunk.text}" if chunk.unit else f"{chunk.title}：{chunk.text}"


def _chunk(case: Case, paragraph: int, start: int, text: str) -> Chunk:
    return Chunk(
        chunk_id=chunk_id(case.id, paragraph, text),
        case_id=case.id,
        title=case.title,
        unit=case.unit,
        paragraph=paragraph,
        start=start,
        end=start + len(text),
        text=text,
    )

"""An editor's document (web page, Word, PDF, plain text, Markdown) as lines of text plus its properties.

Each reader uses a maintained library: trafilatura for a page's main text (navigation,
ads and footers dropped), python-docx for Word (paragraphs and tables in document
order), pypdf for a PDF's text layer. Only the line structure is ours: a PDF's
lines are the printed lines, so lines wrapped at the right margin are joined back
into paragraphs.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIXES = (".html", ".htm", ".docx", ".pdf", ".txt", ".md")
# A line that ends a paragraph in Chinese text (a PDF line ending otherwise was wrapped at the margin).
PARAGRAPH_END = re.compile(r"[。！？!?…”」』：:；;）)]$")
PAGE_NUMBER = re.compile(r"^(?:[-—–\s]*\d+[-—–\s]*|第\s*\d+\s*页(?:\s*[/共]\s*\d+\s*页?)?)$")
WRAPPED = 0.85  # a line at least this share of the page's longest line reached the margin


class UnreadableDocument(Exception):
    """The file cannot be read as its type; the message is Chinese, for the editor."""


@dataclass(frozen=True)
class Document:
    """What a reader found: the text as lines (one paragraph each), the title and the source it declares."""

    name: str
    kind: str
    lines: list[str]
    title: str = ""
    source: str = ""
    raw: str = ""  # a Markdown file that already is a case file: its text, to be copied unchanged


def read_document(name: str, data: bytes) -> Document:
    """Read ``data`` (the file's bytes) by the type its ``name`` says."""
    suffix = Path(name).suffix.lower()
    readers = {".html": _html, ".htm": _html, ".docx": _docx, ".pdf": _pdf, ".txt": _text, ".md": _markdown}
    if suffix not in readers:
        raise UnreadableDocument(f"不支持的文件类型 {suffix or '（无扩展名）'}：只能导入 {'、'.join(SUFFIXES)}")
    try:
        return readers[suffix](name, data)
    except UnreadableDocument:
        raise
    except Exception as exc:  # each library has its own errors for a damaged file; all mean the same to an editor
        raise UnreadableDocument(f"无法读取（文件损坏或不是 {suffix} 格式）：{type(exc).__name__}") from exc


def clean_lines(text: str) -> list[str]:
    """Non-blank lines, trimmed, with inner runs of spaces left as the source has them."""
    return [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument("无法识别文本编码（应为 UTF-8 或 GB18030）")


def _html(name: str, data: bytes) -> Document:
    import trafilatura

    text = trafilatura.extract(data, output_format="txt", include_comments=False, include_tables=True)
    if not text:
        raise UnreadableDocument("网页中没有找到正文")
    meta = trafilatura.extract_metadata(data)
    title = (meta.title or "").strip() if meta else ""
    source = (meta.sitename or "").strip() if meta else ""
    return Document(name, "html", _without_title(clean_lines(text), title), title, source)


def _docx(name: str, data: bytes) -> Document:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    lines, headings = [], []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines += [_table_row(row) for row in block.rows if _table_row(row)]
            continue
        text = block.text.strip()
        if not text:
            continue
        style = block.style.name if block.style is not None else ""
        if style.startswith(("Title", "Heading")):
            headings.append(text)
        lines.append(text)
    props = document.core_properties
    title = (props.title or "").strip() or (headings[0] if headings else "")
    return Document(name, "docx", _without_title(lines, title), title, (props.author or "").strip())


def _table_row(row: Any) -> str:
    """One table row as one line; a merged cell, which python-docx repeats per grid column, appears once."""
    cells: list[str] = []
    for cell in row.cells:
        text = " ".join(cell.text.split())
        if text and (not cells or cells[-1] != text):
            cells.append(text)
    return " | ".join(cells)


def _pdf(name: str, data: bytes) -> Document:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    lines: list[str] = []
    for page in reader.pages:
        page_lines = [line for line in clean_lines(page.extract_text() or "") if not PAGE_NUMBER.match(line)]
        lines += reflow(page_lines)
    if not lines:
        raise UnreadableDocument("PDF 没有文字层（可能是扫描件），请先做文字识别（OCR）")
    meta = reader.metadata
    title = str(meta.title or "").strip() if meta else ""
    source = str(meta.author or "").strip() if meta else ""
    return Document(name, "pdf", _without_title(lines, title), title, source)


def reflow(lines: list[str]) -> list[str]:
    """Join a page's printed lines back into paragraphs: a line that reaches the margin and does not end a sentence continues."""
    if not lines:
        return []
    margin = max(len(line) for line in lines) * WRAPPED
    out = [lines[0]]
    for previous, line in itertools.pairwise(lines):
        if len(previous) >= margin and not PARAGRAPH_END.search(previous):
            out[-1] += line
        else:
            out.append(line)
    return out


def _text(name: str, data: bytes) -> Document:
    lines = clean_lines(_decode(data))
    if not lines:
        raise UnreadableDocument("文件是空的")
    first = lines[0]
    title = first if len(first) <= 60 and not re.search(r"[。！？!?]", first) else ""
    return Document(name, "txt", _without_title(lines, title), title)


MARKDOWN_PREFIX = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*+]\s+)")
MARKDOWN_INLINE = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|`([^`]+)`")


def _markdown(name: str, data: bytes) -> Document:
    text = _decode(data)
    if text.startswith("---"):
        return Document(name, "md", clean_lines(text), raw=text.replace("\r\n", "\n"))
    lines, title = [], ""
    for raw in clean_lines(text):
        if not title and raw.startswith("# "):
            title = raw[2:].strip()
        line = MARKDOWN_INLINE.sub(lambda m: next(g for g in m.groups() if g is not None), MARKDOWN_PREFIX.sub("", raw))
        if line.strip():
            lines.append(line.strip())
    return Document(name, "md", _without_title(lines, title), title)


def _without_title(lines: list[str], title: str) -> list[str]:
    """The body without a first line that only repeats the title (it is in the front matter)."""
    return lines[1:] if lines and title and lines[0] == title and len(lines) > 1 else lines

"""``qa import``: web pages, Word files, PDFs, text and Markdown become case files under ``knowledge/``.

:func:`plan_import` reads the documents and proposes one case file each (or, with
``split``, an overview plus one file per numbered case), every file checked as a
build would check it; :func:`write_import` writes them. All or nothing: any
problem is reported with the rest, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..corpus import checked_case_text, readable_cases, write_case_file
from ..errors import CorpusError, FileProblem, ImportFailed
from ..models import Case
from .documents import SUFFIXES, Document, UnreadableDocument, read_document
from .frontmatter import Guess, Proposal, aliases_for, file_name, region_and_level, slug, unique_id
from .split import Section, declared_source, split_article, without_noise

__all__ = ["SUFFIXES", "Proposal", "describe", "plan_import", "propose", "write_import"]


def plan_import(paths: Sequence[Path], knowledge_dir: Path, split: bool = False) -> list[Proposal]:
    """The case files importing ``paths`` would write; raises ImportFailed listing every problem."""
    existing = readable_cases(knowledge_dir)
    taken = {c.id for c in existing}
    problems: list[FileProblem] = []
    proposals: list[Proposal] = []
    for path in paths:
        try:
            proposals += propose(read_document(path.name, path.read_bytes()), split, taken)
        except UnreadableDocument as exc:
            problems.append(FileProblem(path.name, str(exc)))
        except OSError as exc:
            problems.append(FileProblem(path.name, f"无法读取：{exc.strerror or exc}"))
        except CorpusError as exc:  # a Markdown file that is a case file, but an invalid one
            problems += [FileProblem(path.name, p.problem) for p in exc.problems]
    problems += _check(proposals, knowledge_dir, existing)
    if problems:
        raise ImportFailed(problems)
    return proposals


def write_import(knowledge_dir: Path, proposals: Sequence[Proposal]) -> None:
    knowledge_dir.mkdir(parents=True, exist_ok=True)
    for proposal in proposals:
        write_case_file(knowledge_dir, proposal.name, proposal.render())


def propose(document: Document, split: bool, taken: set[str]) -> list[Proposal]:
    """The case files for one document; ``taken`` (ids in use) grows with the ids proposed."""
    if document.raw:
        return [_as_is(document, taken)]
    source = declared_source(document.lines)
    source_why = "取自原文的“来源”一行" if source else f"取自{_KIND_NAMES[document.kind]}的属性"
    source = source or document.source
    article = split_article(document.lines) if split else None
    if article is None or not article.sections:
        single = Proposal(document.name)
        title, why = _title(document, "")
        single.set("title", title, why)
        single.set("source", source, source_why)
        single.paragraphs = without_noise(document.lines)
        _name(single, slug(title), taken)
        return [single]
    overview = Proposal(document.name)
    title, why = _title(document, article.list_heading)
    overview.set("title", title, why)
    overview.set("source", source, source_why)
    overview.paragraphs = article.overview
    _name(overview, "overview", taken, why="总述文件")
    cases = [_section(document.name, section, source, source_why, taken) for section in article.sections]
    return [overview, *cases]


_KIND_NAMES = {"html": "网页", "docx": "Word 文档", "pdf": "PDF 文档", "txt": "文本文件", "md": "Markdown 文件"}


def _title(document: Document, list_heading: str) -> tuple[str, str]:
    if document.title:
        return document.title, f"取自{_KIND_NAMES[document.kind]}的标题"
    if list_heading:
        return list_heading, "取自第一个编号案例上方的标题行"
    return Path(document.name).stem, "取自文件名（文档中没有标题）"


def _section(origin: str, section: Section, source: str, source_why: str, taken: set[str]) -> Proposal:
    proposal = Proposal(f"{origin} 第 {section.rank} 个案例")
    proposal.set("title", section.title, "取自编号标题的下一行")
    if section.listed_unit:
        proposal.set("unit", section.listed_unit, "取自概述名单中标题后括号里的单位")
    else:
        proposal.set("unit", section.heading, "取自编号标题")
    unit = proposal.value("unit") or ""
    region, level = region_and_level(section.heading, unit)
    proposal.set("region", region, f"由“{section.heading}”“{unit}”推断")
    proposal.set("level", level, f"由地区“{region}”推断")
    proposal.set("rank", section.rank, "原文编号")
    proposal.set("source", source, source_why)
    aliases = aliases_for(section.title, section.lines[2:])
    proposal.set("aliases", aliases, "标题中加引号、正文中也出现的名称")
    proposal.paragraphs = section.lines
    _name(proposal, slug(aliases[0] if aliases else section.title), taken, section.rank)
    return proposal


def _name(proposal: Proposal, base: str, taken: set[str], rank: int | None = None, why: str = "") -> None:
    case_id = unique_id(base, taken)
    why = why or "由简称或标题的拼音生成（发布后不要再改）"
    proposal.fields = {"id": Guess(case_id, why), **proposal.fields}
    proposal.name = file_name(case_id, rank)


def _as_is(document: Document, taken: set[str]) -> Proposal:
    """A Markdown file that already has front matter: checked, then copied unchanged."""
    text = document.raw
    case = checked_case_text(text, document.name)
    proposal = Proposal(document.name, text=text, name=file_name(case.id, case.rank))
    proposal.set("id", case.id, "文件自带")
    proposal.set("title", case.title, "文件自带")
    taken.add(case.id)
    return proposal


def _check(proposals: list[Proposal], knowledge_dir: Path, existing: list[Case]) -> list[FileProblem]:
    """Each file valid as a build reads it, its name free, its id and title not those of a case already there."""
    ids = {c.id: Path(c.path).name for c in existing}
    titles = {c.title: Path(c.path).name for c in existing}
    problems, names = [], set()
    for proposal in proposals:
        try:
            case = checked_case_text(proposal.render(), proposal.name)
        except CorpusError as exc:
            problems += [FileProblem(proposal.name, p.problem) for p in exc.problems]
            continue
        if proposal.name in names or (knowledge_dir / proposal.name).exists():
            problems.append(FileProblem(proposal.name, "文件已存在，不会覆盖（请先删除或改名）"))
        if case.id in ids:
            problems.append(FileProblem(proposal.name, f"id “{case.id}”已被 {ids[case.id]} 使用"))
        elif case.title in titles:
            problems.append(
                FileProblem(proposal.name, f"标题与 {titles[case.title]} 相同，可能已导入过（要替换请先删除旧文件）")
            )
        names.add(proposal.name)
    return problems


def describe(proposals: Sequence[Proposal], dry_run: bool) -> str:
    """What was (or would be) written, and each guessed field with its reason, for the editor to check."""
    verb = "将写入" if dry_run else "已写入"
    lines = [f"{'预演（未写入）' if dry_run else '导入完成'}：{len(proposals)} 个案例文件"]
    for proposal in proposals:
        lines.append(f"{verb} {proposal.name}（来自 {proposal.origin}，正文 {len(proposal.paragraphs)} 段）")
        for key, guess in proposal.fields.items():
            value = "、".join(guess.value) if isinstance(guess.value, list) else guess.value
            lines.append(f"  {key}: {value}    ← {guess.why}")
    lines.append("请核对以上推测的字段（尤其是 id、unit、region、level），需要时直接编辑文件，然后运行 qa index。")
    return "\n".join(lines)

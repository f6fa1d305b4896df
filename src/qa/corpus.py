"""Reading and validating ``knowledge/``.

Validation collects *every* problem before raising, so an editor fixes a broken
batch in one pass instead of one error per run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .errors import CorpusError, FileProblem, InvalidUpload
from .models import Case

# The schema, as knowledge/README.md states it (tests/test_corpus.py checks the two agree).
REQUIRED = ("id", "title")
OPTIONAL = ("unit", "region", "level", "rank", "source", "aliases")
# Longest value accepted per field: titles are a line of the article, the rest a short label.
MAX_CHARS = {"id": 64, "title": 200, "unit": 100, "region": 100, "level": 20, "source": 100}
MAX_EXTRA_CHARS = 200
MAX_ALIASES, MAX_ALIAS_CHARS = 20, 50
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Files an editor keeps beside the cases that are not cases themselves.
NOT_CASES = {"README.md", "checks.jsonl"}
# An uploaded file's name: "NN-id.md" and nothing else, so it can never leave knowledge/.
UPLOAD_NAME = re.compile(r"(\d{2})-([a-z0-9][a-z0-9-]{0,63})\.md")  # always used with fullmatch
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)(.*)\Z", re.S)


class _Invalid(Exception):
    """Internal: one file's problem, turned into a FileProblem by the caller."""


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without YAML aliases: ``*a`` repeated inside ``*b`` turns a few hundred bytes into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "不允许使用 YAML 别名（*名称）", mark)
        return super().compose_node(parent, index)


def load_cases(knowledge_dir: Path) -> list[Case]:
    """All cases in ``knowledge_dir``, sorted by rank then id; raises CorpusError listing every bad file."""
    if not knowledge_dir.is_dir():
        raise CorpusError([FileProblem(str(knowledge_dir), "知识库目录不存在")])
    cases: list[Case] = []
    problems: list[FileProblem] = []
    for path in sorted(knowledge_dir.iterdir()):
        if path.name.startswith(".") or path.name in NOT_CASES or path.is_dir():
            continue
        try:
            cases.append(parse_case_file(path))
        except _Invalid as exc:
            problems.append(FileProblem(path.name, str(exc)))
    problems.extend(_duplicate_ids(cases))
    if problems:
        raise CorpusError(problems)
    return sorted(cases, key=lambda c: (c.rank is None, c.rank or 0, c.id))


def parse_case_file(path: Path) -> Case:
    """One case from one file, or ``_Invalid`` saying (in Chinese) what is wrong."""
    if path.suffix.lower() != ".md":
        raise _Invalid("不是 Markdown 文件（案例文件必须以 .md 结尾）")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"不是 UTF-8 编码（第 {exc.start} 字节无法解码）") from exc
    meta, body = split_front_matter(text.replace("\r\n", "\n"))
    return _build_case(meta, body, path, hashlib.sha256(raw).hexdigest())


def parse_case_text(text: str, name: str = "upload.md") -> Case:
    """Parse a case from text (admin preview); same rules as files."""
    meta, body = split_front_matter(text.replace("\r\n", "\n"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _build_case(meta, body, name, digest)


def checked_case_text(text: str, name: str) -> Case:
    """``parse_case_text``, raising CorpusError (the public error) for an invalid file."""
    try:
        return parse_case_text(text, name)
    except _Invalid as exc:
        raise CorpusError([FileProblem(name, str(exc))]) from None


def check_upload(knowledge_dir: Path, name: str, text: str) -> Case:
    """An uploaded case, checked as a build would and against the files already there.

    Raises InvalidUpload listing every problem (in Chinese); nothing is written.
    """
    shown = name[:80]
    problems = [FileProblem(shown, p) for p in _name_problems(name)]
    try:
        case = parse_case_text(text, name)
    except _Invalid as exc:
        raise InvalidUpload([*problems, FileProblem(shown, str(exc))]) from None
    match = UPLOAD_NAME.fullmatch(name)
    if match:
        problems += [FileProblem(name, p) for p in _name_matches_case(match, case)]
    problems += _id_taken(knowledge_dir, name, case.id)
    if problems:
        raise InvalidUpload(problems)
    return case


def save_upload(knowledge_dir: Path, name: str, text: str) -> Case:
    """Check an uploaded case, then write it to ``knowledge_dir/name`` atomically."""
    case = check_upload(knowledge_dir, name, text)
    if (knowledge_dir / name).parent.resolve() != knowledge_dir.resolve():  # the name pattern already forbids this
        raise InvalidUpload([FileProblem(name, "文件名不能包含目录")])
    write_case_file(knowledge_dir, name, text)
    return case


def write_case_file(knowledge_dir: Path, name: str, text: str) -> None:
    """Write ``knowledge_dir/name`` atomically (uploads and ``qa import``).

    The temporary file starts with "." so a build running meanwhile skips it, and
    ``os.replace`` means a build sees the old file or the new one, never half of one.
    """
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=knowledge_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other editors' accounts
        os.replace(tmp, knowledge_dir / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _name_problems(name: str) -> list[str]:
    if UPLOAD_NAME.fullmatch(name):
        return []
    if "/" in name or "\\" in name or ".." in name:
        return ["文件名不能包含目录或“..”"]
    return ["文件名应为“两位序号-案例id.md”，如 04-jingkuaiban.md（id 只用小写字母、数字和连字符）"]


def _name_matches_case(match: re.Match[str], case: Case) -> list[str]:
    """The file name repeats the case's id and rank, as knowledge/README.md asks."""
    problems = []
    if match.group(2) != case.id:
        problems.append(f"文件名中的 id “{match.group(2)}”与头信息中的 id “{case.id}”不一致")
    if int(match.group(1)) != (case.rank or 0):
        problems.append(f"文件名序号 {match.group(1)} 与 rank（{case.rank or '空'}）不一致：总览用 00，其余用 rank")
    return problems


def _id_taken(knowledge_dir: Path, name: str, case_id: str) -> list[FileProblem]:
    """Another file already uses this id (replacing the same file is an edit, not a clash)."""
    if not knowledge_dir.is_dir():
        return [FileProblem(str(knowledge_dir), "知识库目录不存在")]
    other = case_ids(knowledge_dir, skip=name).get(case_id)
    return [FileProblem(name, f"id “{case_id}”已被 {other} 使用")] if other else []


def case_ids(knowledge_dir: Path, skip: str = "") -> dict[str, str]:
    """Id → file name of every readable case file in ``knowledge_dir``."""
    found: dict[str, str] = {}
    for case in readable_cases(knowledge_dir, skip):
        found.setdefault(case.id, Path(case.path).name)
    return found


def readable_cases(knowledge_dir: Path, skip: str = "") -> list[Case]:
    """Every case file in ``knowledge_dir`` that parses (broken files are the build's to report)."""
    cases = []
    for path in sorted(knowledge_dir.glob("*.md")) if knowledge_dir.is_dir() else []:
        if path.name == skip or path.name in NOT_CASES or path.name.startswith("."):
            continue
        with contextlib.suppress(_Invalid, OSError):
            cases.append(parse_case_file(path))
    return cases


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(text)
    if not match:
        raise _Invalid("缺少 YAML 头信息（文件应以 --- 开头，并以 --- 结束头信息）")
    try:
        meta = yaml.load(match.group(1), Loader=_NoAliasLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _Invalid(f"YAML 头信息格式错误：{_short_yaml_error(exc)}") from exc
    except RecursionError as exc:  # hundreds of nested "[": a problem in the file, not a crash
        raise _Invalid("YAML 头信息嵌套过深") from exc
    if not isinstance(meta, dict):
        raise _Invalid("YAML 头信息必须是“键: 值”形式")
    return meta, normalise_body(match.group(2))


def normalise_body(body: str) -> str:
    """Trim lines and collapse runs of blank lines, so paragraph numbers are stable."""
    lines = [line.rstrip() for line in body.strip().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _build_case(meta: dict[str, Any], body: str, path: Path | str, digest: str) -> Case:
    case_id = _required(meta, "id")
    if not ID_PATTERN.match(case_id):
        raise _Invalid(f"id “{case_id}”无效：只能用小写英文字母、数字和连字符")
    title = _required(meta, "title")
    if not body:
        raise _Invalid("正文为空")
    return Case(
        id=case_id,
        title=title,
        unit=_optional(meta, "unit"),
        region=_optional(meta, "region"),
        level=_optional(meta, "level"),
        rank=_rank(meta.get("rank")),
        source=_optional(meta, "source"),
        body=body,
        path=str(path),
        content_hash=digest,
        aliases=_aliases(meta.get("aliases")),
        fields=_extra_fields(meta),
    )


def _scalar(meta: dict[str, Any], key: str, limit: int) -> str:
    """A field's value as text: a string or a number, no longer than ``limit``."""
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple, set)):
        raise _Invalid(f"{key} 应为一段文字，不能是列表或键值对")
    text = str(value).strip()
    if len(text) > limit:
        raise _Invalid(f"{key} 过长（{len(text)} 字，最多 {limit} 字）")
    return text


def _required(meta: dict[str, Any], key: str) -> str:
    text = _scalar(meta, key, MAX_CHARS[key])
    if not text:
        raise _Invalid(f"缺少 {key}")
    return text


def _optional(meta: dict[str, Any], key: str) -> str:
    return _scalar(meta, key, MAX_CHARS[key])


def _extra_fields(meta: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Fields the schema does not name, kept in file order (shown with the case, never interpreted)."""
    extra = []
    for key in meta:
        name = str(key).strip()
        if name in REQUIRED or name in OPTIONAL:
            continue
        if not name or len(name) > 30:
            raise _Invalid(f"字段名“{name[:30]}”无效：应为 1–30 个字符")
        value = _scalar(meta, key, MAX_EXTRA_CHARS)
        if value:
            extra.append((name, value))
    return tuple(extra)


def _rank(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(f"rank “{value}”无效：应为正整数，或留空（总览）")
    return value


def _aliases(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
        raise _Invalid("aliases 应为字符串列表")
    aliases = tuple(str(v).strip() for v in value if str(v).strip())
    if len(aliases) > MAX_ALIASES or any(len(a) > MAX_ALIAS_CHARS for a in aliases):
        raise _Invalid(f"aliases 过多或过长（最多 {MAX_ALIASES} 个，每个最多 {MAX_ALIAS_CHARS} 字）")
    return aliases


def _duplicate_ids(cases: list[Case]) -> list[FileProblem]:
    seen: dict[str, str] = {}
    problems = []
    for case in cases:
        name = Path(case.path).name
        if case.id in seen:
            problems.append(FileProblem(name, f"id “{case.id}”与 {seen[case.id]} 重复"))
        else:
            seen[case.id] = name
    return problems


def _short_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"第 {mark.line + 1} 行" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "无法解析"
    return f"{where}{problem}"

"""Reading and validating ``knowledge/``.

Validation collects *every* problem before raising, so an editor fixes a broken
batch in one pass instead of one error per run.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import html
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .errors import CorpusError, FileProblem, InvalidUpload
from .models import Case

# The schema, as knowledge/README.md states it (tests/test_corpus.py checks the two agree).
REQUIRED = ("id", "title")
OPTIONAL = ("unit", "region", "level", "rank", "source", "aliases", "batch")
# Longest value accepted per field: titles are a line of the article, the rest a short label.
MAX_CHARS = {"id": 64, "title": 200, "unit": 100, "region": 100, "level": 20, "source": 100, "batch": 100}
MAX_EXTRA_CHARS = 200
MAX_ALIASES, MAX_ALIAS_CHARS = 20, 50
# A selection is "十大": ranks 1-10, each once, within a batch; the next year's ten get their own batch.
MAX_RANK = 10
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Files an editor keeps beside the cases that are not cases themselves.
NOT_CASES = {"README.md", "checks.jsonl"}
# An uploaded file's name: "NN-id.md" and nothing else, so it can never leave knowledge/.
UPLOAD_NAME = re.compile(r"(\d{2})-([a-z0-9][a-z0-9-]{0,63})\.md")  # always used with fullmatch
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)(.*)\Z", re.S)

# What a paste from Word or a web page brings along (cleaned by ``clean_paste``).
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
ODD_SPACE = "\u00a0\u202f\u2007\u2009\u200a\u3000"  # no-break, narrow, figure, thin, hair, full-width
SPACE_IN_NUMBER = re.compile(
    f"(?<=\\d)[{ODD_SPACE}]+(?=[\\d\u4e00-\u9fff%％])|(?<=[\u4e00-\u9fff])[{ODD_SPACE}]+(?=\\d)"
)
HTML_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*(?::[A-Za-z0-9]+)?)(?:\s[^<>]*)?/?>")
HTML_BREAK = re.compile(r"br|p|div|li|tr", re.I)
HTML_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,7}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
ENCODING_HINT = "请用记事本或 WPS 打开该文件，选择“另存为”，编码选“UTF-8”后保存，再重新上传或运行 qa index"
# PyYAML's messages, in Chinese (anything else gets a general Chinese hint, never English).
YAML_PROBLEMS = (
    ("could not find expected ':'", "找不到英文冒号“:”（键和值之间要用英文冒号加一个空格，如 title: 标题）"),
    ("mapping values are not allowed here", "此处不能再出现“:”（值里有英文冒号时，请给整个值加英文双引号）"),
    ("found character '\\t'", "不能用制表符（Tab），请改用空格"),
    ("did not find expected key", "缩进不一致或缺少键名"),
    ("did not find expected ',' or ']'", "方括号列表没有闭合，或缺少英文逗号"),
    ("did not find expected ',' or '}'", "花括号没有闭合，或缺少英文逗号"),
    ("found unexpected end of stream", "引号没有闭合"),
    ("found unknown escape character", "双引号内有无效的反斜杠转义（\\ 请写成 \\\\）"),
    ("found unexpected ':'", "冒号位置不对"),
    ("expected <block end>, but found", "缩进不一致"),
    ("while scanning a quoted scalar", "引号没有闭合"),
)


class _Invalid(Exception):
    """Internal: one file's problem, turned into a FileProblem by the caller."""


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without YAML aliases: ``*a`` repeated inside ``*b`` turns a few hundred bytes into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "不允许使用 YAML 别名（*名称）", mark)
        return super().compose_node(parent, index)


def load_cases(knowledge_dir: Path, notices: list[str] | None = None) -> list[Case]:
    """All cases in ``knowledge_dir``, sorted by batch, rank and id; raises CorpusError listing every bad file.

    ``notices`` collects what was repaired on reading (a GB18030 file, pasted HTML or
    odd spaces), one line per file, for the build report.
    """
    if not knowledge_dir.is_dir():
        raise CorpusError([FileProblem(str(knowledge_dir), "知识库目录不存在")])
    cases: list[Case] = []
    problems: list[FileProblem] = []
    for path in sorted(knowledge_dir.iterdir()):
        if path.name.startswith(".") or path.name in NOT_CASES or path.is_dir():
            continue
        try:
            case, repaired = read_case_file(path)
        except _Invalid as exc:
            problems.append(FileProblem(path.name, str(exc)))
            continue
        cases.append(case)
        if notices is not None and repaired:
            notices.append(f"{path.name}：{'；'.join(repaired)}（索引使用修正后的文字；建议也修改文件本身）")
    problems.extend(_duplicate_ids(cases))
    problems.extend(rank_problems(cases))
    if problems:
        raise CorpusError(problems)
    return sorted(cases, key=lambda c: (c.batch, c.rank is None, c.rank or 0, c.id))


def parse_case_file(path: Path) -> Case:
    """One case from one file, or ``_Invalid`` saying (in Chinese) what is wrong."""
    return read_case_file(path)[0]


def read_case_file(path: Path) -> tuple[Case, list[str]]:
    """One case from one file and what was repaired on reading (encoding, pasted formatting)."""
    if path.suffix.lower() != ".md":
        raise _Invalid("不是 Markdown 文件（案例文件必须以 .md 结尾）")
    raw = path.read_bytes()
    text, notices = decode_case_bytes(raw)
    text, repaired = clean_paste(text)
    meta, body = split_front_matter(text)
    return _build_case(meta, body, path, hashlib.sha256(raw).hexdigest()), notices + repaired


def decode_case_bytes(raw: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM), else GB18030/GBK with a notice; anything else is ``_Invalid`` with a fix."""
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        mostly_utf8 = raw.decode("utf-8", errors="replace").count("\ufffd") <= 2 and any(b >= 0xE0 for b in raw)
        if not mostly_utf8:
            with contextlib.suppress(UnicodeDecodeError):
                text = raw.decode("gb18030")
                if re.search(r"[\u4e00-\u9fff]", text):
                    return text, ["文件是 GBK/GB18030 编码，已自动按 GB18030 读取并转换为 UTF-8"]
        raise _Invalid(f"第 {line} 行不是 UTF-8 编码（无法解码）。{ENCODING_HINT}") from exc


def clean_paste(text: str) -> tuple[str, list[str]]:
    """``text`` without what a paste from Word or a web page brings, and what was removed (Chinese, with lines).

    Windows line endings; zero-width characters; HTML tags (``<br>``/``</p>`` become line
    breaks, every other tag goes, its text stays) and entities (``&nbsp;`` …); no-break,
    thin and full-width spaces: removed inside numbers ("42\u00a0名" → "42名") and at the
    start of a line, a plain space elsewhere.
    """
    found: dict[str, list[int]] = {}
    tags: dict[str, None] = {}
    lines = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if HTML_TAG.search(line):
            tags.update((f"<{m.group(1).lower()}>", None) for m in HTML_TAG.finditer(line))
            found.setdefault("tag", []).append(number)
            line = HTML_TAG.sub(lambda m: "\n" if HTML_BREAK.fullmatch(m.group(1)) else "", line)
        if HTML_ENTITY.search(line):
            found.setdefault("entity", []).append(number)
            line = HTML_ENTITY.sub(lambda m: html.unescape(m.group(0)), line)
        if ZERO_WIDTH.search(line):
            found.setdefault("zero", []).append(number)
            line = ZERO_WIDTH.sub("", line)
        if re.search(f"[{ODD_SPACE}]", line):
            found.setdefault("space", []).append(number)
            line = SPACE_IN_NUMBER.sub("", line)
            line = "\n".join(re.sub(f"^[{ODD_SPACE}]+", "", part) for part in line.split("\n"))
            line = re.sub(f"[{ODD_SPACE}]", " ", line)
        lines.append(line)
    labels = {
        "tag": f"去除了 HTML 标签 {'、'.join(list(tags)[:6])}",
        "entity": "HTML 实体（如 &nbsp;）已换成对应字符",
        "zero": "去除了零宽字符",
        "space": "不间断空格/全角空格已规范（数字中的删去）",
    }
    notices = [f"{labels[kind]}：{_line_list(numbers)}" for kind, numbers in found.items()]
    return "\n".join(lines), notices


def _line_list(numbers: list[int]) -> str:
    shown = "、".join(str(n) for n in numbers[:8])
    return f"第 {shown}{' 等' if len(numbers) > 8 else ''} 行"


def parse_case_text(text: str, name: str = "upload.md") -> Case:
    """Parse a case from text (admin preview); same rules as files, pasted formatting cleaned the same way."""
    cleaned, _ = clean_paste(text)
    meta, body = split_front_matter(cleaned)
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
    garbled = [n for n, line in enumerate(text.split("\n"), start=1) if "\ufffd" in line]
    if garbled:  # the browser read a GBK file as UTF-8: refuse the mojibake instead of a puzzling field error
        problems.append(
            FileProblem(shown, f"第 {_line_list(garbled)[2:]}含乱码（�），文件可能不是 UTF-8 编码。{ENCODING_HINT}")
        )
        raise InvalidUpload(problems)
    try:
        case = parse_case_text(text, name)
    except _Invalid as exc:
        raise InvalidUpload([*problems, FileProblem(shown, str(exc))]) from None
    match = UPLOAD_NAME.fullmatch(name)
    if match:
        problems += [FileProblem(name, p) for p in _name_matches_case(match, case)]
    problems += _id_taken(knowledge_dir, name, case.id)
    if case.rank is not None and knowledge_dir.is_dir():
        others = [c for c in readable_cases(knowledge_dir, skip=name) if c.id != case.id]
        problems += [FileProblem(name, p) for p in _upload_rank_problems(case, others)]
    if problems:
        raise InvalidUpload(problems)
    return case


def save_upload(knowledge_dir: Path, name: str, text: str) -> Case:
    """Check an uploaded case, then write it, pasted formatting cleaned, to ``knowledge_dir/name`` atomically."""
    case = check_upload(knowledge_dir, name, text)
    if (knowledge_dir / name).parent.resolve() != knowledge_dir.resolve():  # the name pattern already forbids this
        raise InvalidUpload([FileProblem(name, "文件名不能包含目录")])
    write_case_file(knowledge_dir, name, clean_paste(text)[0])
    return case


def write_case_file(knowledge_dir: Path, name: str, text: str) -> None:
    """Write ``knowledge_dir/name`` atomically (uploads and ``qa import``).

    The temporary file starts with "." so a build running meanwhile skips it, and
    ``os.replace`` means a build sees the old file or the new one, never half of one.
    """
    _write_atomic(knowledge_dir, name, text.encode("utf-8"))


def _write_atomic(knowledge_dir: Path, name: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=knowledge_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other editors' accounts
        os.replace(tmp, knowledge_dir / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _upload_rank_problems(case: Case, others: list[Case]) -> list[str]:
    """The uploaded case's rank against the other files of its batch (as ``rank_problems`` judges a build)."""
    batch = [c for c in others if c.rank is not None and c.batch == case.batch]
    label = f"批次“{case.batch}”" if case.batch else "未写 batch 的案例"
    taken = next((Path(c.path).name for c in batch if c.rank == case.rank), None)
    if taken:
        return [f"rank {case.rank} 与 {taken} 重复：{label}中每个序号只能用一次（新的一批请写 batch）"]
    if (case.rank or 0) > MAX_RANK:
        return [_out_of_range(case.rank or 0, label)]
    return []


def _out_of_range(rank: int, label: str) -> str:
    return (
        f"rank {rank} 超出范围：{label}是一批“十大”，序号应为 1–{MAX_RANK}"
        '（新的一批请在头信息中写 batch，如 batch: "2024年十大改革最佳实践"，序号从 1 开始）'
    )


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
        batch=_optional(meta, "batch"),
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


def checks_problems(knowledge_dir: Path, case_ids: set[str], text: str | None = None) -> list[FileProblem]:
    """Every problem of ``checks.jsonl`` (or of ``text``, its proposed content), one per line, naming the line.

    Each non-empty line is a JSON object with a non-empty ``question`` and an ``expect_case``
    that is the id of a case in ``case_ids``.
    """
    if text is None:
        path = knowledge_dir / "checks.jsonl"
        if not path.is_file():
            return []
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            return [FileProblem("checks.jsonl", f"不是 UTF-8 编码。{ENCODING_HINT}")]
    problems = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        where = f"第 {number} 行"
        try:
            item = json.loads(line)
        except ValueError:
            problems.append(
                FileProblem(
                    "checks.jsonl",
                    f'{where}不是有效的 JSON（应为一行 {{"question": "…", "expect_case": "案例id"}}，'
                    "引号、冒号、逗号用英文半角）",
                )
            )
            continue
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item["question"].strip():
            problems.append(FileProblem("checks.jsonl", f"{where}缺少 question（检查问题的文字）"))
            continue
        expected = item.get("expect_case")
        if not isinstance(expected, str) or not expected.strip():
            problems.append(FileProblem("checks.jsonl", f"{where}缺少 expect_case（期望检索到的案例 id）"))
        elif expected not in case_ids:
            near = difflib.get_close_matches(expected, sorted(case_ids), n=1)
            hint = f"，是不是“{near[0]}”？" if near else "，请改为某个案例文件头信息中的 id"
            problems.append(FileProblem("checks.jsonl", f"{where}的 expect_case “{expected}”不是任何案例的 id{hint}"))
    return problems


def rank_problems(cases: list[Case]) -> list[FileProblem]:
    """Within each batch, each rank is used once and lies in 1..MAX_RANK (a selection of ten)."""
    by_batch: dict[str, list[Case]] = {}
    for case in cases:
        if case.rank is not None:
            by_batch.setdefault(case.batch, []).append(case)
    problems = []
    for batch, members in by_batch.items():
        label = f"批次“{batch}”" if batch else "未写 batch 的案例"
        seen: dict[int, str] = {}
        for case in sorted(members, key=lambda c: (c.rank or 0, Path(c.path).name)):
            name, rank = Path(case.path).name, case.rank or 0
            if rank in seen:
                problems.append(FileProblem(name, f"rank {rank} 与 {seen[rank]} 重复：{label}中每个序号只能用一次"))
            elif rank > MAX_RANK:
                problems.append(FileProblem(name, _out_of_range(rank, label)))
            seen.setdefault(rank, name)
    return problems


def _short_yaml_error(exc: yaml.YAMLError) -> str:
    """PyYAML's complaint in Chinese, with the line (English never reaches the editor)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"第 {mark.line + 2} 行" if mark is not None else ""  # +1: 1-based, +1: the opening ---
    problem = str(getattr(exc, "problem", None) or "")
    if "别名" in problem:
        return f"{where}{problem}"
    said = next((chinese for english, chinese in YAML_PROBLEMS if problem.startswith(english)), "")
    return f"{where}{said or '无法解析'}（请检查英文冒号、引号和缩进；冒号后要有一个空格，不要用中文冒号“：”）"


# ---- the admin workbench: files, saved atomically, each change undoable once ----------------

CHECKS = "checks.jsonl"
UNDO_DIR = ".undo"  # knowledge/.undo/<name>.json: the file as it was before its last change (builds skip dot names)


def editable_name(name: str) -> bool:
    """A file the workbench may read, write or delete: a case file name, or checks.jsonl."""
    return name == CHECKS or UPLOAD_NAME.fullmatch(name) is not None


def _editable(name: str) -> str:
    if not editable_name(name):
        raise InvalidUpload([FileProblem(name[:80], "文件名应为“两位序号-案例id.md”或 checks.jsonl")])
    return name


def list_case_files(knowledge_dir: Path) -> list[dict[str, Any]]:
    """Every case file with what an editor sorts by (title, unit, batch, rank, last change) or its problem."""
    rows: list[dict[str, Any]] = []
    for path in sorted(knowledge_dir.glob("*.md")) if knowledge_dir.is_dir() else []:
        if path.name in NOT_CASES or path.name.startswith("."):
            continue
        row: dict[str, Any] = {"name": path.name, "modified": _mtime(path), "problem": ""}
        try:
            case, _ = read_case_file(path)
            row |= {"id": case.id, "title": case.title, "unit": case.unit, "batch": case.batch, "rank": case.rank}
            row["content_hash"] = case.content_hash  # compared with the served index: "changed, not rebuilt yet"
        except (_Invalid, OSError) as exc:
            row |= {"id": "", "title": "", "unit": "", "batch": "", "rank": None, "problem": str(exc)}
            row["content_hash"] = ""
        rows.append(row)
    return rows


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S")


def read_knowledge_file(knowledge_dir: Path, name: str) -> str | None:
    """A case file's or checks.jsonl's text as the editor will see it (decoded, pasted formatting cleaned); None if absent."""
    path = knowledge_dir / _editable(name)
    if not path.is_file():
        return None
    raw = path.read_bytes()
    if name == CHECKS:
        return raw.decode("utf-8-sig", errors="replace")
    try:
        text, _ = decode_case_bytes(raw)
    except _Invalid:
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def diff_text(old: str | None, new: str, name: str) -> str:
    """A unified diff of the saved file against ``new`` ("" when the same; the whole file when new)."""
    before = (old or "").splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    label = "（新文件）" if old is None else f"已保存的 {name}"
    return "".join(difflib.unified_diff(before, after, label, f"编辑后的 {name}", n=2))


def save_checks(knowledge_dir: Path, text: str) -> None:
    """Write checks.jsonl after validating every line against the cases there; InvalidUpload lists the lines."""
    ids = {c.id for c in readable_cases(knowledge_dir)}
    problems = checks_problems(knowledge_dir, ids, text)
    if problems:
        raise InvalidUpload(problems)
    _keep_for_undo(knowledge_dir, CHECKS)
    write_case_file(knowledge_dir, CHECKS, text.replace("\r\n", "\n"))


def save_case(knowledge_dir: Path, name: str, text: str) -> Case:
    """``save_upload``, keeping the previous version of the file for ``undo_change``."""
    check_upload(knowledge_dir, name, text)  # an invalid file keeps nothing and writes nothing
    _keep_for_undo(knowledge_dir, name)
    return save_upload(knowledge_dir, name, text)


def delete_file(knowledge_dir: Path, name: str) -> None:
    """Delete a case file (kept for ``undo_change``); checks.jsonl cannot be deleted, only emptied."""
    path = knowledge_dir / _editable(name)
    if name == CHECKS or not path.is_file():
        raise InvalidUpload([FileProblem(name, "文件不存在或不能删除")])
    _keep_for_undo(knowledge_dir, name)
    path.unlink()


def undoable(knowledge_dir: Path) -> list[str]:
    """Files whose last change can be undone."""
    folder = knowledge_dir / UNDO_DIR
    return sorted(p.name[: -len(".json")] for p in folder.glob("*.json")) if folder.is_dir() else []


def undo_change(knowledge_dir: Path, name: str) -> str:
    """Put ``name`` back as it was before its last change (a new file is removed); returns what was done."""
    kept = knowledge_dir / UNDO_DIR / f"{_editable(name)}.json"
    if not kept.is_file():
        raise InvalidUpload([FileProblem(name, "没有可撤销的修改")])
    before = json.loads(kept.read_text(encoding="utf-8"))
    if before["bytes"] is None:
        (knowledge_dir / name).unlink(missing_ok=True)
        done = f"已撤销：删除了新加的 {name}"
    else:
        _write_atomic(knowledge_dir, name, base64.b64decode(before["bytes"]))
        done = f"已撤销：{name} 恢复为修改前的内容"
    kept.unlink()
    return done


def _keep_for_undo(knowledge_dir: Path, name: str) -> None:
    path = knowledge_dir / name
    data = base64.b64encode(path.read_bytes()).decode("ascii") if path.is_file() else None  # byte for byte
    folder = knowledge_dir / UNDO_DIR
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"bytes": data}), encoding="utf-8")

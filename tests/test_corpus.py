from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import KNOWLEDGE, write_case

from qa.corpus import OPTIONAL, REQUIRED, check_upload, load_cases, parse_case_text
from qa.errors import CorpusError, InvalidUpload


def test_real_knowledge_base_is_valid() -> None:
    cases = load_cases(KNOWLEDGE)
    ranked = [c for c in cases if c.rank is not None]
    assert [c.rank for c in ranked] == list(range(1, 11))
    assert {c.level for c in cases} == {"市级", "区", "县"}
    assert all(c.source == "上游新闻" and c.body for c in cases)
    assert len({c.id for c in cases}) == len(cases) == 11


def test_bodies_are_verbatim_from_the_article() -> None:
    article = KNOWLEDGE.parent.parent / "shared" / "seeds" / "000_e5fba4b558f07484.txt"
    if not article.exists():
        pytest.skip("seed article not beside the checkout")
    text = article.read_text(encoding="utf-8")
    for case in load_cases(KNOWLEDGE):
        for paragraph in case.paragraphs:
            assert paragraph in text, (case.id, paragraph)


def _problems(folder: Path) -> dict[str, str]:
    with pytest.raises(CorpusError) as info:
        load_cases(folder)
    assert "索引未更新" in info.value.user_message
    return {p.path: p.problem for p in info.value.problems}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("没有头信息的正文", "缺少 YAML 头信息"),
        ("---\nid: [unclosed\n---\n正文", "YAML 头信息格式错误"),
        ("---\nid: x1\nunit: u\nlevel: 区\n---\n正文", "缺少 title"),
        ("---\nid: x1\ntitle: 标题\nunit: u\nlevel: 区\n---\n\n   \n", "正文为空"),
        ("---\nid: X 1\ntitle: 标题\nunit: u\nlevel: 区\n---\n正文", "id"),
        ("---\nid: x1\ntitle: [a, b]\n---\n正文", "title 应为一段文字"),
        ("---\nid: x1\ntitle: 标题\nlevel: " + "长" * 21 + "\n---\n正文", "level 过长"),
        ("---\nid: x1\ntitle: &t 标题\nunit: *t\n---\n正文", "不允许使用 YAML 别名"),
        ("---\nid: x1\ntitle: 标题\nextra: " + "[" * 2000 + "\n---\n正文", "YAML 头信息"),
        ("---\nid: x1\ntitle: 标题\naliases: [[a]]\n---\n正文", "aliases"),
    ],
)
def test_each_bad_front_matter_is_named(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "bad.md").write_text(content, encoding="utf-8")
    assert expected in _problems(tmp_path)["bad.md"]


def test_non_utf8_non_markdown_and_duplicates_are_all_reported_together(tmp_path: Path) -> None:
    write_case(tmp_path, "a.md", "same", "标题一", "正文一。")
    write_case(tmp_path, "b.md", "same", "标题二", "正文二。")
    # neither UTF-8 nor GB18030 (a GBK file is read: tests/test_editing.py)
    (tmp_path / "c.md").write_bytes(b"---\nid: c\n---\n\xff\xfe\x80")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    problems = _problems(tmp_path)
    assert "重复" in problems["b.md"]
    assert "UTF-8" in problems["c.md"]
    assert "Markdown" in problems["notes.txt"]


def test_readme_checks_and_hidden_files_are_not_cases(tmp_path: Path) -> None:
    write_case(tmp_path, "a.md", "a", "标题", "正文。")
    (tmp_path / "README.md").write_text("# 说明", encoding="utf-8")
    (tmp_path / "checks.jsonl").write_text("", encoding="utf-8")
    (tmp_path / ".gitkeep").write_text("", encoding="utf-8")
    assert [c.id for c in load_cases(tmp_path)] == ["a"]


def test_only_id_and_title_are_required_and_level_is_any_label(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nid: a\ntitle: 系外行星 HAT-P-2b\n---\n正文。", encoding="utf-8")
    (tmp_path / "b.md").write_text(
        "---\nid: b\ntitle: 标题\nlevel: 省级\n分类: 天文\nyear: 2007\n---\n正文。", encoding="utf-8"
    )
    first, second = load_cases(tmp_path)
    assert (first.unit, first.region, first.level, first.source, first.fields) == ("", "", "", "", ())
    assert second.level == "省级"
    assert second.fields == (("分类", "天文"), ("year", "2007"))  # unknown fields kept, in file order
    assert second.meta()["fields"] == {"分类": "天文", "year": "2007"}


def test_readme_and_code_agree_on_the_fields() -> None:
    """knowledge/README.md's field table names the same required and optional fields as the code."""
    readme = (KNOWLEDGE / "README.md").read_text(encoding="utf-8")
    table = readme.split("## 前置元数据字段", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| `")]
    fields = {row[1].strip().strip("`"): row[3] for row in rows}
    assert sorted(fields) == sorted((*REQUIRED, *OPTIONAL))
    assert sorted(f for f, rule in fields.items() if "必填" in rule) == sorted(REQUIRED)
    assert "其他字段" in readme  # unknown fields are documented as kept


def test_an_alias_bomb_is_rejected_small(tmp_path: Path) -> None:
    bomb = "---\nid: x1\na: &a [x, x, x, x, x, x, x, x, x]\n"
    bomb += "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)
    )
    bomb += "title: *i\n---\n正文"
    with pytest.raises(Exception, match="别名"):
        parse_case_text(bomb)


def test_an_upload_name_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    text = "---\nid: test-x\ntitle: 标题\nrank: 1\n---\n正文。"
    assert check_upload(tmp_path, "01-test-x.md", text).id == "test-x"
    with pytest.raises(InvalidUpload) as info:
        check_upload(tmp_path, "01-test-x.md\n", text)
    assert "文件名" in info.value.user_message

"""Issue 15: safe pastes, encodings, checks.jsonl always validated, ranks within batches, catalogue per batch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.conftest import write_case

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.corpus import check_upload, checks_problems, clean_paste, load_cases, parse_case_text, save_upload
from qa.embedding import HashingEmbedder
from qa.errors import CorpusError, InvalidUpload

WORD_PASTE = (
    '---\nid: paste-x\ntitle: <span style="font-family:宋体">某区调解中心</span>\nrank: 1\n---\n'
    "某区调解中心有专职调解员42\u00a0名。<br>覆盖&nbsp;18个\u200b镇街。\r\n"
    '<p class="MsoNormal"><span style="font-size:12pt">\u3000\u3000第二段。</span></p>\r\n'
)


def _latin(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in ("YAML", "Tab", "UTF", "title")]


# ---- safe pastes ------------------------------------------------------------------------


def test_a_word_paste_is_cleaned_and_every_repair_names_its_lines() -> None:
    cleaned, notices = clean_paste(WORD_PASTE)
    assert "<" not in cleaned and "&nbsp;" not in cleaned and "\u00a0" not in cleaned and "\u200b" not in cleaned
    assert "\r" not in cleaned and "\u3000" not in cleaned
    assert "调解员42名。\n覆盖18个镇街。" in cleaned
    assert any(n.startswith("去除了 HTML 标签 <span>、<br>、<p>") and "第 3、6、7 行" in n for n in notices)
    assert any("零宽" in n and "第 6 行" in n for n in notices)
    case = parse_case_text(WORD_PASTE, "01-paste-x.md")
    assert case.title == "某区调解中心" and case.body.startswith("某区调解中心有专职调解员42名。")


def test_clean_text_is_left_alone() -> None:
    for path in (Path(__file__).resolve().parents[1] / "knowledge").glob("*.md"):
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8")
        assert clean_paste(text) == (text.replace("\r\n", "\n"), []), path.name


def test_a_pasted_case_file_is_indexed_clean_and_the_build_says_so(settings: Settings, fake: HashingEmbedder) -> None:
    (settings.knowledge_dir / "01-paste-x.md").write_text(
        WORD_PASTE.replace("rank: 1", 'rank: 1\nbatch: "新批"'), "utf-8"
    )
    cases = {c.id: c for c in load_cases(settings.knowledge_dir)}
    assert cases["paste-x"].title == "某区调解中心" and "<" not in cases["paste-x"].body
    report = build_index(settings, fake, progress=False)
    assert any(w.startswith("01-paste-x.md：去除了 HTML 标签") for w in report.warnings)
    bot = Assistant.load(settings=settings, embedder=fake)
    assert all("<" not in c.chunk.text for c in bot._state.retriever.search("调解中心", k=50))


def test_a_gbk_file_is_read_with_a_notice_and_broken_bytes_get_a_chinese_fix(tmp_path: Path) -> None:
    text = "---\nid: gbk-x\ntitle: 某区调解中心\nlevel: 区\n---\n某区调解中心有专职调解员42名。\n"
    (tmp_path / "00-gbk-x.md").write_bytes(text.encode("gbk"))
    notices: list[str] = []
    [case] = load_cases(tmp_path, notices)
    assert case.level == "区" and case.title == "某区调解中心"
    assert notices and "GBK/GB18030" in notices[0] and "UTF-8" in notices[0]
    (tmp_path / "00-gbk-x.md").write_bytes(text.encode("utf-8")[:-8] + b"\xff\xfe\xfd" + b"\n")
    with pytest.raises(CorpusError) as info:
        load_cases(tmp_path)
    message = info.value.user_message
    assert "第 6 行不是 UTF-8 编码" in message and "另存为" in message


def test_a_gbk_upload_read_as_utf8_is_refused_naming_the_line(tmp_path: Path) -> None:
    garbled = "---\nid: gbk-x\ntitle: \ufffd\ufffd\nlevel: \ufffd\ufffd\n---\n正文。\n"
    with pytest.raises(InvalidUpload) as info:
        check_upload(tmp_path, "00-gbk-x.md", garbled)
    message = info.value.user_message
    assert "第 3、4 行含乱码" in message and "另存为" in message and "level" not in message


@pytest.mark.parametrize(
    "front",
    [
        "id: x-1\ntitle：全角冒号",
        "id: x-1\ntitle: a: b",
        'id: x-1\ntitle: "未闭合',
        "id: x-1\ntitle: [a, b",
        "id: x-1\n\ttitle: tab",
    ],
)
def test_yaml_errors_are_chinese_with_the_line(front: str) -> None:
    with pytest.raises(Exception) as info:
        parse_case_text(f"---\n{front}\n---\n正文。")
    message = str(info.value)
    assert "YAML 头信息格式错误：第" in message and not _latin(message), message


def test_a_full_width_space_after_a_colon_is_just_a_space() -> None:
    assert parse_case_text("---\nid: x-1\ntitle:\u3000标题\n---\n正文。").title == "标题"


def test_an_admin_save_stores_the_cleaned_text(kb_dir: Path) -> None:
    save_upload(kb_dir, "01-paste-x.md", WORD_PASTE.replace("rank: 1", 'rank: 1\nbatch: "新批"'))
    stored = (kb_dir / "01-paste-x.md").read_text(encoding="utf-8")
    assert "<" not in stored and "\u00a0" not in stored and "42名" in stored


# ---- checks.jsonl -----------------------------------------------------------------------


def test_checks_problems_name_the_line_and_suggest_the_id(tmp_path: Path) -> None:
    (tmp_path / "checks.jsonl").write_text(
        '{"question": "好问题", "expect_case": "jingkuaiban"}\n\n'
        '{"question": "坏行", "expect_case": \n'
        '{"question": "拼错", "expect_case": "jingkuaiben"}\n'
        '{"expect_case": "jingkuaiban"}\n',
        encoding="utf-8",
    )
    problems = [str(p) for p in checks_problems(tmp_path, {"jingkuaiban", "overview"})]
    assert problems == [
        'checks.jsonl: 第 3 行不是有效的 JSON（应为一行 {"question": "…", "expect_case": "案例id"}，引号、冒号、逗号用英文半角）',
        "checks.jsonl: 第 4 行的 expect_case “jingkuaiben”不是任何案例的 id，是不是“jingkuaiban”？",
        "checks.jsonl: 第 5 行缺少 question（检查问题的文字）",
    ]


@pytest.mark.parametrize("dry_run", [True, False])
def test_checks_are_validated_on_every_build_even_when_nothing_changed(
    built: Settings, fake: HashingEmbedder, dry_run: bool
) -> None:
    (built.knowledge_dir / "checks.jsonl").write_text(
        '{"question": "警快办有多少人注册？", "expect_case": "jingkuaibn"}\nnot json\n', encoding="utf-8"
    )
    with pytest.raises(CorpusError) as info:
        build_index(built, fake, dry_run=dry_run, progress=False)
    assert "第 1 行的 expect_case “jingkuaibn”" in info.value.user_message
    assert "第 2 行不是有效的 JSON" in info.value.user_message


# ---- ranks and batches ------------------------------------------------------------------


def test_a_second_rank_and_a_rank_past_the_batch_are_refused(kb_dir: Path) -> None:
    write_case(kb_dir, "11-dup.md", "dup-case", "某案例", "某案例正文。", rank=4)
    write_case(kb_dir, "99-far.md", "far-case", "另一案例", "另一案例正文。", rank=99)
    with pytest.raises(CorpusError) as info:
        load_cases(kb_dir)
    message = info.value.user_message
    assert "rank 4 与 04-jingkuaiban.md 重复" in message or "rank 4 与 11-dup.md 重复" in message
    assert "99-far.md: rank 99 超出范围：未写 batch 的案例是一批“十大”，序号应为 1–10" in message


def test_an_upload_with_a_taken_rank_is_refused(kb_dir: Path) -> None:
    text = "---\nid: dup-case\ntitle: 某案例\nrank: 4\n---\n正文。"
    with pytest.raises(InvalidUpload) as info:
        check_upload(kb_dir, "04-dup-case.md", text)
    assert "rank 4 与 04-jingkuaiban.md 重复" in info.value.user_message
    with pytest.raises(InvalidUpload) as info:
        check_upload(kb_dir, "13-dup-case.md", text.replace("rank: 4", "rank: 13"))
    assert "rank 13 超出范围：未写 batch 的案例是一批“十大”，序号应为 1–10" in info.value.user_message
    next_year = text.replace("rank: 4", 'rank: 1\nbatch: "2024年十大改革最佳实践"')
    assert check_upload(kb_dir, "01-dup-case.md", next_year).batch == "2024年十大改革最佳实践"


NEXT_YEAR = "2024年十大改革最佳实践"


def _add_next_year(folder: Path) -> None:
    for rank, (case_id, title) in enumerate([("next-alpha", "智慧矫正云平台"), ("next-beta", "枫桥式派出所")], 1):
        body = f"{title}试点一年，办理事项{rank * 100}件。"
        write_case(folder, f"0{rank}-{case_id}.md", case_id, title, body, rank=rank, batch=f'"{NEXT_YEAR}"')


def test_the_catalogue_lists_the_latest_batch_or_the_one_named(settings: Settings, fake: HashingEmbedder) -> None:
    _add_next_year(settings.knowledge_dir)
    first = settings.knowledge_dir / "01-5g-mobile-court.md"
    first.write_text(
        first.read_text("utf-8").replace("rank: 1\n", 'rank: 1\nbatch: "2023年十大改革最佳实践"\n'), "utf-8"
    )
    for path in settings.knowledge_dir.glob("*.md"):  # the whole first ten belongs to 2023
        if path.name[:2] not in ("00", "01") and "next-" not in path.name:
            path.write_text(path.read_text("utf-8").replace("\n---\n", '\nbatch: "2023年十大改革最佳实践"\n---\n', 1))
    build_index(settings, fake, progress=False)
    bot = Assistant.load(settings=settings, embedder=fake)
    latest = bot.ask("十大改革最佳实践都有哪些？").answer
    assert f"“{NEXT_YEAR}”共收录 2 个案例" in latest and "1. 智慧矫正云平台" in latest and "警快办" not in latest
    assert "另有：2023年十大改革最佳实践" in latest
    named = bot.ask("2023年十大改革最佳实践都有哪些？").answer
    assert "“2023年十大改革最佳实践”共收录 10 个案例" in named and "智慧矫正云平台" not in named
    both = bot.ask("历届十大改革最佳实践都有哪些？").answer  # lists span batches when asked
    assert both.index("“2023年十大改革最佳实践”共收录 10 个案例") < both.index(f"“{NEXT_YEAR}”共收录 2 个案例")
    assert "另有" not in both
    two_years = bot.ask("2023年和2024年十大改革最佳实践中县级的案例有哪些？").answer
    assert "“2023年十大改革最佳实践”中共有 2 个县级案例" in two_years
    assert f"“{NEXT_YEAR}”中没有符合条件的案例" in two_years


def test_one_batch_answers_as_before(bot: Assistant) -> None:
    answer = bot.ask("十大改革最佳实践都有哪些？").answer
    assert answer.startswith("知识库共收录 10 个案例") and "另有" not in answer


def test_the_checks_file_is_valid_json_lines() -> None:
    path = Path(__file__).resolve().parents[1] / "knowledge" / "checks.jsonl"
    ids = {c.id for c in load_cases(path.parent)}
    assert checks_problems(path.parent, ids) == []
    assert all(json.loads(line)["expect_case"] in ids for line in path.read_text("utf-8").splitlines() if line)

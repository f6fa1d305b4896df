"""`qa import`: real .docx, .pdf and .html files made here, the seed article split back into knowledge/."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import KNOWLEDGE

from qa.cli import main
from qa.corpus import load_cases
from qa.errors import ImportFailed
from qa.importing import describe, plan_import, write_import
from qa.importing.documents import read_document, reflow
from qa.importing.frontmatter import region_and_level, slug

SEED = KNOWLEDGE.parent.parent / "shared" / "seeds" / "000_e5fba4b558f07484.txt"
CASES = """1.重庆市测试区
智慧调解平台
测试区智慧调解平台上线一年,累计受理纠纷3210件,群众满意率96.5%。
2.重庆市公安局
“警快办”——不见面就能办
“警快办”注册人数1714万,累计访问量5.4亿人次。"""


@pytest.fixture
def seed() -> Path:
    if not SEED.exists():
        pytest.skip("seed article not beside the checkout")
    return SEED


def test_the_seed_article_splits_into_the_shipped_knowledge_base(seed: Path, tmp_path: Path) -> None:
    proposals = plan_import([seed], tmp_path, split=True)
    shipped = {c.rank: c for c in load_cases(KNOWLEDGE)}
    assert len(proposals) == len(shipped) == 11
    for proposal in proposals:
        case = shipped[proposal.value("rank")]
        assert proposal.paragraphs == case.paragraphs, case.id  # paragraph for paragraph
        assert proposal.value("source") == case.source
        if case.rank is not None:
            got = [proposal.value(k) for k in ("title", "unit", "region", "level")]
            assert got == [case.title, case.unit, case.region, case.level], case.id
    write_import(tmp_path, proposals)
    imported = load_cases(tmp_path)  # what was written is valid, and reads back the same bodies
    assert {c.rank: c.body for c in imported} == {c.rank: c.body for c in shipped.values()}
    assert {c.id for c in imported} >= {"overview", "jingkuaiban"}


def test_a_word_file_with_headings_and_a_table(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "测试区改革实践"
    document.core_properties.author = "测试日报"
    document.add_heading("测试区改革实践", level=1)
    document.add_paragraph("测试区近年来推进基层治理改革。")
    document.add_heading("主要数据", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, (name, value) in zip(table.rows, [("项目", "数量"), ("调解室", "36间")], strict=True):
        row.cells[0].text, row.cells[1].text = name, value
    document.add_paragraph("群众满意率达到96.5%。")
    path = tmp_path / "report.docx"
    document.save(str(path))
    (proposal,) = plan_import([path], tmp_path / "kb")
    assert proposal.value("title") == "测试区改革实践" and proposal.value("source") == "测试日报"
    assert proposal.paragraphs == [
        "测试区近年来推进基层治理改革。",
        "主要数据",
        "项目 | 数量",
        "调解室 | 36间",
        "群众满意率达到96.5%。",
    ]


def test_a_word_file_with_numbered_cases_splits(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("十佳实践", level=1)
    document.add_paragraph("评选出的范例分别是:智慧调解平台(测试区委政法委);“警快办”——不见面就能办(市公安局)。")
    for line in CASES.splitlines():
        document.add_paragraph(line)
    path = tmp_path / "cases.docx"
    document.save(str(path))
    overview, first, second = plan_import([path], tmp_path / "kb", split=True)
    assert overview.value("title") == "十佳实践" and overview.name == "00-overview.md"
    assert (first.value("unit"), first.value("region"), first.value("level")) == ("测试区委政法委", "测试区", "区")
    assert (second.value("unit"), second.value("region"), second.value("level")) == ("市公安局", "重庆市", "市级")
    assert second.name == "02-jingkuaiban.md" and second.value("aliases") == ["警快办"]


def _chinese_pdf(lines: list[str], title: str, author: str) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))  # a standard CJK font: no font file needed
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setTitle(title)
    pdf.setAuthor(author)
    pdf.setFont("STSong-Light", 11)
    for n, line in enumerate(lines):
        pdf.drawString(56, 780 - 18 * n, line)
    pdf.drawString(290, 40, "1")  # a page number
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_chinese_pdf_text_layer_with_lines_wrapped_at_the_margin(tmp_path: Path) -> None:
    printed = [
        "“警快办”应用实现了治安户政、交巡警、出入境、网安、监管等9个警种的",
        "400余项政务服务事项“上一张网”即可办理。",
        "注册人数1714万。",
    ]
    path = tmp_path / "jingkuaiban.pdf"
    path.write_bytes(_chinese_pdf(printed, "警快办简介", "上游新闻"))
    (proposal,) = plan_import([path], tmp_path / "kb")
    assert proposal.value("title") == "警快办简介" and proposal.value("source") == "上游新闻"
    assert proposal.paragraphs == [printed[0] + printed[1], printed[2]]  # page number dropped, wrap joined


def test_reflow_keeps_short_lines_and_sentence_ends_apart() -> None:
    lines = ["一二三四五六七八九十一二三四五六七八九十", "继续。", "完整的一句话结束了。一二三四五六七八九十", "新段落"]
    assert reflow(lines) == [lines[0] + lines[1], lines[2] + lines[3]]
    assert reflow(["标题", "一二三四五六七八九十。"]) == ["标题", "一二三四五六七八九十。"]


NEWS_PAGE = """<html><head><title>十大改革最佳实践揭晓_上游新闻</title>
<meta property="og:site_name" content="上游新闻"></head><body>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻</a></li><li><a href="/v">视频</a></li></ul></nav>
<div class="ad">广告：买房就上某某网，首付低至一成！</div>
<article><h1>十大改革最佳实践揭晓</h1>{body}</article>
<aside><h3>热门推荐</h3><ul><li><a href="/a">重庆今日天气</a></li><li><a href="/b">明星新闻</a></li></ul></aside>
<footer>版权所有 © 上游新闻 渝ICP备12345号</footer></body></html>"""


def test_a_saved_news_page_keeps_only_the_article(tmp_path: Path) -> None:
    paragraphs = [
        "7月11日,由市委政法委、市法学会主办的评选活动结果揭晓,10个最佳实践范例从众多候选案例中脱颖而出。",
        "据悉,此次评选活动的主题为“改革求变政法惠民”,先后共征集到89个实践范例。",
        *CASES.splitlines(),
    ]
    page = NEWS_PAGE.format(body="".join(f"<p>{html.escape(p)}</p>" for p in paragraphs))
    path = tmp_path / "news.html"
    path.write_text(page, encoding="utf-8")
    document = read_document(path.name, path.read_bytes())
    assert document.lines == paragraphs and document.title == "十大改革最佳实践揭晓"
    text = "\n".join(document.lines)
    assert not any(noise in text for noise in ("首页", "广告", "热门推荐", "版权所有"))
    overview, first, _second = plan_import([path], tmp_path / "kb", split=True)
    assert overview.value("source") == "上游新闻" and overview.paragraphs == paragraphs[:2]
    assert first.value("title") == "智慧调解平台" and first.paragraphs == paragraphs[2:5]


def test_plain_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("便民服务中心\n\n中心共有36间调解室。\n", encoding="gb18030")
    (tmp_path / "note.md").write_text("# 潮汐车道\n\n- **仅投资**不到200万元。\n", encoding="utf-8")
    text, markdown = plan_import([tmp_path / "note.txt", tmp_path / "note.md"], tmp_path / "kb")
    assert (text.value("title"), text.paragraphs) == ("便民服务中心", ["中心共有36间调解室。"])
    assert (markdown.value("title"), markdown.paragraphs) == ("潮汐车道", ["仅投资不到200万元。"])
    assert text.value("id") != markdown.value("id")


def test_a_markdown_case_file_is_copied_unchanged(tmp_path: Path) -> None:
    source = KNOWLEDGE / "04-jingkuaiban.md"
    (proposal,) = plan_import([source], tmp_path)
    assert proposal.name == "04-jingkuaiban.md" and proposal.render() == source.read_text(encoding="utf-8")


def test_problems_are_listed_together_and_nothing_is_written(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (tmp_path / "a.txt").write_text("警快办\n\n“警快办”注册人数1714万。", encoding="utf-8")
    write_import(kb, plan_import([tmp_path / "a.txt"], kb))
    (tmp_path / "broken.docx").write_bytes(b"not a zip")
    (tmp_path / "slides.pptx").write_bytes(b"")
    (tmp_path / "b.txt").write_text("新的案例\n\n正文。", encoding="utf-8")
    before = sorted(p.name for p in kb.iterdir())
    with pytest.raises(ImportFailed) as info:
        plan_import(
            [tmp_path / "broken.docx", tmp_path / "slides.pptx", tmp_path / "b.txt", KNOWLEDGE / "04-jingkuaiban.md"],
            kb,
        )
    problems = {p.path: p.problem for p in info.value.problems}
    assert "无法读取" in problems["broken.docx"] and "不支持的文件类型" in problems["slides.pptx"]
    assert any("已被" in p or "已存在" in p for p in problems.values())  # jingkuaiban is taken
    assert "什么都没有写入" in info.value.user_message
    assert sorted(p.name for p in kb.iterdir()) == before


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("重庆市高级人民法院", "市高法院"), ("重庆市", "市级")),
        (("重庆市荣昌区", "荣昌区委政法委"), ("荣昌区", "区")),
        (("重庆市石柱县",), ("石柱县", "县")),
        (("石柱土家族自治县人民法院",), ("石柱土家族自治县", "县")),
        (("四川省司法厅",), ("四川省", "省级")),
        (("市司法局",), ("", "")),
        (("国家天文台",), ("", "")),
    ],
)
def test_region_and_level_from_the_unit(names: tuple[str, ...], expected: tuple[str, str]) -> None:
    assert region_and_level(*names) == expected


def test_ids_are_pinyin() -> None:
    assert slug("警快办") == "jingkuaiban" and slug("HAT-P-2b") == "hat-p-2b"
    assert len(slug("创新完善复调对接工作机制健全行政争议高效多元化解体系")) <= 40


def test_cli_dry_run_prints_the_guesses_and_writes_nothing(seed: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(seed), "--split", "--dry-run", "--knowledge", str(kb)])
    assert result.exit_code == 0, result.output
    assert "预演" in result.output and "04-jingkuaiban.md" in result.output and "unit: 市公安局" in result.output
    assert list(kb.iterdir()) == []
    result = runner.invoke(main, ["import", str(seed), "--split", "--knowledge", str(kb)])
    assert result.exit_code == 0 and len(list(kb.glob("*.md"))) == 11
    again = runner.invoke(main, ["import", str(seed), "--split", "--knowledge", str(kb)])
    assert again.exit_code == 2 and "可能已导入过" in again.output and len(list(kb.glob("*.md"))) == 11


def test_describe_names_every_guess(seed: Path, tmp_path: Path) -> None:
    text = describe(plan_import([seed], tmp_path, split=True), dry_run=True)
    assert "region: 荣昌区" in text and "取自概述名单" in text

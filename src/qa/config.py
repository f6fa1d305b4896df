"""Runtime settings, read once from ``QA_*`` environment variables.

Everything that differs between a laptop, CI and a portal deployment lives here,
so the rest of the code receives a frozen ``Settings`` and never reads the
environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "multilingual-e5-small"
# The question log lives beside the index unless QA_DB says otherwise: the server and `qa report` then
# agree whenever they find the same index, whatever folder each was started from.
DB_NAME = "questions.sqlite3"
READER_MODES = ("span", "choice", "hybrid", "reader", "rules")  # how fact spans are chosen; see docs/reader.md
SPAN_MODES = ("span", "choice")  # the modes that read with the span reader (qa.span_reader)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _env_list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """All tunables of one running assistant. Build with :meth:`from_env`."""

    knowledge_dir: Path = Path("knowledge")
    index_dir: Path = Path("index")
    cache_dir: Path = Path.home() / ".cache" / "qa"
    embed_model: str = DEFAULT_MODEL
    chunk_size: int = 160
    chunk_overlap: int = 20
    host: str = "127.0.0.1"
    port: int = 7860
    # Empty (the default) means ``index_dir / DB_NAME``, filled in by __post_init__.
    db_path: Path = Path("")
    log_ip: bool = False
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    admin_token: str = ""
    # Questions per minute per client (REST API, widget, chat page, Gradio /ask); 0 turns limiting off.
    rate_limit_per_minute: int = 30
    # Proxies (IPs or CIDR networks) whose X-Forwarded-For names the real client; none by default.
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    max_question_chars: int = 500
    threads: int = 1
    # How often the server looks for a newly published index version; 0 turns the watcher off.
    reload_seconds: float = 2.0
    # A case not found by its own title blocks publishing (otherwise it is a warning); `qa index --strict`.
    strict_build: bool = False
    # Passages up to this many are searched exactly (FAISS flat); above it a build writes an HNSW index,
    # or a compressed scan re-ranked exactly where the graph falls short of the recall (qa.index.search_index).
    ann_threshold: int = 20_000
    # How fact spans are chosen: "span" (rules, the span reader choosing among them or deciding
    # where they find nothing), "choice" (the same, weighed by a learned choice), "hybrid" (rules,
    # the feature reader where they find nothing), "reader" (the feature reader alone) or "rules"
    # (no reader); see docs/reader.md.
    reader_mode: str = "span"

    def __post_init__(self) -> None:
        if self.db_path == Path(""):
            object.__setattr__(self, "db_path", self.index_dir / DB_NAME)  # frozen: set once, here

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``QA_*`` variables; keyword overrides win (used by the CLI flags)."""
        settings = cls(
            knowledge_dir=Path(_env("QA_KNOWLEDGE_DIR", "knowledge")),
            index_dir=Path(_env("QA_INDEX_DIR", "index")),
            cache_dir=Path(_env("QA_CACHE_DIR", str(Path.home() / ".cache" / "qa"))),
            embed_model=_env("QA_EMBED_MODEL", DEFAULT_MODEL),
            chunk_size=_env_int("QA_CHUNK_SIZE", 160),
            chunk_overlap=_env_int("QA_CHUNK_OVERLAP", 20),
            host=_env("QA_HOST", "127.0.0.1"),
            port=_env_int("QA_PORT", 7860),
            db_path=Path(_env("QA_DB", "")),
            reader_mode=_env_choice("QA_READER", "span", READER_MODES),
            log_ip=_env_bool("QA_LOG_IP", False),
            allowed_origins=_env_list("QA_ALLOWED_ORIGINS"),
            admin_token=_env("QA_ADMIN_TOKEN", ""),
            rate_limit_per_minute=_env_int("QA_RATE_LIMIT", 30),
            trusted_proxies=_env_list("QA_TRUSTED_PROXIES"),
            max_question_chars=_env_int("QA_MAX_QUESTION_CHARS", 500),
            threads=_env_int("QA_THREADS", 1),
            reload_seconds=_env_float("QA_RELOAD_SECONDS", 2.0),
            strict_build=_env_bool("QA_STRICT_BUILD", False),
            ann_threshold=_env_int("QA_ANN_THRESHOLD", 20_000),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "index_dir" in clean and not os.environ.get("QA_DB", "").strip():
            clean.setdefault("db_path", Path(""))  # `--index DIR`: the log follows the index it names
        return replace(settings, **clean) if clean else settings  # type: ignore[arg-type]

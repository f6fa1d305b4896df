"""Admin routes for editors: reload, status, upload preview and save, background rebuild, and a page.

Everything here exists only when ``QA_ADMIN_TOKEN`` is set: without it the
routes are never registered, so ``/admin`` and ``/api/admin/*`` answer exactly
like any unknown path (404), revealing nothing. With it, every API route needs
``Authorization: Bearer <token>``; a missing or wrong token gets 401 and a
Chinese message. The page itself holds no secret (the editor pastes the token
into it), so it is served without one.

A token shorter than :data:`MIN_TOKEN_CHARS` is refused at start-up
(:func:`check_token`): guessing is what a short one invites. Guessing is also
throttled: :data:`FAILURES_PER_MINUTE` wrong tokens from one client address,
then every admin request from it gets 429 (without the token even being
compared) until its budget refills, one attempt every six seconds.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import index as store
from ..assistant import Assistant
from ..build import build_index
from ..chunking import chunk_case
from ..config import Settings
from ..corpus import (
    CHECKS,
    UPLOAD_NAME,
    check_upload,
    clean_paste,
    delete_file,
    diff_text,
    editable_name,
    list_case_files,
    read_knowledge_file,
    save_case,
    save_checks,
    undo_change,
    undoable,
)
from ..errors import AdminUnauthorized, CorpusError, QAError, RateLimited, RebuildBusy
from .ratelimit import RateLimiter
from .workbench import (
    IMPORT_PATH,
    activate_version,
    import_document,
    question_report,
    version_history,
    with_index_state,
)

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
FAILURES_PER_MINUTE = 10  # wrong tokens per client address before admin requests get 429

MAX_UPLOAD_CHARS = 20_000  # the largest case today is ~2,700 bytes; /api bodies stop at 64 KB anyway
# The page's own policy: scripts and styles only from this server, no framing, no inline code.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
ASSETS = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}


class CaseUpload(BaseModel):
    name: StrictStr = Field(max_length=200, description="文件名，如 04-jingkuaiban.md")
    text: StrictStr = Field(max_length=MAX_UPLOAD_CHARS, description="文件内容（UTF-8 文本）")


class ChecksText(BaseModel):
    text: StrictStr = Field(max_length=MAX_UPLOAD_CHARS * 5, description="checks.jsonl 的全部内容")


class FileName(BaseModel):
    name: StrictStr = Field(max_length=200)


class RebuildRequest(BaseModel):
    full: StrictBool = False


class VersionChoice(BaseModel):
    version: StrictStr = Field(max_length=100, description="要回滚到的索引版本，如 20261130T035638484218Z")


class AdminTokenTooShort(QAError):
    """``QA_ADMIN_TOKEN`` is set but too short to resist guessing; the server does not start."""

    def __init__(self, length: int) -> None:
        super().__init__(
            f"QA_ADMIN_TOKEN has {length} characters; at least {MIN_TOKEN_CHARS} are required",
            f"QA_ADMIN_TOKEN 过短（{length} 个字符），至少需要 {MIN_TOKEN_CHARS} 个字符。"
            "可用 python3 -c 'import secrets; print(secrets.token_urlsafe(32))' 生成一个；"
            "不需要管理功能时取消设置即可。",
        )


class AdminThrottled(RateLimited):
    """Too many wrong admin tokens from one client address."""

    def __init__(self, per_minute: int, retry_after: int) -> None:
        super().__init__(per_minute, retry_after)
        self.user_message = f"管理令牌错误次数过多（每分钟最多 {per_minute} 次），请 {retry_after} 秒后再试。"


def check_token(settings: Settings) -> None:
    """AdminTokenTooShort when a token is set and shorter than :data:`MIN_TOKEN_CHARS` (none set: admin off)."""
    if settings.admin_token and len(settings.admin_token) < MIN_TOKEN_CHARS:
        raise AdminTokenTooShort(len(settings.admin_token))


# ---- background rebuild --------------------------------------------------------------


@dataclass
class RebuildStatus:
    state: str = "idle"  # idle | running | done | failed
    step: str = ""
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    report: dict[str, Any] | None = field(default=None)


class Rebuilder:
    """Runs ``build_index`` in a thread with the server's embedder, one at a time.

    A failed build never touches what is served: the build only publishes a
    version that passed its checks, and a published version that will not load
    leaves the assistant on the old one.
    """

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self._lock = threading.Lock()
        self._status = RebuildStatus()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._status)

    def start(self, full: bool = False) -> dict[str, Any]:
        with self._lock:
            if self._status.state == "running":
                raise RebuildBusy()
            self._status = RebuildStatus("running", "准备中", "", store.now_iso())
        threading.Thread(target=self._run, args=(full,), name="qa-rebuild", daemon=True).start()
        return self.status()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _step(self, step: str) -> None:
        self._update(step=step)

    def _run(self, full: bool) -> None:
        try:
            report = build_index(self.settings, self.assistant.embedder, full=full, progress=False, step=self._step)
            self._step("加载新索引")
            self.assistant.reload()
        except QAError as exc:
            log.warning("rebuild failed: %s", exc)
            self._finish("failed", f"重建失败，正在使用的索引未受影响。{exc.user_message}")
            return
        except Exception:  # a bug must end as a failed rebuild, not as a dead thread stuck at "running"
            log.exception("rebuild failed unexpectedly")
            self._finish("failed", "重建失败（服务器内部错误，详见服务器日志），正在使用的索引未受影响。")
            return
        summary = (
            f"新索引版本 {report.version} 已生效：新增 {len(report.added)}，修改 {len(report.changed)}，"
            f"删除 {len(report.removed)} 个案例，嵌入 {report.embedded} 个片段，用时 {report.seconds:.1f} 秒。"
        )
        self._finish("done", summary, report.to_dict())

    def _finish(self, state: str, message: str, report: dict[str, Any] | None = None) -> None:
        self._update(state=state, step="", message=message, finished_at=store.now_iso(), report=report)


# ---- routes --------------------------------------------------------------------------


def token_guard(settings: Settings, failures: RateLimiter | None = None) -> Callable[[Request], None]:
    """A dependency that lets only ``Authorization: Bearer <QA_ADMIN_TOKEN>`` through, and throttles wrong ones."""
    expected = settings.admin_token.encode("utf-8")
    failures = failures or RateLimiter(FAILURES_PER_MINUTE, error=AdminThrottled)

    def require_admin(request: Request) -> None:
        if not expected:  # never reached while routes are only registered with a token; kept as a second lock
            raise StarletteHTTPException(404)
        client = request.client.host if request.client else None
        wait = failures.peek(client)
        if wait > 0:  # out of attempts: refused without comparing, so a guess here tells nothing
            raise AdminThrottled(failures.per_minute, max(1, math.ceil(wait)))
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # compare_digest on bytes: constant time, and no TypeError for non-ASCII input
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), expected):
            failures.take(client)
            raise AdminUnauthorized()

    return require_admin


def install(app: FastAPI, assistant: Assistant, settings: Settings) -> Rebuilder | None:
    """Add the admin routes to ``app`` if a token is configured; must run before the /api catch-all.

    AdminTokenTooShort when the token is too short: the app is not built at all.
    """
    check_token(settings)
    if not settings.admin_token:
        return None
    rebuilder = Rebuilder(assistant, settings)
    app.include_router(build_router(assistant, settings, rebuilder))
    app.include_router(page_router())
    return rebuilder


def build_router(assistant: Assistant, settings: Settings, rebuilder: Rebuilder) -> APIRouter:
    router = APIRouter(prefix="/api/admin", dependencies=[Depends(token_guard(settings))], include_in_schema=False)

    @router.get("/status")
    def status() -> dict[str, Any]:
        return index_status(assistant) | {"rebuild": rebuilder.status(), "undo": undoable(settings.knowledge_dir)}

    @router.post("/reload")
    def reload() -> dict[str, Any]:
        reloaded = assistant.reload()  # ReloadFailed → 500 with its Chinese message; the old index keeps serving
        return {"reloaded": reloaded} | index_status(assistant)

    @router.post("/preview")
    def preview(body: CaseUpload) -> dict[str, Any]:
        return preview_upload(settings, body.name, body.text)

    @router.post("/cases")
    def save(body: CaseUpload) -> dict[str, Any]:
        # Only a valid name is looked up: the file system is never asked about "../anything".
        replaced = UPLOAD_NAME.match(body.name) is not None and (settings.knowledge_dir / body.name).is_file()
        case = save_case(
            settings.knowledge_dir, body.name, body.text
        )  # InvalidUpload → 400; the old file kept for undo
        log.info("admin saved %s (case %s)", body.name, case.id)
        return {"saved": body.name, "case_id": case.id, "replaced": replaced, "undo": undoable(settings.knowledge_dir)}

    @router.get("/cases")
    def cases() -> dict[str, Any]:
        rows = with_index_state(list_case_files(settings.knowledge_dir), settings.index_dir)
        return {"cases": rows, "undo": undoable(settings.knowledge_dir)}

    @router.get("/cases/{name}")
    def open_case(name: str) -> dict[str, Any]:
        text = read_knowledge_file(settings.knowledge_dir, name) if editable_name(name) else None
        if text is None or name == CHECKS:
            raise StarletteHTTPException(404)
        return {"name": name, "text": text}

    @router.delete("/cases/{name}")
    def delete(name: str) -> dict[str, Any]:
        delete_file(settings.knowledge_dir, name)  # InvalidUpload → 400
        log.info("admin deleted %s", name)
        return {"deleted": name, "undo": undoable(settings.knowledge_dir)}

    @router.get("/checks")
    def checks() -> dict[str, Any]:
        return {"text": read_knowledge_file(settings.knowledge_dir, CHECKS) or ""}

    @router.put("/checks")
    def put_checks(body: ChecksText) -> dict[str, Any]:
        save_checks(settings.knowledge_dir, body.text)  # InvalidUpload naming each bad line → 400
        log.info("admin saved %s", CHECKS)
        return {"saved": CHECKS, "undo": undoable(settings.knowledge_dir)}

    @router.post("/undo")
    def undo(body: FileName) -> dict[str, Any]:
        done = undo_change(settings.knowledge_dir, body.name)
        log.info("admin undid the last change of %s", body.name)
        return {"message": done, "undo": undoable(settings.knowledge_dir)}

    @router.get("/versions")
    def versions() -> dict[str, Any]:
        return {"versions": version_history(settings.index_dir)}

    @router.post("/rollback")
    def rollback(body: VersionChoice) -> dict[str, Any]:
        if rebuilder.status()["state"] == "running":  # the build lock would refuse too; this names the reason
            raise RebuildBusy()
        done = activate_version(assistant, settings.index_dir, body.version)  # VersionNotKept → 404
        log.info("admin rolled the index back to %s", body.version)
        return done | index_status(assistant)

    @router.get("/report")
    def report(limit: int = 10) -> dict[str, Any]:
        return question_report(settings, max(1, min(limit, 100)))

    @router.post(IMPORT_PATH.removeprefix("/api/admin"))
    async def import_file(request: Request, name: str = "", split: bool = False) -> dict[str, Any]:
        """The raw file as the body (not JSON: a Word file or PDF is binary), its name in the query."""
        return import_document(settings.knowledge_dir, name, await request.body(), split)

    @router.post("/rebuild", status_code=202)
    def rebuild(body: RebuildRequest | None = None) -> dict[str, Any]:
        return rebuilder.start(full=bool(body and body.full))

    @router.get("/rebuild/status")
    def rebuild_status() -> dict[str, Any]:
        return rebuilder.status()

    return router


def index_status(assistant: Assistant) -> dict[str, Any]:
    """What is served, what is published, and why they differ if they do."""
    health = assistant.health()
    failure = assistant.reload_failure
    return {
        "index_version": health["index_version"],
        "index_built_at": health["index_built_at"],
        "cases": health["cases"],
        "chunks": health["chunks"],
        "published_version": store.current_version(assistant.settings.index_dir),
        "reload_failure": asdict(failure) if failure else None,
    }


def preview_upload(settings: Settings, name: str, text: str) -> dict[str, Any]:
    """How an uploaded file parses and chunks, or its problems; an invalid file is an answer, not an error.

    ``notices`` says what pasted formatting was cleaned (and ``text`` is the cleaned file,
    which is what saving stores).
    """
    cleaned, notices = clean_paste(text)
    try:
        case = check_upload(settings.knowledge_dir, name, text)
    except CorpusError as exc:
        problems = [p.problem for p in exc.problems]
        return {"valid": False, "problems": problems, "notices": notices, "text": cleaned, "case": None, "chunks": []}
    chunks = chunk_case(case, settings.chunk_size, settings.chunk_overlap)
    meta = {k: v for k, v in case.meta().items() if k not in ("path", "content_hash")}
    meta["paragraphs"] = len(case.paragraphs)
    saved = read_knowledge_file(settings.knowledge_dir, name)
    return {
        "valid": True,
        "problems": [],
        "notices": notices,
        "text": cleaned,
        "diff": diff_text(saved, cleaned, name),
        "case": meta,
        "replaces": (settings.knowledge_dir / name).is_file(),
        "chunks": [{"paragraph": c.paragraph, "start": c.start, "end": c.end, "text": c.text} for c in chunks],
    }


def page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/admin")
    def page() -> Response:
        return _asset("admin.html", "text/html; charset=utf-8")

    @router.get("/admin/{name}")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise StarletteHTTPException(404)
        return _asset(name, ASSETS[name])

    return router


def _asset(name: str, media_type: str) -> Response:
    body = resources.files("qa.web").joinpath("admin_assets", name).read_bytes()
    headers = {"content-security-policy": PAGE_CSP, "cache-control": "no-store", "x-frame-options": "DENY"}
    return Response(body, media_type=media_type, headers=headers)

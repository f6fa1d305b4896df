"""The JSON API: ``POST /api/ask``, ``POST /api/feedback``, ``GET /api/health``.

Every failure a client can cause gets a 4xx with ``{"error": "<Chinese message>"}``;
anything else gets a generic Chinese 500 with no details (those go to the server
log). The pydantic models exist so that ``/docs`` describes the API exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import QAError, RateLimited
from .faults import FAULTS
from .messages import BAD_REQUEST, INTERNAL_ERROR, MAX_BODY_BYTES, error, message_for_status
from .service import ChatService, channel_of

log = logging.getLogger(__name__)

MAX_HISTORY_ITEMS = 100
API_ROUTES = {"/api/ask": "POST", "/api/feedback": "POST", "/api/health": "GET"}
FEEDBACK_UNKNOWN = "找不到这条回答：id 不存在或已过期，请使用 /api/ask 返回的 id。"
FIELD_ERRORS = {
    "question": "question 必须是文本（字符串）。",
    "history": '对话历史格式错误：history 应为 [{"role": "user" 或 "assistant", "content": "…"}] 形式的列表。',
    "session_id": "session_id 必须是不超过 64 个字符的文本。",
    "id": "id 无效：请使用 /api/ask 返回的 id。",
    "liked": "liked 必须是 true（赞）、false（踩）或 null（撤销）。",
}
STATUS_ERRORS = {
    404: "接口不存在。可用接口：POST /api/ask、POST /api/feedback、GET /api/health，文档见 /docs。",
}


# ---- request and response models (they are the OpenAPI schema) ---------------------


class Turn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: StrictStr


class AskRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"question": "警快办有多少人注册？", "history": []}]},
    )

    question: StrictStr = Field(description="问题，非空，规范化空白后不超过 QA_MAX_QUESTION_CHARS（默认 500）字。")
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_ITEMS,
        description="此前的对话（由旧到新），用于理解“它”“那个呢”之类的追问；只使用最近几轮。",
    )
    session_id: StrictStr | None = Field(default=None, max_length=64, description="可选：会话标识，仅写入问答日志。")


class CitationOut(BaseModel):
    n: int = Field(description="答案中 [n] 标记的编号")
    case_id: str
    title: str = Field(description="案例标题")
    unit: str = Field(description="报送单位")
    text: str = Field(description="被引用的原文段落")
    score: float
    chunk_id: str
    paragraph: int = Field(description="段落序号")
    start: int = Field(description="段落在案例正文中的起始字符位置")
    end: int
    quote: str = Field(description="答案实际引用的句子（text 的一部分）")
    fields: dict[str, str] = Field(default_factory=dict, description="案例文件中编辑自加的其他字段（如年份、类别）")


class AskResponse(BaseModel):
    answer: str = Field(description="答案，带 [n] 引用标记")
    citations: list[CitationOut]
    grounded: bool = Field(description="false 表示知识库中没有依据，answer 是拒答说明")
    query: str = Field(description="实际检索的问题（追问会被补全）")
    id: str = Field(description="问答日志中的记录 id，用于 /api/feedback")


class FeedbackRequest(BaseModel):
    id: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$", description="/api/ask 返回的 id")]
    liked: StrictBool | None = Field(description="true 赞，false 踩，null 撤销")
    session_id: StrictStr | None = Field(
        default=None, max_length=64, description="可选：提问时的会话标识（评价与提问一样按会话限流）。"
    )


class FeedbackResponse(BaseModel):
    ok: bool = True


class HealthResponse(BaseModel):
    status: str
    model: str = Field(description="嵌入模型")
    cases: int
    chunks: int
    index_version: str
    index_built_at: str | None = Field(description="索引构建时间（UTC，ISO 8601）")
    reader: str = Field(description="答案片段的选择方式（span/hybrid/reader/rules）与阅读模型文件 SHA-256 的前 12 位")
    question_log: Literal["ok", "degraded"] = Field(description="degraded：问答日志暂时写不进去（不影响回答）")


class ErrorResponse(BaseModel):
    error: str = Field(description="给用户看的中文错误信息")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "请求无效（空问题、过长、JSON 格式或类型错误）"},
    413: {"model": ErrorResponse, "description": "请求体过大"},
    500: {"model": ErrorResponse, "description": "服务器内部错误"},
}

RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorResponse,
        "description": "提问过于频繁（每个客户端每分钟 QA_RATE_LIMIT 个问题），稍后重试，见 Retry-After",
    },
}

UNKNOWN_ID: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "没有这个 id 的回答"},
}


# ---- routes ----------------------------------------------------------------------------


def build_router(service: ChatService) -> APIRouter:
    """The /api routes, bound to one service."""
    router = APIRouter(prefix="/api", tags=["问答"], responses=ERROR_RESPONSES)

    # Plain ``def`` handlers: FastAPI runs them in its thread pool, so answering never blocks the event loop.
    @router.post("/ask", response_model=AskResponse, summary="提问", responses=RATE_LIMITED)
    def ask(body: AskRequest, request: Request) -> dict[str, Any]:
        """回答一个问题，答案中的每个 [n] 对应 citations 中的一段原文。"""
        history = [turn.model_dump() for turn in body.history]
        channel = channel_of(body.session_id)  # the widget's session ids start with "w-"
        answered = service.ask(body.question, history, session_id=body.session_id, ip=_ip(request), channel=channel)
        return {**answered.reply.to_dict(), "id": answered.log_id}

    @router.post(
        "/feedback", response_model=FeedbackResponse, summary="赞或踩一个回答", responses=UNKNOWN_ID | RATE_LIMITED
    )
    def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse | JSONResponse:
        """记录用户对一个回答的评价（写入问答日志）。id 不存在时返回 404；与提问一样限流。"""
        if not service.feedback(body.id, body.liked, session_id=body.session_id, ip=_ip(request)):
            return error(404, FEEDBACK_UNKNOWN)
        return FeedbackResponse()

    @router.get("/health", response_model=HealthResponse, summary="健康检查")
    def health() -> dict[str, Any]:
        """服务状态、模型、案例与片段数量、索引构建时间。"""
        return service.health()

    # The Gradio app is mounted at "/" and would answer any other /api path with its own page.
    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(request: Request) -> None:
        raise StarletteHTTPException(405 if request.url.path in API_ROUTES else 404)

    return router


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---- request size ------------------------------------------------------------------------


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (on every path by default) with a Chinese 413, before they are read.

    A declared Content-Length is refused up front; a streamed body is counted as it
    arrives and stopped with an HTTPException, which FastAPI passes on to
    :func:`on_http_error` (Starlette's own limiter answers in plain English text).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        prefix: str = "/",
        larger: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix
        # Exact paths allowed more (the admin's document import); every other path keeps max_bytes.
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await error(413, None if limit == self.max_bytes else _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise StarletteHTTPException(413)
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> str:
    """The 413 sentence for a route allowed more than the default (the default's own names 64 KB)."""
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return f"请求体过大（上限 {size}）。"


# ---- errors ------------------------------------------------------------------------------


def validation_message(errors: Sequence[Any]) -> str:
    """One Chinese sentence for the first problem pydantic found in the request."""
    for err in errors:
        kind, loc = err.get("type", ""), tuple(err.get("loc", ()))
        if kind == "json_invalid":
            return "请求体不是有效的 JSON。"
        if loc == ("body",):
            if kind == "missing":
                return '请求体不能为空，应为 JSON 对象，例如 {"question": "警快办有多少人注册？"}。'
            return '请求体必须是 JSON 对象，例如 {"question": "警快办有多少人注册？"}，并设置 Content-Type: application/json。'
        field = str(loc[1]) if len(loc) > 1 and loc[0] == "body" else ""
        if kind == "missing" and len(loc) == 2:
            return f"缺少 {field} 字段。"
        if field in FIELD_ERRORS:
            return FIELD_ERRORS[field]
    return BAD_REQUEST


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return error(400, validation_message(errors))


async def on_qa_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QAError)
    if exc.http_status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    response = error(exc.http_status, exc.user_message)
    if isinstance(exc, RateLimited):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    api_message = STATUS_ERRORS.get(status) if request.url.path.startswith("/api/") else None
    return error(status, api_message or message_for_status(status))


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Last resort (faults.Faults normally sees it first): the trace to the log once, a plain Chinese 500."""
    FAULTS.record(exc, f"{request.method} {request.url.path}")
    return error(500, INTERNAL_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(QAError, on_qa_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)

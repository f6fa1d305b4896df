"""The app's error contract in one place: every error response is ``{"error": "<中文>"}``.

A client error is a 4xx with a fixed Chinese sentence; a server fault is a 500
with :data:`INTERNAL_ERROR` and nothing else (the trace goes to the server log,
see :mod:`qa.web.faults`). The REST API, Gradio's routes, the widget's and the
admin routes all answer through :func:`error`.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

MAX_BODY_BYTES = 64 * 1024  # a question is <= 500 characters; history is trimmed to a few turns anyway
INTERNAL_ERROR = "服务器内部错误，请稍后再试。"
BAD_REQUEST = "请求格式错误。"
NOT_FOUND = "页面不存在。"
STATUS_MESSAGES = {
    400: BAD_REQUEST,
    401: "需要授权。",
    403: "禁止访问。",
    404: NOT_FOUND,
    405: "请求方法不允许。",
    408: "请求超时，请重试。",
    411: "请求缺少 Content-Length。",
    413: f"请求体过大（上限 {MAX_BODY_BYTES // 1024} KB）。",
    415: "不支持的请求内容类型。",
    422: BAD_REQUEST,
    429: "请求过于频繁，请稍后再试。",
    500: INTERNAL_ERROR,
    503: "服务繁忙，请稍后再试。",
}


def message_for_status(status: int) -> str:
    """The fixed Chinese sentence for an error status."""
    return STATUS_MESSAGES.get(status, BAD_REQUEST if status < 500 else INTERNAL_ERROR)


def error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": message}`` with ``status`` (the status's own sentence when no message is given)."""
    return JSONResponse({"error": message or message_for_status(status)}, status_code=status, headers=headers)


__all__ = ["BAD_REQUEST", "INTERNAL_ERROR", "MAX_BODY_BYTES", "NOT_FOUND", "error", "message_for_status"]

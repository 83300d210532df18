"""The advisor API's errors: stable snake_case codes, HTTP statuses and safe zh-CN messages.

Every error reply has the one shape `{"error": {"code": ..., "message": ...}}`; `error_body`
is the only place that builds it and `from_exception` the only place that maps exceptions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorKind:
    status: int
    message: str


# code -> (HTTP status, default message). Codes are API: never rename one.
ERRORS = MappingProxyType(
    {
        "invalid_json": ErrorKind(400, "请求内容不是有效的 JSON。"),
        "invalid_format": ErrorKind(400, "请求格式不正确。"),
        "empty_text": ErrorKind(400, "请先输入要咨询的问题。"),
        "text_too_long": ErrorKind(413, "问题太长了，请精简后再提交。"),
        "no_chinese_text": ErrorKind(422, "没有识别到中文内容，请用中文描述您的问题。"),
        "unknown_topic": ErrorKind(400, "不认识这个咨询类别。"),
        "law_not_found": ErrorKind(404, "没有找到这部法律。"),
        "article_not_found": ErrorKind(404, "没有找到这一条。"),
        "rate_limited": ErrorKind(429, "请求太频繁，请稍后再试。"),
        "not_ready": ErrorKind(503, "法规库正在加载，请稍后再试。"),
        "internal_error": ErrorKind(500, "服务器内部错误，请稍后再试。"),
    }
)


class AdvisorError(Exception):
    """An error the client is told about, with a code from ERRORS."""

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.message = message or ERRORS[code].message
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return ERRORS[self.code].status


def error_body(code: str, message: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message or ERRORS[code].message}}


def from_exception(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, body) for any exception: an AdvisorError says what it is; anything else is
    logged with its traceback and the client sees only internal_error."""
    if isinstance(exc, AdvisorError):
        return exc.status, error_body(exc.code, exc.message)
    log.error("advisor request failed", exc_info=exc)
    return ERRORS["internal_error"].status, error_body("internal_error")

"""Stable error codes of the protocol and the one mapping from exceptions to replies."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_FORMAT = "invalid_format"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    NOT_AUTHENTICATED = "not_authenticated"
    ALREADY_AUTHENTICATED = "already_authenticated"
    BAD_CREDENTIALS = "bad_credentials"
    FORBIDDEN = "forbidden"
    INVALID_STATE = "invalid_state"
    NOT_FOUND = "not_found"
    RESUME_FAILED = "resume_failed"
    HELLO_TIMEOUT = "hello_timeout"
    INTERNAL_ERROR = "internal_error"


class ProtocolError(Exception):
    """The peer broke the protocol: answered with an error reply, nothing changes."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# What a client is told when the server itself fails: never the traceback.
INTERNAL_ERROR_MESSAGE = "the server failed to handle this message; it has been logged"


def error_for(exc: BaseException) -> tuple[ErrorCode, str]:
    """Map any exception raised while handling a message to a code and a safe message."""
    if isinstance(exc, ProtocolError):
        return exc.code, exc.message
    return ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE

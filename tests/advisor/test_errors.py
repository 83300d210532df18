"""Error codes: one shape, stable codes, safe messages."""

from __future__ import annotations

import re

import pytest

from advisor.errors import ERRORS, AdvisorError, error_body, from_exception


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (AdvisorError("empty_text"), 400, "empty_text"),
        (AdvisorError("text_too_long", "太长"), 413, "text_too_long"),
        (AdvisorError("no_chinese_text"), 422, "no_chinese_text"),
        (AdvisorError("rate_limited"), 429, "rate_limited"),
        (AdvisorError("not_ready"), 503, "not_ready"),
        (AdvisorError("article_not_found"), 404, "article_not_found"),
        (RuntimeError("secret internals"), 500, "internal_error"),
        (KeyError("x"), 500, "internal_error"),
    ],
)
def test_exceptions_map_to_codes(exc: BaseException, status: int, code: str) -> None:
    got_status, body = from_exception(exc)
    assert got_status == status
    assert body["error"]["code"] == code
    assert "secret" not in body["error"]["message"]


@pytest.mark.timeout(10)
def test_codes_are_snake_case_with_chinese_messages() -> None:
    for code, kind in ERRORS.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code)
        assert re.search(r"[\u4e00-\u9fff]", kind.message)
        assert error_body(code) == {"error": {"code": code, "message": kind.message}}


@pytest.mark.timeout(10)
def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        AdvisorError("no_such_code")

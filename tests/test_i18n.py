"""The message catalogue is complete: zh everywhere, mn for the village page, and every key the
pages use (literally or built from a protocol value) exists."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from server.i18n import (
    CATALOGUE,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LAWYER_PREFIXES,
    VILLAGE_PREFIXES,
    missing,
    text,
)
from signaling.errors import ErrorCode
from signaling.messages import EndReason, Kind, Language, OfferWithdrawn, Role
from signaling.topics import TOPIC_SLUGS

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
TEMPLATES = ROOT / "server" / "templates"

AREAS = "common|village|lawyer|error|topic|lang|role|end|kind|withdrawn|time|index"
LITERAL_KEY = re.compile(rf"""['"]((?:{AREAS})\.[a-z_]+)['"]""")
DYNAMIC_KEY = re.compile(r"`([a-z]+)\.\$\{")
# Error views the pages raise themselves, besides the protocol's error codes.
PAGE_ERROR = re.compile(r"""(?:fail|MediaUnavailable|showError)\('([a-z_]+)'""")
TEMPLATE_KEY = re.compile(r"""(?:\bt\(\s*|data-i18n=)"((?:[a-z]+)\.[a-z_]+)\"""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Keys a page builds from a value it received: the prefix and every value it can take.
DYNAMIC: dict[str, set[str]] = {
    "topic": set(TOPIC_SLUGS),
    "end": {r.value for r in EndReason},
    "error": {c.value for c in ErrorCode},
    "withdrawn": set(typing.get_args(OfferWithdrawn.model_fields["reason"].annotation)),
    "kind": {k.value for k in Kind},
    "lang": {lang.value for lang in Language},
    "role": {r.value for r in Role},
}


def _modules(entry: str) -> list[Path]:
    """A page's module and every module it imports, transitively."""
    seen: list[Path] = []
    todo = [STATIC / entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        todo += [STATIC / name for name in re.findall(r"from '\./([\w.]+)'", path.read_text())]
    return seen


def _keys_used(entry: str, template: str) -> set[str]:
    keys: set[str] = set()
    for path in _modules(entry):
        source = path.read_text()
        keys |= set(LITERAL_KEY.findall(source))
        keys |= {f"error.{name}" for name in PAGE_ERROR.findall(source)}
        for prefix in DYNAMIC_KEY.findall(source):
            assert prefix in DYNAMIC, f"{path.name} builds keys under {prefix}.: list its values"
            keys |= {f"{prefix}.{value}" for value in DYNAMIC[prefix]}
    for name in (template, "base.html"):
        keys |= set(TEMPLATE_KEY.findall((TEMPLATES / name).read_text()))
    return keys


def test_languages() -> None:
    assert set(CATALOGUE) == set(LANGUAGES) == {lang.value for lang in Language}


def test_mongolian_has_every_village_key() -> None:
    assert missing("mn", VILLAGE_PREFIXES) == []


def test_no_language_has_a_key_chinese_lacks() -> None:
    for language in LANGUAGES:
        extra = set(CATALOGUE[language]) - set(CATALOGUE[DEFAULT_LANGUAGE])
        assert not extra, f"{language} has keys zh lacks: {sorted(extra)}"


def test_every_key_the_village_page_uses_exists_in_both_languages() -> None:
    used = _keys_used("village.js", "village.html")
    assert len(used) > 60
    for language in ("zh", "mn"):
        absent = sorted(k for k in used if k not in CATALOGUE[language])
        assert not absent, f"{language} lacks {absent}"
    outside = sorted(k for k in used if not k.startswith(VILLAGE_PREFIXES))
    assert not outside, f"the village page is not served {outside}"


def test_every_key_the_lawyer_page_uses_exists() -> None:
    used = _keys_used("lawyer.js", "lawyer.html")
    absent = sorted(k for k in used if k not in CATALOGUE["zh"])
    assert not absent, f"zh lacks {absent}"
    outside = sorted(
        k for k in used if not k.startswith(LAWYER_PREFIXES) and k != "common.app_name"
    )
    assert not outside, f"the lawyer page is not served {outside}"


def test_every_key_the_index_uses_exists() -> None:
    for name in ("index.html", "message.html"):
        for key in TEMPLATE_KEY.findall((TEMPLATES / name).read_text()):
            assert key in CATALOGUE["zh"], key
    for key in ("index.not_set_up", "index.unknown_identity"):
        assert key in CATALOGUE["zh"]


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_protocol_error_says_what_to_do(code: ErrorCode) -> None:
    for language in ("zh", "mn"):
        message = CATALOGUE[language][f"error.{code.value}"]
        assert len(message) > 10
    # Chinese: what happened, then what to do (a button to press, someone to call, a wait).
    zh = CATALOGUE["zh"][f"error.{code.value}"]
    assert any(word in zh for word in ("重新开始", "联系管理员", "再试", "请")), zh


def test_placeholders_match_across_languages() -> None:
    zh = CATALOGUE["zh"]
    for language in LANGUAGES:
        for key, value in CATALOGUE[language].items():
            assert value.strip() == value and value, f"{language} {key} is empty or padded"
            assert set(PLACEHOLDER.findall(value)) == set(PLACEHOLDER.findall(zh[key])), key


def test_text_fills_placeholders_and_falls_back_to_chinese() -> None:
    assert text("village.position_ahead", "zh", ahead=2) == "您前面还有 2 位。"
    assert text("lawyer.title", "mn") == CATALOGUE["zh"]["lawyer.title"]
    assert text("topic.labour", "mn") == "ᠬᠥᠳᠡᠯᠮᠦᠷᠢ ᠶᠢᠨ ᠮᠠᠷᠭᠠᠭᠠᠨ"
    with pytest.raises(KeyError):
        text("village.no_such_key")

"""Settings: declared once, read from flags and LAWROOM_* variables, refused clearly."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from server.settings import SETTINGS, Settings, SettingsError, load

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_a_field_and_documented() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    readme = README.read_text()
    for s in SETTINGS:
        assert s.flag in readme, f"{s.flag} is not documented in README.md"
        assert s.help


def test_flags_win_over_environment_over_defaults() -> None:
    assert load({}, env={}).port == 8080
    assert load({}, env={"LAWROOM_PORT": "9000"}).port == 9000
    assert load({"port": "9100"}, env={"LAWROOM_PORT": "9000"}).port == 9100
    assert load({}, env={"LAWROOM_DEMO": "yes"}).demo is True
    assert load(
        {}, env={"LAWROOM_ICE_SERVERS": "stun:127.0.0.1:3478, turn:127.0.0.1"}
    ).ice_servers == (
        "stun:127.0.0.1:3478",
        "turn:127.0.0.1",
    )


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ({"port": "eighty"}, {}, "--port='eighty'"),
        ({"port": "70000"}, {}, "port number"),
        ({}, {"LAWROOM_GRACE_SECONDS": "-1"}, "LAWROOM_GRACE_SECONDS"),
        ({"tls_cert": "/nonexistent.pem"}, {}, "go together"),
        ({"tls_cert": "/nonexistent.pem", "tls_key": "/nonexistent.key"}, {}, "does not exist"),
        ({"redis": "127.0.0.1:6379"}, {}, "redis://"),
        ({"ice_servers": "http://example"}, {}, "stun:"),
        ({}, {"LAWROOM_DEMO": "perhaps"}, "true or false"),
    ],
)
def test_bad_settings_are_refused_clearly(
    args: dict[str, str], env: dict[str, str], says: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load(args, env=env)
    assert says in str(info.value)


@pytest.mark.timeout(60)
def test_serve_refuses_a_bad_redis_url_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--redis", "localhost"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 2
    assert "redis://" in result.stderr
    assert "Traceback" not in result.stderr

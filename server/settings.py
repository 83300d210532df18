"""Every setting, declared once as data: name, type, default, help.

Read from `--flags` and `LAWROOM_*` environment variables (flags win), validated at start-up
with a message that says what to change.
"""

from __future__ import annotations

import argparse
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting's value is unusable; the message says which and why."""


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _nonnegative(value: float) -> float:
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number, 0-65535 (0 picks a free one)")
    return value


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: Callable[[str], Any]
    default: Any
    help: str
    check: Callable[[Any], Any] | None = None
    flag_only: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "LAWROOM_" + self.name.upper()


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "address to listen on"),
    Setting("port", int, 8080, "port to listen on (0 picks a free one)", _port),
    Setting("data_dir", Path, Path("lawroom-data"), "directory for the server's own files"),
    Setting(
        "tls_cert",
        str,
        "",
        "TLS certificate (PEM); browsers allow cameras only on https or localhost",
    ),
    Setting("tls_key", str, "", "TLS private key (PEM), with --tls-cert"),
    Setting(
        "trusted_proxy",
        _csv,
        (),
        "comma-separated addresses of reverse proxies whose X-Forwarded-* headers are believed",
    ),
    Setting(
        "allowed_origins", _csv, (), "extra browser origins allowed on the websocket ('*' for any)"
    ),
    Setting(
        "database",
        str,
        "",
        "database URL (postgresql+asyncpg://...); empty: SQLite in the data directory",
    ),
    Setting(
        "demo", _bool, False, "seed demo accounts and terminals with public passwords and tokens"
    ),
    Setting("redis", str, "", "Redis URL for state shared between instances; empty: in-process"),
    Setting(
        "ice_servers",
        _csv,
        (),
        "comma-separated STUN/TURN URLs given to clients; empty means host candidates only",
    ),
    Setting(
        "grace_seconds", float, 30.0, "how long a dropped client may resume its place", _positive
    ),
    Setting(
        "offer_timeout", float, 20.0, "seconds a professional has to answer an offer", _positive
    ),
    Setting(
        "wrap_up_seconds",
        float,
        30.0,
        "after a call, seconds before the professional's next offer (saving the outcome ends it)",
        _nonnegative,
    ),
    Setting(
        "escalate_after",
        float,
        300.0,
        "seconds a request waits for its language before any qualified professional may take it"
        " (with an interpreter)",
        _positive,
    ),
    Setting(
        "callback_tries",
        int,
        3,
        "times a callback's terminal is rung back before it goes to the supervisors' list",
        _positive,
    ),
    Setting(
        "callback_retry_seconds",
        float,
        120.0,
        "seconds between two ring-backs of a callback whose terminal was away",
        _positive,
    ),
    Setting("hello_timeout", float, 10.0, "seconds a new websocket has to sign in", _positive),
    Setting("rate_per_second", float, 20.0, "messages per second a connection may send", _positive),
    Setting("rate_burst", int, 40, "messages a connection may send in a burst", _positive),
    Setting("log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "strict_protocol",
        _bool,
        False,
        "close a websocket whose message fails the protocol schema (for testing clients)",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated values; one field per entry of SETTINGS (a test keeps them in step)."""

    host: str
    port: int
    data_dir: Path
    tls_cert: str
    tls_key: str
    trusted_proxy: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    database: str
    demo: bool
    redis: str
    ice_servers: tuple[str, ...]
    grace_seconds: float
    offer_timeout: float
    wrap_up_seconds: float
    escalate_after: float
    callback_tries: int
    callback_retry_seconds: float
    hello_timeout: float
    rate_per_second: float
    rate_burst: int
    log_level: str
    strict_protocol: bool

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls_cert:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.tls_cert, self.tls_key)
        return ctx


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for s in SETTINGS:
        if s.type is _bool:
            parser.add_argument(
                s.flag, dest=s.name, action="store_const", const="true", help=s.help
            )
        else:
            parser.add_argument(
                s.flag, dest=s.name, help=f"{s.help} (env {s.env}; default {s.default!r})"
            )


def load(args: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from flags (as parsed strings), then environment, then defaults; validated."""
    args = args or {}
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = args.get(s.name)
        source = s.flag
        if raw is None and s.env in env:
            raw, source = env[s.env], s.env
        if raw is None:
            values[s.name] = s.default
            continue
        try:
            value = s.type(raw)
            if s.check is not None:
                s.check(value)
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"{source}={raw!r}: {exc}") from None
        values[s.name] = value
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SettingsError("--tls-cert and --tls-key go together: give both or neither")
    for path in (settings.tls_cert, settings.tls_key):
        if path and not Path(path).is_file():
            raise SettingsError(f"TLS file {path} does not exist")
    if settings.redis and not settings.redis.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            f"--redis={settings.redis!r}: expected a redis://, rediss:// or unix:// URL"
        )
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(
            f"--log-level={settings.log_level!r}: use DEBUG, INFO, WARNING or ERROR"
        )
    for url in settings.ice_servers:
        if not url.startswith(("stun:", "turn:", "turns:")):
            raise SettingsError(f"--ice-servers: {url!r} is not a stun:, turn: or turns: URL")

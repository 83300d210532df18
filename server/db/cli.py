"""The operator's storage commands: `lawroom db upgrade|check`, `lawroom user add|token|disable`,
`lawroom terminal add|revoke`.

`add_db_commands` puts them on the `lawroom` parser and `run_db_command` runs one; until they are
hooked in, `python -m server.db.cli` runs them on their own.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final, TextIO

from server.db import accounts
from server.db.accounts import AccountView, TerminalView
from server.db.audit import Actor
from server.db.engine import (
    Database,
    create_engine,
    default_url,
    head_revision,
    open_database,
    safe_url,
    schema_drift,
    upgrade_database,
)
from server.db.errors import StorageError
from server.db.models import AccountRole, TokenKind, utcnow
from server.db.passwords import WeakPassword
from server.settings import SETTINGS
from signaling.topics import TOPIC_SLUGS

DB_COMMANDS: Final = frozenset({"db", "user", "terminal"})


# -- the commands, callable without argparse -----------------------------------------------------


async def db_upgrade(url: str, data_dir: Path) -> str:
    """Apply migrations to the database (`url`, or the embedded default); the revision now."""
    if not url:
        await asyncio.to_thread(data_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
    engine = create_engine(url or default_url(data_dir))
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()
    return head_revision()


async def user_add(
    db: Database,
    *,
    username: str,
    role: AccountRole,
    display_name: str,
    password: str,
    topics: Sequence[str] = (),
    languages: Sequence[str] = (),
) -> AccountView:
    return await accounts.create_account(
        db,
        username=username,
        role=role,
        display_name=display_name,
        password=password,
        topics=topics,
        languages=languages,
        actor=Actor.cli(),
        at=utcnow(),
    )


async def user_token(
    db: Database, username: str, *, label: str = "cli", expires_days: float | None = None
) -> str:
    """A new API token for the Python clients (shown once)."""
    now = utcnow()
    expires_at = None if expires_days is None else now + timedelta(days=expires_days)
    return await accounts.issue_token(
        db,
        username,
        kind=TokenKind.API,
        label=label,
        expires_at=expires_at,
        actor=Actor.cli(),
        at=now,
    )


async def user_disable(db: Database, username: str) -> bool:
    return await accounts.disable_account(db, username, actor=Actor.cli(), at=utcnow())


async def terminal_add(
    db: Database, identity: str, village: str, *, token: bool = False
) -> tuple[TerminalView, str | None]:
    """Add a terminal; with `token`, also a device token for the Python village client (a kiosk
    browser is enrolled from the supervisor page instead)."""
    actor, now = Actor.cli(), utcnow()
    terminal = await accounts.add_terminal(db, identity, village, actor=actor, at=now)
    device_token = (
        await accounts.issue_device_token(db, identity, actor=actor, at=now) if token else None
    )
    return terminal, device_token


async def terminal_revoke(db: Database, identity: str) -> bool:
    return await accounts.revoke_terminal(db, identity, actor=Actor.cli(), at=utcnow())


# -- argparse ----------------------------------------------------------------------------------


def _data_dir_default() -> Path:
    default: Path = next(s.default for s in SETTINGS if s.name == "data_dir")
    return Path(os.environ.get("LAWROOM_DATA_DIR", str(default)))


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        default=None,
        help="database URL, e.g. postgresql+asyncpg://user@host/lawroom (env LAWROOM_DATABASE; "
        "default: SQLite in the data directory)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        type=Path,
        help="the server's data directory: token key, embedded database (env LAWROOM_DATA_DIR)",
    )


def _csv(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `db`, `user` and `terminal` to the `lawroom` command's subparsers."""
    db = commands.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    _add_location(db_sub.add_parser("upgrade", help="apply migrations up to the latest"))
    _add_location(db_sub.add_parser("check", help="exit 1 if the database differs from the models"))

    user = commands.add_parser("user", help="lawyer, mediator and supervisor accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add an account (asks for the password)")
    add.add_argument("username", help="sign-in name, also the identity the clients use")
    add.add_argument("--role", required=True, choices=[r.value for r in AccountRole])
    add.add_argument("--name", required=True, help="name shown to villagers and supervisors")
    add.add_argument(
        "--topics",
        type=_csv,
        default=[],
        help=f"comma-separated topics answered (default any): {', '.join(TOPIC_SLUGS)}",
    )
    add.add_argument(
        "--languages",
        type=_csv,
        default=None,
        help="comma-separated languages spoken, zh and/or mn (default zh; none for supervisors)",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _add_location(add)
    token = user_sub.add_parser("token", help="issue an API token for the Python clients")
    token.add_argument("username")
    token.add_argument("--label", default="cli", help="what the token is for")
    token.add_argument("--expires-days", type=float, default=None, help="default: no expiry")
    _add_location(token)
    disable = user_sub.add_parser("disable", help="disable an account and revoke its tokens")
    disable.add_argument("username")
    _add_location(disable)

    terminal = commands.add_parser("terminal", help="village terminals")
    terminal_sub = terminal.add_subparsers(dest="terminal_command", required=True)
    tadd = terminal_sub.add_parser("add", help="add a terminal")
    tadd.add_argument("identity", help="the identity the terminal signs in with")
    tadd.add_argument("--village", required=True, help="the village's name as shown")
    tadd.add_argument(
        "--token",
        action="store_true",
        help="also print a device token (for the Python village client; a kiosk browser is "
        "enrolled from the supervisor page instead)",
    )
    _add_location(tadd)
    revoke = terminal_sub.add_parser("revoke", help="refuse a terminal from now on")
    revoke.add_argument("identity")
    _add_location(revoke)


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise StorageError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise StorageError("the passwords differ")
    return first


def run_db_command(
    args: argparse.Namespace, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """Run a parsed `db`, `user` or `terminal` command; the exit status."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    url = args.database if args.database is not None else os.environ.get("LAWROOM_DATABASE", "")
    data_dir = args.data_dir if args.data_dir is not None else _data_dir_default()
    try:
        if args.command == "db":
            return asyncio.run(_run_db(args.db_command, url, data_dir, stdout))
        if args.command == "user" and args.user_command == "add":
            password = _read_password(args, stdin)
            return asyncio.run(
                _with_db(url, data_dir, lambda db: _user_add(db, args, password, stdout))
            )
        handler = _HANDLERS[(args.command, getattr(args, f"{args.command}_command"))]
        return asyncio.run(_with_db(url, data_dir, lambda db: handler(db, args, stdout)))
    except (StorageError, WeakPassword) as exc:
        print(f"lawroom: {exc}", file=sys.stderr)
        return 1


async def _with_db(url: str, data_dir: Path, run: Callable[[Database], Awaitable[int]]) -> int:
    db = await open_database(url, data_dir)
    try:
        return await run(db)
    finally:
        await db.close()


async def _run_db(command: str, url: str, data_dir: Path, stdout: TextIO) -> int:
    shown = safe_url(url) if url else str(data_dir / "lawroom.db")
    if command == "upgrade":
        revision = await db_upgrade(url, data_dir)
        print(f"{shown}: at revision {revision}", file=stdout)
        return 0
    engine = create_engine(url or default_url(data_dir))
    try:
        diffs = await schema_drift(engine)
    finally:
        await engine.dispose()
    for diff in diffs:
        print(f"drift: {diff}", file=stdout)
    print(f"{shown}: {'differs from' if diffs else 'matches'} the models", file=stdout)
    return 1 if diffs else 0


async def _user_add(db: Database, args: argparse.Namespace, password: str, stdout: TextIO) -> int:
    role = AccountRole(args.role)
    languages = args.languages
    if languages is None:
        languages = [] if role is AccountRole.SUPERVISOR else ["zh"]
    account = await user_add(
        db,
        username=args.username,
        role=role,
        display_name=args.name,
        password=password,
        topics=args.topics,
        languages=languages,
    )
    print(f"added {account.role} {account.username}", file=stdout)
    return 0


async def _user_token(db: Database, args: argparse.Namespace, stdout: TextIO) -> int:
    token = await user_token(db, args.username, label=args.label, expires_days=args.expires_days)
    # The token alone on stdout, so scripts can capture it; the note goes to stderr.
    print(token, file=stdout)
    print(f"token for {args.username}: shown once, keep it in the client's config", file=sys.stderr)
    return 0


async def _user_disable(db: Database, args: argparse.Namespace, stdout: TextIO) -> int:
    changed = await user_disable(db, args.username)
    print(f"{args.username}: {'disabled' if changed else 'was already disabled'}", file=stdout)
    return 0


async def _terminal_add(db: Database, args: argparse.Namespace, stdout: TextIO) -> int:
    terminal, token = await terminal_add(db, args.identity, args.village, token=args.token)
    if token is not None:
        print(token, file=stdout)
        print(f"device token for {terminal.identity}: shown once", file=sys.stderr)
    else:
        print(f"added {terminal.identity}; enrol its kiosk from the supervisor page", file=stdout)
    return 0


async def _terminal_revoke(db: Database, args: argparse.Namespace, stdout: TextIO) -> int:
    changed = await terminal_revoke(db, args.identity)
    print(f"{args.identity}: {'revoked' if changed else 'was already revoked'}", file=stdout)
    return 0


_HANDLERS: Final[
    Mapping[tuple[str, str], Callable[[Database, argparse.Namespace, TextIO], Awaitable[int]]]
] = MappingProxyType(
    {
        ("user", "token"): _user_token,
        ("user", "disable"): _user_disable,
        ("terminal", "add"): _terminal_add,
        ("terminal", "revoke"): _terminal_revoke,
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lawroom", description="Lawroom storage commands")
    add_db_commands(parser.add_subparsers(dest="command", required=True))
    return run_db_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

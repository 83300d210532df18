"""The operator's commands, run as `lawroom` would run them (parsed arguments, own event loop)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from server.db import accounts, audit
from server.db.cli import add_db_commands, run_db_command
from server.db.engine import head_revision, open_database
from server.db.models import ActorKind, AuditAction, utcnow
from signaling.messages import Language
from tests.db.conftest import run_in_thread


def lawroom(*argv: str, stdin: str = "") -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="lawroom")
    add_db_commands(parser.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    status = run_db_command(parser.parse_args(argv), stdin=io.StringIO(stdin), stdout=out)
    return status, out.getvalue()


async def check_tokens(
    url: str, data_dir: Path, user_token: str, device_token: str
) -> tuple[bool, bool, list[tuple[ActorKind, AuditAction]]]:
    db = await open_database(url, data_dir)
    try:
        account = await accounts.authenticate_token(db, "lawyer-1", user_token, utcnow())
        terminal = await accounts.authenticate_terminal(db, "village-1", device_token)
        assert account is not None and account.languages == (Language.MN, Language.ZH)
        entries = [(e.actor_kind, e.action) for e in reversed(await audit.entries(db))]
        return account is not None, terminal is not None, entries
    finally:
        await db.close()


@pytest.mark.timeout(90)
def test_accounts_and_terminals_from_the_command_line(
    database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--database", database_url, "--data-dir", str(data_dir))
    # A named database is upgraded by the operator, not by the first command that opens it.
    status, _ = lawroom("user", "token", "lawyer-1", *where)
    assert status == 1 and "lawroom db upgrade" in capsys.readouterr().err

    assert lawroom("db", "upgrade", *where)[0] == 0
    status, out = lawroom("db", "check", *where)
    assert (status, out.strip().endswith("matches the models")) == (0, True)

    add = ("user", "add", "lawyer-1", "--role", "lawyer", "--name", "张律师")
    profile = ("--topics", "land,labour", "--languages", "zh,mn", "--password-stdin")
    status, out = lawroom(*add, *profile, *where, stdin="correct horse battery\n")
    assert (status, out) == (0, "added lawyer lawyer-1\n")
    status, _ = lawroom(*add, *profile, *where, stdin="correct horse battery\n")
    assert status == 1 and "exists" in capsys.readouterr().err
    # No terminal to ask on, and no --password-stdin: refused, not hung.
    status, _ = lawroom("user", "add", "lawyer-2", "--role", "lawyer", "--name", "李", *where)
    assert status == 1 and "--password-stdin" in capsys.readouterr().err

    status, user_token = lawroom("user", "token", "lawyer-1", *where)
    assert status == 0 and user_token.startswith("lra_")
    status, device_token = lawroom(
        "terminal", "add", "village-1", "--village", "巴彦村", "--token", *where
    )
    assert status == 0 and device_token.startswith("lrd_")
    assert "shown once" in capsys.readouterr().err

    account_ok, terminal_ok, entries = run_in_thread(
        check_tokens(database_url, data_dir, user_token.strip(), device_token.strip())
    )
    assert (account_ok, terminal_ok) == (True, True)

    assert lawroom("terminal", "revoke", "village-1", *where) == (0, "village-1: revoked\n")
    assert lawroom("terminal", "revoke", "village-1", *where) == (
        0,
        "village-1: was already revoked\n",
    )
    assert lawroom("user", "disable", "lawyer-1", *where) == (0, "lawyer-1: disabled\n")
    status, _ = lawroom("terminal", "revoke", "village-9", *where)
    assert status == 1 and "no terminal 'village-9'" in capsys.readouterr().err
    assert entries == [
        (ActorKind.CLI, AuditAction.ACCOUNT_CREATE),
        (ActorKind.CLI, AuditAction.TOKEN_ISSUE),
        (ActorKind.CLI, AuditAction.TERMINAL_ADD),
        (ActorKind.CLI, AuditAction.TERMINAL_TOKEN),
    ]


@pytest.mark.timeout(60)
def test_the_embedded_database_needs_no_upgrade_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAWROOM_DATABASE", raising=False)
    monkeypatch.setenv("LAWROOM_DATA_DIR", str(tmp_path / "data"))
    status, out = lawroom("terminal", "add", "village-1", "--village", "巴彦村")
    assert (status, out) == (0, "added village-1; enrol its kiosk from the supervisor page\n")
    assert (tmp_path / "data" / "lawroom.db").is_file()
    status, out = lawroom("db", "upgrade")
    assert status == 0 and out.endswith(f"at revision {head_revision()}\n")

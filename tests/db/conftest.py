"""Fixtures: every storage test runs on SQLite (a file per test) and on PostgreSQL (a throwaway
server started once per session, a database per test).

PostgreSQL comes from `LAWROOM_TEST_POSTGRES_URL` (a URL whose user may create databases) or is
started here from the Debian packages' initdb and pg_ctl, as the `postgres` user when run as
root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import argon2
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from server.db.engine import Database, open_database
from server.db.passwords import Passwords

POSTGRES_ENV = "LAWROOM_TEST_POSTGRES_URL"

T = TypeVar("T")


def run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a loop of its own, away from pytest-asyncio's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass(frozen=True)
class PostgresServer:
    admin_url: str  # connects to a maintenance database as a user allowed to CREATE DATABASE

    def url_for(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    async def create_database(self, name: str) -> None:
        async with self._admin() as conn:
            version = int((await conn.execute(text("SHOW server_version_num"))).scalar_one())
            # PostgreSQL 15 copies the template through the WAL by default: 2 s instead of 0.2.
            strategy = " STRATEGY = FILE_COPY" if version >= 150000 else ""
            await conn.execute(text(f'CREATE DATABASE "{name}"{strategy}'))

    async def drop_database(self, name: str) -> None:
        async with self._admin() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    @contextlib.asynccontextmanager
    async def _admin(self) -> AsyncIterator[AsyncConnection]:
        url = make_url(self.admin_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+asyncpg")
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                yield conn
        finally:
            await engine.dispose()


def _postgres_bindir() -> Path | None:
    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.parent.parent.name.split(".") if x.isdigit())

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        pytest.fail(f"{what} failed ({result.returncode}): {result.stderr}{result.stdout}{tail}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if url := os.environ.get(POSTGRES_ENV):
        yield PostgresServer(url)
        return
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip(
            f"PostgreSQL binaries not found (apt-get install postgresql, or set {POSTGRES_ENV})"
        )
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no `postgres` user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="lawroom-pg-"))
    data, log, pwfile = base / "data", base / "server.log", base / "password"
    password = secrets.token_urlsafe(18)
    pwfile.write_text(password + "\n")
    if owner is not None:
        for path in (base, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    try:
        _run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "lawroom",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            "initdb",
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} "
            # A throwaway server: durability is not wanted, speed is.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        # -w -t: pg_ctl waits until the server accepts connections, at most 60 s.
        _run(
            [
                *as_user,
                str(bindir / "pg_ctl"),
                *("-D", str(data), "-l", str(log), "-o", options),
                *("-w", "-t", "60", "start"),
            ],
            "pg_ctl start",
            log,
        )
        _run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "30"],
            "pg_isready",
            log,
        )
        yield PostgresServer(f"postgresql+asyncpg://lawroom:{password}@127.0.0.1:{port}/postgres")
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"lawroom_test_{secrets.token_hex(6)}"
    run_in_thread(server.create_database(name))
    try:
        yield server.url_for(name)
    finally:
        run_in_thread(server.drop_database(name))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def db(database_url: str, data_dir: Path) -> AsyncIterator[Database]:
    """An upgraded database. Passwords are hashed with argon2's cheapest profile here; one test
    checks the real one."""
    database = await open_database(
        database_url, data_dir, upgrade=True, passwords=Passwords(argon2.profiles.CHEAPEST)
    )
    try:
        yield database
    finally:
        await database.close()

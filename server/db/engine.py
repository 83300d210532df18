"""The `Database` handle the app opens and closes: engine, sessions, token key, password hasher;
and the Alembic migrations applied to it.

Nothing here is global: whoever opens a Database holds it (the app in an AppKey, the CLI for one
command, a test for one test) and closes it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from server.db.errors import DatabaseNotUpgraded
from server.db.models import Base
from server.db.passwords import Passwords
from server.db.tokens import TokenHasher, load_or_create_secret

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
DB_FILE: Final = "lawroom.db"
# How long a SQLite writer waits for another to finish before giving up.
SQLITE_BUSY_MS: Final = 10_000


def default_url(data_dir: Path) -> str:
    """The embedded database: one SQLite file in the data directory."""
    return f"sqlite+aiosqlite:///{(data_dir / DB_FILE).resolve()}"


def safe_url(url: str) -> str:
    """The URL with any password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


class _NoRowData(logging.Filter):
    """Drops the debug records that carry values: aiosqlite logs every call with its bound
    parameters, SQLAlchemy logs result rows ("Row (...)"); either may hold personal data.
    Statements themselves (no values) still log, for debugging."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        if record.name == "aiosqlite":
            return False
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


def _redact_driver_logs() -> None:
    # Loggers are process-wide by nature; adding the filter is idempotent, so every engine can.
    for name in ("aiosqlite", "sqlalchemy.engine.Engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoRowData) for f in logger.filters):
            logger.addFilter(_NoRowData())


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url` (sqlite+aiosqlite:// or postgresql+asyncpg://)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "asyncpg":
        # `postgresql://` names no async driver; asyncpg is the one installed.
        parsed = parsed.set(drivername="postgresql+asyncpg")
    # hide_parameters: bound values (a villager's name, a notes text) stay out of SQL logs and
    # out of the messages of database exceptions.
    engine = _create_async_engine(parsed, hide_parameters=True, pool_pre_ping=True)
    _redact_driver_logs()
    event.listen(engine.sync_engine, "handle_error", _drop_error_details)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _drop_error_details(context: ExceptionContext) -> None:
    """PostgreSQL's DETAIL of a CHECK or NOT NULL violation is the whole failing row ("Failing
    row contains (...)"), personal data included; asyncpg puts it in the exception's text, and
    so into tracebacks and logs. The constraint's name in the message says enough."""
    error: BaseException | None = context.original_exception
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "detail", None) is not None:
            error.detail = None  # type: ignore[attr-defined]
        error = error.__cause__ or error.__context__


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling starts transactions late and breaks SAVEPOINT
        # and transactional DDL; SQLAlchemy's "begin" event below takes over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers do not block the writer. foreign_keys: off by default in SQLite.
            # synchronous stays FULL: a committed note survives a power cut, not only a crash.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then
        # writes fails at once with "database is locked" if another wrote in between (the busy
        # timeout cannot help it); one writer at a time is plenty for one embedded server.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenHasher
    passwords: Passwords

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session in a transaction, committed on leaving the block (rolled back on error)."""
        return self.sessions.begin()

    async def close(self) -> None:
        await self.engine.dispose()


async def open_database(
    url: str,
    data_dir: Path,
    *,
    upgrade: bool | None = None,
    passwords: Passwords | None = None,
) -> Database:
    """Open the database named by `url` ("" for the embedded default in `data_dir`).

    `upgrade=None` applies migrations to the embedded default and only checks a named database
    (whose upgrade an operator runs with `lawroom db upgrade`); DatabaseNotUpgraded then says what
    to run. The token key is read from (or created in) `data_dir`.
    """
    embedded = not url
    url = url or default_url(data_dir)
    # Also makes the data directory, which the embedded database file goes into.
    key = await asyncio.to_thread(load_or_create_secret, data_dir)
    if embedded:
        await asyncio.to_thread(_create_private, data_dir / DB_FILE)
    engine = create_engine(url)
    try:
        if upgrade or (upgrade is None and embedded):
            await upgrade_database(engine)
        else:
            current, head = await current_revision(engine), head_revision()
            if current != head:
                raise DatabaseNotUpgraded(
                    f"the database {safe_url(url)} is at revision {current or 'none'}, the code "
                    f"needs {head}: run `lawroom db upgrade --database URL`"
                )
    except BaseException:
        await engine.dispose()
        raise
    return Database(
        engine=engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        tokens=TokenHasher(key),
        passwords=passwords or Passwords(),
    )


def _create_private(path: Path) -> None:
    """Make the database file 0600 before SQLite does (it would follow the umask; its -wal and
    -shm files copy the database file's mode): it holds personal data."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


# -- migrations --------------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the scripts ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Module names the type checker accepts (not starting with a digit).
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    # env.py runs on this connection instead of making an engine of its own.
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have no head"
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction (SQLite and PostgreSQL both have
    transactional DDL, so a failed upgrade leaves the database as it was)."""

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    before = await current_revision(engine)
    async with engine.begin() as conn:
        await conn.run_sync(run)
    after = await current_revision(engine)
    if before != after:
        log.info("database upgraded from %s to %s", before or "empty", after)


async def schema_drift(engine: AsyncEngine) -> Sequence[Any]:
    """What Alembic's autogenerate would change to make the database match the models: empty
    when the migrations and the models agree."""

    def compare(connection: Connection) -> Sequence[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs: Sequence[Any] = compare_metadata(context, Base.metadata)
        return diffs

    async with engine.connect() as conn:
        return await conn.run_sync(compare)

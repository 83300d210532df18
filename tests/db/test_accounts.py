"""Accounts, tokens, terminal enrolment and the signaling directory, against a real database."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import argon2
import pytest
from sqlalchemy import select, text

from server.db import accounts, audit
from server.db.accounts import ENROLMENT_TTL
from server.db.audit import Actor
from server.db.directory import DbDirectory
from server.db.engine import Database
from server.db.errors import AlreadyExists, EnrolmentError, InvalidValue, NotFound
from server.db.models import Account, AccountRole, AuditAction, Base, TokenKind
from server.db.passwords import Passwords, WeakPassword
from server.db.tokens import load_or_create_secret, normalize_code
from signaling.identity import Identity
from signaling.messages import Language, Role
from tests.db.times import at

SUPERVISOR = Actor.account("chief")
PASSWORD = "correct horse battery"


async def add_lawyer(db: Database, username: str = "lawyer-1") -> None:
    await accounts.create_account(
        db,
        username=username,
        role=AccountRole.LAWYER,
        display_name="张律师",
        password=PASSWORD,
        topics=["labour", "land"],
        languages=[Language.ZH, Language.MN],
        actor=SUPERVISOR,
        at=at(0),
    )


async def everything_stored(db: Database) -> str:
    """Every row of every table as text (what a stolen database copy would show)."""
    dump: list[str] = []
    async with db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                dump.append(repr(tuple(row)))
        version = await session.execute(text("SELECT version_num FROM alembic_version"))
        dump.extend(str(v) for v in version.scalars())
    return "\n".join(dump)


# -- accounts ----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_create_verify_and_disable_an_account(db: Database) -> None:
    await add_lawyer(db)
    account = await accounts.verify_password(db, "lawyer-1", PASSWORD, at(1))
    assert account is not None
    assert (account.role, account.display_name, account.topics, account.languages) == (
        AccountRole.LAWYER,
        "张律师",
        ("labour", "land"),
        (Language.MN, Language.ZH),
    )
    assert await accounts.disable_account(db, "lawyer-1", actor=SUPERVISOR, at=at(2)) is True
    assert await accounts.disable_account(db, "lawyer-1", actor=SUPERVISOR, at=at(3)) is False
    assert await accounts.verify_password(db, "lawyer-1", PASSWORD, at(4)) is None
    assert await accounts.enable_account(db, "lawyer-1", actor=SUPERVISOR, at=at(5)) is True
    assert await accounts.verify_password(db, "lawyer-1", PASSWORD, at(6)) is not None

    actions = [(e.action, e.actor, e.target) for e in reversed(await audit.entries(db))]
    assert actions == [
        (AuditAction.ACCOUNT_CREATE, "chief", "lawyer-1"),
        (AuditAction.ACCOUNT_DISABLE, "chief", "lawyer-1"),
        (AuditAction.ACCOUNT_ENABLE, "chief", "lawyer-1"),
    ]


@pytest.mark.timeout(60)
async def test_wrong_password_and_unknown_user_are_refused_alike(db: Database) -> None:
    await add_lawyer(db)
    assert await accounts.verify_password(db, "lawyer-1", PASSWORD + "!", at(1)) is None
    assert await accounts.verify_password(db, "lawyer-1", "", at(1)) is None
    assert await accounts.verify_password(db, "nobody", PASSWORD, at(1)) is None
    assert await accounts.verify_password(db, "lawyer-1", "x" * 5000, at(1)) is None


@pytest.mark.timeout(60)
async def test_passwords_are_stored_as_argon2id_only(db: Database) -> None:
    await add_lawyer(db)
    async with db.transaction() as session:
        stored = await session.scalar(select(Account.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in await everything_stored(db)


@pytest.mark.timeout(60)
async def test_a_password_hashed_with_old_parameters_is_rehashed_at_sign_in(
    db: Database,
) -> None:
    await add_lawyer(db)
    stronger = argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=1,
        memory_cost=1024,
        parallelism=1,
    )
    upgraded = Database(db.engine, db.sessions, db.tokens, Passwords(stronger))
    assert await accounts.verify_password(upgraded, "lawyer-1", PASSWORD, at(1)) is not None
    async with db.transaction() as session:
        stored = await session.scalar(select(Account.password_hash))
    assert stored is not None and "m=1024,t=1,p=1" in stored
    assert await accounts.verify_password(upgraded, "lawyer-1", PASSWORD, at(2)) is not None


@pytest.mark.timeout(60)
async def test_account_validation(db: Database) -> None:
    await add_lawyer(db)
    with pytest.raises(AlreadyExists):
        await add_lawyer(db)
    with pytest.raises(InvalidValue, match="username"):
        await accounts.create_account(
            db,
            username="' OR 1=1 --",
            role=AccountRole.LAWYER,
            password=PASSWORD,
            languages=["zh"],
            display_name="某人",
            actor=SUPERVISOR,
            at=at(1),
        )
    with pytest.raises(InvalidValue, match="supervisor"):
        await accounts.create_account(
            db,
            username="chief",
            role=AccountRole.SUPERVISOR,
            password=PASSWORD,
            topics=["land"],
            display_name="某人",
            actor=SUPERVISOR,
            at=at(1),
        )
    with pytest.raises(InvalidValue, match="unknown topics"):
        await accounts.create_account(
            db,
            username="lawyer-2",
            role=AccountRole.LAWYER,
            password=PASSWORD,
            topics=["astrology"],
            languages=["zh"],
            display_name="某人",
            actor=SUPERVISOR,
            at=at(1),
        )
    with pytest.raises(WeakPassword):
        await accounts.create_account(
            db,
            username="lawyer-2",
            role=AccountRole.LAWYER,
            password="short",
            languages=["zh"],
            display_name="某人",
            actor=SUPERVISOR,
            at=at(1),
        )
    assert [a.username for a in await accounts.list_accounts(db)] == ["lawyer-1"]


@pytest.mark.timeout(60)
async def test_a_professionals_topics_and_languages_live_on_the_account(db: Database) -> None:
    await accounts.create_account(
        db,
        username="mediator-1",
        role=AccountRole.MEDIATOR,
        display_name="王调解员",
        password=PASSWORD,
        topics=["neighbour"],
        languages=["mn"],
        actor=SUPERVISOR,
        at=at(0),
    )
    # Overlapping with what was there: the kept rows must not clash with themselves.
    changed = await accounts.set_profile(
        db,
        "mediator-1",
        topics=["neighbour", "land"],
        languages=["zh", "mn"],
        actor=SUPERVISOR,
        at=at(1),
    )
    assert (changed.topics, changed.languages) == (
        ("land", "neighbour"),
        (Language.MN, Language.ZH),
    )
    stored = await accounts.get_account(db, "mediator-1")
    assert stored == changed
    token = await accounts.issue_token(db, "mediator-1", actor=SUPERVISOR, at=at(2))
    directory = DbDirectory(db, now=lambda: at(3))
    # Signed in, a professional brings what they take: dispatch matches on it.
    assert await directory.authenticate(Role.MEDIATOR, "mediator-1", token) == Identity(
        Role.MEDIATOR, "mediator-1", "王调解员", ("land", "neighbour"), (Language.MN, Language.ZH)
    )
    assert await accounts.get_account(db, "nobody") is None
    [entry] = await audit.entries(db, action=AuditAction.ACCOUNT_PROFILE)
    assert entry.detail == "topics=land,neighbour languages=mn,zh"


@pytest.mark.timeout(60)
async def test_hashing_runs_off_the_event_loop() -> None:
    """With the real parameters (64 MiB), the loop keeps turning while a hash is made."""
    passwords = Passwords()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    encoded = await passwords.hash(PASSWORD)
    assert await passwords.verify(encoded, PASSWORD)
    assert not await passwords.verify(encoded, "wrong password")
    done.set()
    await task
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert ticks > 10


# -- account tokens ----------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_api_tokens_sign_in_until_revoked_or_disabled(db: Database) -> None:
    await add_lawyer(db)
    directory = DbDirectory(db, now=lambda: at(10))
    token = await accounts.issue_token(db, "lawyer-1", label="laptop", actor=SUPERVISOR, at=at(1))
    assert token.startswith("lra_") and len(token) > 40
    expected = Identity(
        Role.LAWYER, "lawyer-1", "张律师", ("labour", "land"), (Language.MN, Language.ZH)
    )
    assert await directory.authenticate(Role.LAWYER, "lawyer-1", token) == expected
    # Right token, wrong identity or role; wrong token.
    assert await directory.authenticate(Role.LAWYER, "lawyer-2", token) is None
    assert await directory.authenticate(Role.MEDIATOR, "lawyer-1", token) is None
    assert await directory.authenticate(Role.VILLAGE, "lawyer-1", token) is None
    assert await directory.authenticate(Role.LAWYER, "lawyer-1", token + "x") is None

    second = await accounts.issue_token(db, "lawyer-1", actor=SUPERVISOR, at=at(2))
    assert await accounts.revoke_token(db, token, at(3)) is True
    assert await accounts.revoke_token(db, token, at(3)) is False
    assert await directory.authenticate(Role.LAWYER, "lawyer-1", token) is None
    assert await directory.authenticate(Role.LAWYER, "lawyer-1", second) == expected

    await accounts.disable_account(db, "lawyer-1", actor=SUPERVISOR, at=at(4))
    assert await directory.authenticate(Role.LAWYER, "lawyer-1", second) is None
    # Enabling again does not bring old tokens back.
    await accounts.enable_account(db, "lawyer-1", actor=SUPERVISOR, at=at(5))
    assert await directory.authenticate(Role.LAWYER, "lawyer-1", second) is None
    assert token not in await everything_stored(db)


@pytest.mark.timeout(60)
async def test_session_tokens_expire(db: Database) -> None:
    await add_lawyer(db)
    token = await accounts.issue_token(
        db,
        "lawyer-1",
        kind=TokenKind.SESSION,
        expires_at=at(3600),
        actor=Actor.account("lawyer-1"),
        at=at(0),
    )
    assert await accounts.authenticate_token(db, "lawyer-1", token, at(3599)) is not None
    assert await accounts.authenticate_token(db, "lawyer-1", token, at(3600)) is None
    # Session tokens are sign-ins, not account changes: only the creation is audited.
    assert [e.action for e in await audit.entries(db)] == [AuditAction.ACCOUNT_CREATE]


@pytest.mark.timeout(60)
async def test_supervisors_do_not_sign_in_to_signaling(db: Database) -> None:
    await accounts.create_account(
        db,
        username="chief",
        role=AccountRole.SUPERVISOR,
        display_name="局长",
        password=PASSWORD,
        actor=Actor.cli(),
        at=at(0),
    )
    token = await accounts.issue_token(db, "chief", actor=Actor.cli(), at=at(1))
    directory = DbDirectory(db, now=lambda: at(2))
    for role in Role:
        assert await directory.authenticate(role, "chief", token) is None
    assert await accounts.authenticate_token(db, "chief", token, at(2)) is not None


# -- terminals and enrolment -------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_enrolment_gives_the_kiosk_a_token_once(db: Database, data_dir: Path) -> None:
    await accounts.add_terminal(db, "village-1", "巴彦村", actor=SUPERVISOR, at=at(0))
    start = await accounts.start_enrolment(db, at(10))
    assert start.expires_at == at(10) + ENROLMENT_TTL
    assert len(normalize_code(start.code)) == 8

    # The kiosk polls before anyone has confirmed.
    assert await accounts.claim_enrolment(db, start.claim_secret, at(11)) is None
    # The supervisor types the code as people do: lower case, no dash, O for 0.
    typed = normalize_code(start.code).lower().replace("0", "o")
    terminal = await accounts.confirm_enrolment(db, typed, "village-1", actor=SUPERVISOR, at=at(20))
    assert terminal.identity == "village-1" and not terminal.active
    with pytest.raises(EnrolmentError) as again:
        await accounts.confirm_enrolment(db, start.code, "village-1", actor=SUPERVISOR, at=at(21))
    assert again.value.code == "enrolment_used"

    credential = await accounts.claim_enrolment(db, start.claim_secret, at(22))
    assert credential is not None
    assert (credential.identity, credential.village) == ("village-1", "巴彦村")
    assert credential.token.startswith("lrd_")
    with pytest.raises(EnrolmentError) as twice:
        await accounts.claim_enrolment(db, start.claim_secret, at(23))
    assert twice.value.code == "enrolment_used"

    directory = DbDirectory(db)
    assert await directory.authenticate(Role.VILLAGE, "village-1", credential.token) == Identity(
        Role.VILLAGE, "village-1", "巴彦村"
    )
    assert await directory.authenticate(Role.VILLAGE, "village-2", credential.token) is None

    # Only keyed hashes are stored: neither the token, the code nor the claim secret appears in
    # any row, nor anywhere in the database's files.
    stored = await everything_stored(db)
    secrets_ = (credential.token, start.claim_secret, normalize_code(start.code), start.code)
    for secret in secrets_:
        assert secret not in stored
    if db.engine.dialect.name == "sqlite":
        database = Path(str(db.engine.url.database))
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert files
        for path in files:
            raw = path.read_bytes()
            for secret in secrets_:
                assert secret.encode() not in raw, path


@pytest.mark.timeout(60)
async def test_enrolment_codes_expire(db: Database) -> None:
    await accounts.add_terminal(db, "village-1", "巴彦村", actor=SUPERVISOR, at=at(0))
    late = await accounts.start_enrolment(db, at(0))
    deadline = ENROLMENT_TTL.total_seconds()
    with pytest.raises(EnrolmentError) as expired:
        await accounts.confirm_enrolment(
            db, late.code, "village-1", actor=SUPERVISOR, at=at(deadline)
        )
    assert expired.value.code == "enrolment_expired"

    # Confirmed in time but claimed too late: the token is never handed out.
    slow = await accounts.start_enrolment(db, at(0))
    await accounts.confirm_enrolment(
        db, slow.code, "village-1", actor=SUPERVISOR, at=at(deadline - 1)
    )
    with pytest.raises(EnrolmentError) as unclaimed:
        await accounts.claim_enrolment(db, slow.claim_secret, at(deadline))
    assert unclaimed.value.code == "enrolment_expired"

    with pytest.raises(EnrolmentError) as unknown:
        await accounts.confirm_enrolment(db, "ZZZZ-ZZZZ", "village-1", actor=SUPERVISOR, at=at(1))
    assert unknown.value.code == "enrolment_unknown"
    with pytest.raises(NotFound):
        fresh = await accounts.start_enrolment(db, at(1))
        await accounts.confirm_enrolment(db, fresh.code, "village-9", actor=SUPERVISOR, at=at(2))

    # Three expired unclaimed by then (the fresh one at the last moment); none claimed.
    assert await accounts.purge_enrolments(db, at(deadline + 2)) == 3
    terminal = await accounts.get_terminal(db, "village-1")
    assert terminal is not None and not terminal.active


@pytest.mark.timeout(60)
async def test_revoking_a_terminal_takes_effect_at_once(db: Database) -> None:
    await accounts.add_terminal(db, "village-1", "巴彦村", actor=SUPERVISOR, at=at(0))
    token = await accounts.issue_device_token(db, "village-1", actor=SUPERVISOR, at=at(1))
    directory = DbDirectory(db)
    assert await directory.authenticate(Role.VILLAGE, "village-1", token) is not None
    # A kiosk confirmed but not yet claimed when the terminal is revoked gets nothing.
    pending = await accounts.start_enrolment(db, at(2))
    await accounts.confirm_enrolment(db, pending.code, "village-1", actor=SUPERVISOR, at=at(3))

    assert await accounts.revoke_terminal(db, "village-1", actor=SUPERVISOR, at=at(4)) is True
    assert await accounts.revoke_terminal(db, "village-1", actor=SUPERVISOR, at=at(5)) is False
    assert await directory.authenticate(Role.VILLAGE, "village-1", token) is None
    with pytest.raises(EnrolmentError):
        await accounts.claim_enrolment(db, pending.claim_secret, at(6))
    terminal = await accounts.get_terminal(db, "village-1")
    assert terminal is not None and terminal.revoked_at == at(4) and not terminal.active

    # Enrolling it again is a supervisor's deliberate act, and it is audited.
    again = await accounts.start_enrolment(db, at(7))
    await accounts.confirm_enrolment(db, again.code, "village-1", actor=SUPERVISOR, at=at(8))
    credential = await accounts.claim_enrolment(db, again.claim_secret, at(9))
    assert credential is not None
    assert await directory.authenticate(Role.VILLAGE, "village-1", credential.token) is not None
    assert await directory.authenticate(Role.VILLAGE, "village-1", token) is None
    actions = [e.action for e in reversed(await audit.entries(db))]
    assert actions == [
        AuditAction.TERMINAL_ADD,
        AuditAction.TERMINAL_TOKEN,
        AuditAction.TERMINAL_ENROL,
        AuditAction.TERMINAL_REVOKE,
        AuditAction.TERMINAL_ENROL,
    ]


@pytest.mark.timeout(60)
async def test_terminal_validation(db: Database) -> None:
    await accounts.add_terminal(db, "village-1", "巴彦村", actor=SUPERVISOR, at=at(0))
    with pytest.raises(AlreadyExists):
        await accounts.add_terminal(db, "village-1", "乌兰村", actor=SUPERVISOR, at=at(1))
    with pytest.raises(InvalidValue):
        await accounts.add_terminal(db, "village 2", "乌兰村", actor=SUPERVISOR, at=at(1))
    with pytest.raises(InvalidValue):
        await accounts.add_terminal(db, "village-2", "  ", actor=SUPERVISOR, at=at(1))
    with pytest.raises(NotFound):
        await accounts.revoke_terminal(db, "village-9", actor=SUPERVISOR, at=at(1))
    assert [t.identity for t in await accounts.list_terminals(db)] == ["village-1"]


@pytest.mark.timeout(30)
def test_the_token_key_is_made_once_and_private(tmp_path: Path) -> None:
    key = load_or_create_secret(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert len(key) == 32
    assert load_or_create_secret(tmp_path / "data") == key

"""Accounts (lawyers, mediators, supervisors) and village terminals: creation, sign-in, tokens,
kiosk enrolment and revocation.

Every check reads the database, nothing is cached, so disabling an account or revoking a terminal
refuses its next sign-in at once (closing a connection already open is the hub's part).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import audit
from server.db.audit import Actor
from server.db.engine import Database
from server.db.errors import AlreadyExists, EnrolmentError, InvalidValue, NotFound
from server.db.models import (
    IDENTITY_LEN,
    NAME_LEN,
    Account,
    AccountLanguage,
    AccountRole,
    AccountToken,
    AccountTopic,
    AuditAction,
    Enrolment,
    Terminal,
    TokenKind,
    require_aware,
)
from server.db.tokens import (
    ACCOUNT_TOKEN_PREFIX,
    CLAIM_PREFIX,
    DEVICE_TOKEN_PREFIX,
    new_code,
    new_token,
    normalize_code,
)
from signaling.messages import Language
from signaling.topics import TOPIC_SLUGS

# Like a hello identity, but only characters that are safe in a URL, a log line and a shell.
IDENTITY_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENROLMENT_TTL: Final = timedelta(minutes=10)

# HMAC purposes: a hash made for one kind of secret never matches another kind.
_ACCOUNT_TOKEN: Final = "account-token"
_DEVICE_TOKEN: Final = "device-token"
_ENROL_CODE: Final = "enrol-code"
_ENROL_CLAIM: Final = "enrol-claim"


# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountView:
    username: str
    role: AccountRole
    display_name: str
    topics: tuple[str, ...]
    languages: tuple[Language, ...]
    created_at: datetime
    disabled_at: datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class TerminalView:
    identity: str
    village: str
    created_at: datetime
    enrolled_at: datetime | None
    revoked_at: datetime | None
    has_token: bool

    @property
    def active(self) -> bool:
        """It can sign in: it holds a device token and is not revoked."""
        return self.has_token and self.revoked_at is None


@dataclass(frozen=True, slots=True)
class EnrolmentStart:
    """What the kiosk page gets: the code to show, the secret to claim its token with."""

    code: str
    claim_secret: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    """What the kiosk keeps: handed over once, then only its hash exists."""

    identity: str
    village: str
    token: str


def _account_view(a: Account) -> AccountView:
    return AccountView(
        username=a.username,
        role=a.role,
        display_name=a.display_name,
        topics=tuple(t.topic for t in a.topics),
        languages=tuple(lang.language for lang in a.languages),
        created_at=a.created_at,
        disabled_at=a.disabled_at,
    )


def _terminal_view(t: Terminal) -> TerminalView:
    return TerminalView(
        identity=t.identity,
        village=t.village,
        created_at=t.created_at,
        enrolled_at=t.enrolled_at,
        revoked_at=t.revoked_at,
        has_token=t.device_token_hash is not None,
    )


# -- validation --------------------------------------------------------------------------------


def check_identity(identity: str, what: str = "username") -> str:
    if not IDENTITY_RE.fullmatch(identity):
        raise InvalidValue(
            f"{what} {identity!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    return identity


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_LEN:
        raise InvalidValue(f"{what}: 1-{NAME_LEN} characters")
    return name


def _check_profile(
    role: AccountRole, topics: Iterable[str], languages: Iterable[Language | str]
) -> tuple[list[str], list[Language]]:
    topic_list = sorted(set(topics))
    unknown = [t for t in topic_list if t not in TOPIC_SLUGS]
    if unknown:
        raise InvalidValue(f"unknown topics {unknown}; known: {', '.join(TOPIC_SLUGS)}")
    try:
        language_list = sorted({Language(lang) for lang in languages})
    except ValueError:
        known = ", ".join(lang.value for lang in Language)
        raise InvalidValue(f"unknown language in {list(languages)}; known: {known}") from None
    if role is AccountRole.SUPERVISOR and (topic_list or language_list):
        raise InvalidValue("a supervisor answers no consultations: give no topics or languages")
    if role is not AccountRole.SUPERVISOR and not language_list:
        raise InvalidValue("a lawyer or mediator needs at least one language")
    return topic_list, language_list


async def _account(session: AsyncSession, username: str) -> Account:
    account = await session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise NotFound(f"no account {username!r}")
    return account


async def _terminal(session: AsyncSession, identity: str) -> Terminal:
    terminal = await session.scalar(select(Terminal).where(Terminal.identity == identity))
    if terminal is None:
        raise NotFound(f"no terminal {identity!r}")
    return terminal


# -- accounts ----------------------------------------------------------------------------------


async def create_account(
    db: Database,
    *,
    username: str,
    role: AccountRole,
    display_name: str,
    password: str,
    topics: Iterable[str] = (),
    languages: Iterable[Language | str] = (),
    actor: Actor,
    at: datetime,
) -> AccountView:
    """A new account. A professional's topics (empty: any) and languages live on it."""
    require_aware(at)
    check_identity(username)
    display_name = _check_name(display_name, "display name")
    topic_list, language_list = _check_profile(role, topics, languages)
    # Hash before the transaction: no lock is held while argon2 works.
    password_hash = await db.passwords.hash(password)
    account = Account(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=password_hash,
        created_at=at,
        disabled_at=None,
        topics=[AccountTopic(topic=t) for t in topic_list],
        languages=[AccountLanguage(language=lang) for lang in language_list],
    )
    try:
        async with db.transaction() as session:
            if await session.scalar(select(Account.id).where(Account.username == username)):
                raise AlreadyExists(f"an account {username!r} exists")
            session.add(account)
            audit.append(
                session, actor, AuditAction.ACCOUNT_CREATE, at, target=username, detail=role
            )
    except IntegrityError:
        # Two creations of one username at once: the unique constraint decides.
        raise AlreadyExists(f"an account {username!r} exists") from None
    return _account_view(account)


async def get_account(db: Database, username: str) -> AccountView | None:
    async with db.transaction() as session:
        account = await session.scalar(select(Account).where(Account.username == username))
        return None if account is None else _account_view(account)


async def list_accounts(db: Database) -> list[AccountView]:
    async with db.transaction() as session:
        accounts = await session.scalars(select(Account).order_by(Account.username))
        return [_account_view(a) for a in accounts]


async def verify_password(
    db: Database, username: str, password: str, at: datetime
) -> AccountView | None:
    """The account if the password is right and the account enabled, else None (the same work is
    done for an unknown username, so timing tells nothing)."""
    require_aware(at)
    async with db.transaction() as session:
        account = await session.scalar(select(Account).where(Account.username == username))
        view = None if account is None else _account_view(account)
        encoded = None if account is None or account.disabled_at else account.password_hash
    # Verify outside the transaction: SQLite would hold its write lock through argon2.
    if not await db.passwords.verify(encoded, password) or view is None or encoded is None:
        return None
    if db.passwords.needs_rehash(encoded):
        new_hash = await db.passwords.hash(password, check=False)
        async with db.transaction() as session:
            # Only if unchanged meanwhile: never undo a password change made in between.
            await session.execute(
                update(Account)
                .where(Account.username == username, Account.password_hash == encoded)
                .values(password_hash=new_hash)
            )
    return view


async def set_password(
    db: Database, username: str, password: str, *, actor: Actor, at: datetime
) -> None:
    require_aware(at)
    password_hash = await db.passwords.hash(password)
    async with db.transaction() as session:
        account = await _account(session, username)
        account.password_hash = password_hash
        audit.append(session, actor, AuditAction.ACCOUNT_PASSWORD, at, target=username)


async def set_profile(
    db: Database,
    username: str,
    *,
    topics: Iterable[str],
    languages: Iterable[Language | str],
    actor: Actor,
    at: datetime,
) -> AccountView:
    """Replace a professional's topics and languages."""
    require_aware(at)
    async with db.transaction() as session:
        account = await _account(session, username)
        topic_list, language_list = _check_profile(account.role, topics, languages)
        account.topics = [AccountTopic(topic=t) for t in topic_list]
        account.languages = [AccountLanguage(language=lang) for lang in language_list]
        audit.append(
            session,
            actor,
            AuditAction.ACCOUNT_PROFILE,
            at,
            target=username,
            detail=f"topics={','.join(topic_list)} languages={','.join(language_list)}",
        )
        await session.flush()
        return _account_view(account)


async def disable_account(db: Database, username: str, *, actor: Actor, at: datetime) -> bool:
    """Disable an account and revoke its tokens; False if it was already disabled."""
    require_aware(at)
    async with db.transaction() as session:
        account = await _account(session, username)
        if account.disabled_at is not None:
            return False
        account.disabled_at = at
        await session.execute(
            update(AccountToken)
            .where(AccountToken.account_id == account.id, AccountToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        audit.append(session, actor, AuditAction.ACCOUNT_DISABLE, at, target=username)
        return True


async def enable_account(db: Database, username: str, *, actor: Actor, at: datetime) -> bool:
    """Enable a disabled account (its old tokens stay revoked); False if it was enabled."""
    require_aware(at)
    async with db.transaction() as session:
        account = await _account(session, username)
        if account.disabled_at is None:
            return False
        account.disabled_at = None
        audit.append(session, actor, AuditAction.ACCOUNT_ENABLE, at, target=username)
        return True


# -- account tokens ----------------------------------------------------------------------------


async def issue_token(
    db: Database,
    username: str,
    *,
    kind: TokenKind = TokenKind.API,
    label: str = "",
    expires_at: datetime | None = None,
    actor: Actor,
    at: datetime,
    token: str | None = None,
) -> str:
    """A new bearer token for an enabled account, returned once; only its hash is kept.
    `token` fixes its value (only the demo seed does).

    API tokens (`lawroom user token`) are audited; session tokens, issued at every page sign-in,
    are not (they are not account changes) and should carry an `expires_at`.
    """
    require_aware(at)
    if expires_at is not None:
        require_aware(expires_at)
    token = token or new_token(ACCOUNT_TOKEN_PREFIX)
    async with db.transaction() as session:
        account = await _account(session, username)
        if account.disabled_at is not None:
            raise InvalidValue(f"account {username!r} is disabled")
        session.add(
            AccountToken(
                account_id=account.id,
                token_hash=db.tokens.hash(_ACCOUNT_TOKEN, token),
                kind=kind,
                label=label.strip()[:NAME_LEN],
                created_at=at,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
        if kind is TokenKind.API:
            audit.append(session, actor, AuditAction.TOKEN_ISSUE, at, target=username)
    return token


async def revoke_token(db: Database, token: str, at: datetime) -> bool:
    """Revoke one token (signing out); False if it was unknown or already revoked."""
    require_aware(at)
    async with db.transaction() as session:
        result = await session.execute(
            update(AccountToken)
            .where(
                AccountToken.token_hash == db.tokens.hash(_ACCOUNT_TOKEN, token),
                AccountToken.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return _rowcount(result) == 1


async def revoke_tokens(db: Database, username: str, *, actor: Actor, at: datetime) -> int:
    """Revoke every token of an account; how many were live."""
    require_aware(at)
    async with db.transaction() as session:
        account = await _account(session, username)
        result = await session.execute(
            update(AccountToken)
            .where(AccountToken.account_id == account.id, AccountToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        count = _rowcount(result)
        audit.append(
            session, actor, AuditAction.TOKEN_REVOKE, at, target=username, detail=f"count={count}"
        )
        return count


async def authenticate_token(
    db: Database, username: str, token: str, at: datetime
) -> AccountView | None:
    """The account if `token` is a live token of `username` and the account is enabled."""
    require_aware(at)
    async with db.transaction() as session:
        account = await session.scalar(
            select(Account)
            .join(AccountToken, AccountToken.account_id == Account.id)
            .where(
                AccountToken.token_hash == db.tokens.hash(_ACCOUNT_TOKEN, token),
                Account.username == username,
                Account.disabled_at.is_(None),
                AccountToken.revoked_at.is_(None),
                (AccountToken.expires_at.is_(None)) | (AccountToken.expires_at > at),
            )
        )
        return None if account is None else _account_view(account)


# -- terminals ---------------------------------------------------------------------------------


async def add_terminal(
    db: Database, identity: str, village: str, *, actor: Actor, at: datetime
) -> TerminalView:
    """A terminal not yet enrolled: it signs in once a kiosk claims it or a token is issued."""
    require_aware(at)
    check_identity(identity, "terminal identity")
    village = _check_name(village, "village")
    terminal = Terminal(
        identity=identity,
        village=village,
        device_token_hash=None,
        created_at=at,
        enrolled_at=None,
        revoked_at=None,
    )
    try:
        async with db.transaction() as session:
            if await session.scalar(select(Terminal.id).where(Terminal.identity == identity)):
                raise AlreadyExists(f"a terminal {identity!r} exists")
            session.add(terminal)
            audit.append(session, actor, AuditAction.TERMINAL_ADD, at, target=identity)
    except IntegrityError:
        raise AlreadyExists(f"a terminal {identity!r} exists") from None
    return _terminal_view(terminal)


async def get_terminal(db: Database, identity: str) -> TerminalView | None:
    async with db.transaction() as session:
        terminal = await session.scalar(select(Terminal).where(Terminal.identity == identity))
        return None if terminal is None else _terminal_view(terminal)


async def list_terminals(db: Database) -> list[TerminalView]:
    async with db.transaction() as session:
        terminals = await session.scalars(select(Terminal).order_by(Terminal.identity))
        return [_terminal_view(t) for t in terminals]


def _give_token(db: Database, terminal: Terminal, at: datetime, token: str | None = None) -> str:
    token = token or new_token(DEVICE_TOKEN_PREFIX)
    # A new token replaces the old one: the previous kiosk (or a copy of its token) is out.
    terminal.device_token_hash = db.tokens.hash(_DEVICE_TOKEN, token)
    terminal.enrolled_at = at
    terminal.revoked_at = None
    return token


async def issue_device_token(
    db: Database, identity: str, *, actor: Actor, at: datetime, token: str | None = None
) -> str:
    """A device token straight away (for the Python village client, via `lawroom terminal add
    --token`), replacing any previous one and reinstating a revoked terminal. `token` fixes its
    value (only the demo seed does: its tokens are printed in the README)."""
    require_aware(at)
    async with db.transaction() as session:
        terminal = await _terminal(session, identity)
        token = _give_token(db, terminal, at, token)
        audit.append(session, actor, AuditAction.TERMINAL_TOKEN, at, target=identity)
    return token


async def revoke_terminal(db: Database, identity: str, *, actor: Actor, at: datetime) -> bool:
    """Refuse the terminal from now on; False if it was already revoked. Enrolments confirmed
    for it but not yet claimed die with it."""
    require_aware(at)
    async with db.transaction() as session:
        terminal = await _terminal(session, identity)
        if terminal.revoked_at is not None:
            return False
        terminal.revoked_at = at
        terminal.device_token_hash = None
        await session.execute(
            update(Enrolment)
            .where(
                Enrolment.terminal_id == terminal.id,
                Enrolment.claimed_at.is_(None),
                Enrolment.expires_at > at,
            )
            .values(expires_at=at)
        )
        audit.append(session, actor, AuditAction.TERMINAL_REVOKE, at, target=identity)
        return True


async def authenticate_terminal(db: Database, identity: str, token: str) -> TerminalView | None:
    async with db.transaction() as session:
        terminal = await session.scalar(
            select(Terminal).where(
                Terminal.device_token_hash == db.tokens.hash(_DEVICE_TOKEN, token),
                Terminal.identity == identity,
                Terminal.revoked_at.is_(None),
            )
        )
        return None if terminal is None else _terminal_view(terminal)


# -- kiosk enrolment ---------------------------------------------------------------------------
#
# 1. The unenrolled kiosk page calls start_enrolment and shows the code.
# 2. A signed-in supervisor types the code and picks the terminal: confirm_enrolment.
# 3. The kiosk, polling with its claim secret, gets its device token once: claim_enrolment.
# The device token never passes through the supervisor's hands or screen.


async def start_enrolment(
    db: Database, at: datetime, ttl: timedelta = ENROLMENT_TTL
) -> EnrolmentStart:
    require_aware(at)
    code, claim_secret = new_code(), new_token(CLAIM_PREFIX)
    expires_at = at + ttl
    async with db.transaction() as session:
        session.add(
            Enrolment(
                code_hash=db.tokens.hash(_ENROL_CODE, normalize_code(code)),
                claim_hash=db.tokens.hash(_ENROL_CLAIM, claim_secret),
                created_at=at,
                expires_at=expires_at,
            )
        )
    return EnrolmentStart(code=code, claim_secret=claim_secret, expires_at=expires_at)


async def confirm_enrolment(
    db: Database, code: str, terminal_identity: str, *, actor: Actor, at: datetime
) -> TerminalView:
    """The supervisor's confirmation: the kiosk showing `code` becomes `terminal_identity`.
    Raises EnrolmentError (`enrolment_unknown`, `enrolment_used`, `enrolment_expired`)."""
    require_aware(at)
    code_hash = db.tokens.hash(_ENROL_CODE, normalize_code(code))
    async with db.transaction() as session:
        enrolment = _usable(
            await session.scalar(select(Enrolment).where(Enrolment.code_hash == code_hash)),
            at,
            "confirmed_at",
        )
        terminal = await _terminal(session, terminal_identity)
        # Conditional, so two supervisors typing the same code cannot both succeed.
        result = await session.execute(
            update(Enrolment)
            .where(Enrolment.id == enrolment.id, Enrolment.confirmed_at.is_(None))
            .values(
                confirmed_at=at, confirmed_by=actor.name[:IDENTITY_LEN], terminal_id=terminal.id
            )
        )
        if _rowcount(result) != 1:
            raise EnrolmentError("enrolment_used", "this enrolment code was already used")
        audit.append(session, actor, AuditAction.TERMINAL_ENROL, at, target=terminal_identity)
        return _terminal_view(terminal)


async def claim_enrolment(db: Database, claim_secret: str, at: datetime) -> DeviceCredential | None:
    """The kiosk's poll: None while no supervisor has confirmed; the credential once after.
    Raises EnrolmentError when the claim is unknown, used or expired."""
    require_aware(at)
    claim_hash = db.tokens.hash(_ENROL_CLAIM, claim_secret)
    async with db.transaction() as session:
        enrolment = _usable(
            await session.scalar(select(Enrolment).where(Enrolment.claim_hash == claim_hash)),
            at,
            "claimed_at",
        )
        if enrolment.confirmed_at is None or enrolment.terminal_id is None:
            return None
        result = await session.execute(
            update(Enrolment)
            .where(Enrolment.id == enrolment.id, Enrolment.claimed_at.is_(None))
            .values(claimed_at=at)
        )
        if _rowcount(result) != 1:
            raise EnrolmentError("enrolment_used", "this enrolment was already claimed")
        terminal = await session.get_one(Terminal, enrolment.terminal_id)
        token = _give_token(db, terminal, at)
        return DeviceCredential(identity=terminal.identity, village=terminal.village, token=token)


def _usable(
    enrolment: Enrolment | None, at: datetime, step: Literal["confirmed_at", "claimed_at"]
) -> Enrolment:
    """The enrolment if it exists, `step` has not happened yet, and it has not expired."""
    if enrolment is None:
        raise EnrolmentError("enrolment_unknown", "no such enrolment code")
    if getattr(enrolment, step) is not None:
        raise EnrolmentError("enrolment_used", "this enrolment code was already used")
    if enrolment.expires_at <= at:
        raise EnrolmentError("enrolment_expired", "this enrolment code has expired")
    return enrolment


async def purge_enrolments(db: Database, before: datetime) -> int:
    """Forget enrolments that expired unclaimed before `before`; how many."""
    require_aware(before)
    async with db.transaction() as session:
        result = await session.execute(
            delete(Enrolment).where(Enrolment.expires_at < before, Enrolment.claimed_at.is_(None))
        )
        return _rowcount(result)


def _rowcount(result: object) -> int:
    # UPDATE and DELETE results are CursorResults; the typed API says only Result.
    count = getattr(result, "rowcount", 0)
    return int(count)

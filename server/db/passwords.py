"""Password hashing with argon2id, run in an executor: one hash costs tens of milliseconds of
CPU and 64 MiB, which would stall every call on the event loop."""

from __future__ import annotations

import asyncio
import secrets
from typing import Final

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH: Final = 10
# argon2 takes any length, but an unbounded one lets a sign-in form burn CPU on megabytes.
MAX_LENGTH: Final = 1024


class WeakPassword(ValueError):
    """The password is too short or too long; the message says which."""


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")


class Passwords:
    """Hash and verify off the event loop. The parameters are argon2-cffi's RFC 9106 low-memory
    profile (argon2id, t=3, m=64 MiB); tests may pass a cheaper one."""

    def __init__(self, parameters: argon2.Parameters | None = None) -> None:
        params = parameters or argon2.profiles.RFC_9106_LOW_MEMORY
        if params.type is not argon2.Type.ID:
            raise ValueError("passwords are hashed with argon2id")
        self._hasher = argon2.PasswordHasher.from_parameters(params)
        self._dummy: str | None = None

    async def hash(self, password: str, *, check: bool = True) -> str:
        """The argon2id hash; `check=False` only to re-hash a password already accepted."""
        if check:
            check_password(password)
        return await asyncio.get_running_loop().run_in_executor(None, self._hasher.hash, password)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """True if `password` matches; with no hash (unknown user) the same work is done against
        a throwaway hash, so the time taken does not tell which usernames exist."""
        if len(password) > MAX_LENGTH:
            return False
        if encoded is None:
            if self._dummy is None:
                self._dummy = await asyncio.get_running_loop().run_in_executor(
                    None, self._hasher.hash, secrets.token_urlsafe(16)
                )
            encoded = self._dummy
        return await asyncio.get_running_loop().run_in_executor(
            None, self._verify, encoded, password
        )

    def needs_rehash(self, encoded: str) -> bool:
        """True when the hash was made with other parameters than ours (upgrade at sign-in)."""
        return self._hasher.check_needs_rehash(encoded)

    def _verify(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            # A mismatch, or a hash that is not argon2 at all: either way, not this password.
            return False

"""Bearer tokens and enrolment codes: made here, stored only as keyed hashes.

A token has 256 bits of entropy, so a fast keyed hash (HMAC-SHA256) is enough; argon2 is for
passwords, which people choose. The key lives in the data directory, not the database, so a copy
of the database alone does not let anyone test guesses of the short enrolment codes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

SECRET_FILE: Final = "secret.key"
SECRET_BYTES: Final = 32

# Prefixes make a leaked token recognisable (and greppable by secret scanners).
ACCOUNT_TOKEN_PREFIX: Final = "lra_"
DEVICE_TOKEN_PREFIX: Final = "lrd_"
CLAIM_PREFIX: Final = "lrc_"

# Crockford's base32: no I, L, O or U, so a code read off a kiosk screen is typed back right.
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH: Final = 8  # 40 bits, alive for minutes, confirmed by a signed-in supervisor
_CODE_FOLD: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def load_or_create_secret(data_dir: Path) -> bytes:
    """The server's token key from `data_dir/secret.key`, made (mode 0600) on first use."""
    # 0700 when we make it: the directory will hold the database, personal data included.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s is readable by others (mode %o); chmod 600 it", path, mode)
        key = path.read_bytes()
        if len(key) < SECRET_BYTES:
            raise ValueError(f"{path} holds {len(key)} bytes; expected {SECRET_BYTES}") from None
        return key
    key = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    log.info("created the token key %s", path)
    return key


class TokenHasher:
    """Makes tokens and hashes them with the server's key; one per process, held by the app."""

    def __init__(self, key: bytes) -> None:
        if len(key) < SECRET_BYTES:
            raise ValueError(f"the token key must be at least {SECRET_BYTES} bytes")
        self._key = key

    def hash(self, purpose: str, value: str) -> str:
        """Hex HMAC-SHA256 of `value`; `purpose` keeps a device token's hash from ever matching
        an account token's or a code's."""
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "TokenHasher(key=<hidden>)"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def new_code() -> str:
    """An enrolment code as the kiosk shows it: `K7QF-3MXD`."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str:
    """What the supervisor typed, as the code was made: case, dashes, spaces and the letters
    that look like digits do not matter."""
    return text.strip().upper().translate(_CODE_FOLD)

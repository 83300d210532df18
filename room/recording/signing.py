"""The server's Ed25519 signing key for recording manifests: created on first use in the data
directory, readable by the server's user only."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE: Final = "recording-signing-key.pem"
PUBLIC_KEY_FILE: Final = "recording-signing-key.pub.pem"


class SigningKeyError(RuntimeError):
    """The key file exists but cannot be used as it is."""


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """The key in `data_dir`, created (mode 0600) if there is none. Blocking: file I/O."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create(path)
    return load_key(path)


def load_key(path: Path) -> Ed25519PrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # As ssh does: a key others can read may have been copied; refuse rather than sign.
        raise SigningKeyError(f"{path} is readable by others (mode {mode:o}): chmod 600 it")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(data_dir: Path) -> Ed25519PublicKey:
    """The verifying key: from the private key when present, else from its public copy."""
    private = data_dir / KEY_FILE
    if private.exists():
        return load_key(private).public_key()
    key = serialization.load_pem_public_key((data_dir / PUBLIC_KEY_FILE).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{data_dir / PUBLIC_KEY_FILE} is not an Ed25519 public key")
    return key


def public_key_hex(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def _create(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Created 0600 from the start: never a moment with the key readable by others.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() does not replace: two servers starting at once keep one key between them.
            os.link(temp, path)
        except FileExistsError:
            return
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (path.parent / PUBLIC_KEY_FILE).write_bytes(public)

"""Keys that Flint generates once and keeps in the data dir when none is configured."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from flint.kit.files import private_dir


def load_or_create_key(
    path: Path, nbytes: int = 64, *, generate: Callable[[], str] | None = None
) -> str:
    """Read a key file, or create it with owner-only permissions so restarts keep sessions
    valid. The new key is ``generate()``, or ``nbytes`` random bytes, URL-safe."""
    if path.exists():
        return _read(path)
    private_dir(path.parent)
    key = generate() if generate is not None else secrets.token_urlsafe(nbytes)
    # Written whole under a temporary name, then linked into place: another process sees
    # either no file or the complete key, never an empty one, and the first link wins.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process won the race; use its key
            return _read(path)
    finally:
        os.unlink(temporary)
    return key


def _read(path: Path) -> str:
    return path.read_text().strip()


def new_token(nbytes: int = 32) -> str:
    """An opaque, URL-safe random token (refresh and reset tokens)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()

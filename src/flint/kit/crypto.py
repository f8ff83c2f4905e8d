"""Secrets Flint must keep but never show: provider credentials, encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) through MultiFernet: the first key
encrypts, every key decrypts, so a new key can be put in front and old values re-encrypted
(`CredentialBox.rotate`) before the old key is dropped.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flint.kit.secrets import load_or_create_key


class CredentialsUnreadable(Exception):
    """A sealed value that no configured key opens (a key was dropped too early)."""


class CredentialBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one credentials key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, values: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, str]:
        try:
            plain = self._fernet.decrypt(sealed.encode())
        except InvalidToken as exc:
            raise CredentialsUnreadable("no configured credentials key opens this value") from exc
        values: dict[str, str] = json.loads(plain)
        return values

    @classmethod
    def keyed_by(cls, secret: str) -> CredentialBox:
        """A box whose key is derived from ``secret``, a high-entropy token the server does not
        keep (it stores only a digest): what it seals, only the token's holder can open."""
        derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"flint:keyed-by").derive(
            secret.encode()
        )
        return cls([base64.urlsafe_b64encode(derived).decode()])

    def rotate(self, sealed: str) -> str:
        """The same value sealed with the first (newest) key."""
        return self._fernet.rotate(sealed.encode()).decode()


def parse_keys(configured: str) -> list[str]:
    """Comma-separated Fernet keys, newest first; ValueError names a malformed one."""
    keys = [part.strip() for part in configured.split(",") if part.strip()]
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except ValueError as exc:
            raise ValueError(f"credentials key #{number} is not a Fernet key") from exc
    return keys


def load_or_create_fernet_key(path: Path) -> str:
    """Read the key file, or create it once (owner-only) with a new Fernet key."""
    return load_or_create_key(path, generate=lambda: Fernet.generate_key().decode())

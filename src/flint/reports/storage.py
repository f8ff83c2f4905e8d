"""Where rendered reports are kept: a small interface by key, so an S3-compatible store can
take the local one's place (``FLINT_REPORT_STORE``) without the feature noticing.

Keys are relative, slash-separated names made by the service (``<user>/<report>.pdf``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio

from flint.config import Settings
from flint.kit.files import private_dir

CHUNK = 64 * 1024


class ReportStore(Protocol):
    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` whole: a reader sees the old object or the new one."""

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks (FileNotFoundError when there is none)."""

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""

    async def exists(self, key: str) -> bool: ...


class LocalReportStore:
    """Files under one folder, written under a temporary name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") or "\\" in part for part in parts):
            raise ValueError(f"not a report key: {key!r}")
        return self.root.joinpath(*parts)

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(_write_atomically, path, data)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._path(key), "rb") as file:
            while chunk := await file.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).is_file()


def _write_atomically(path: Path, data: bytes) -> None:
    private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_store(settings: Settings) -> ReportStore:
    """The store ``FLINT_REPORT_STORE`` names (only ``local`` so far)."""
    if settings.report_store == "local":
        return LocalReportStore(settings.data_dir / "reports")
    raise ValueError(f"unknown report store {settings.report_store!r}")

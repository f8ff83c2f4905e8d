"""Files and directories for the process's own user alone: directories 0700, files 0600.

The data dir holds the database, keys, queued jobs, emails with reset links and reports; another
local user of the host must not read any of it. The modes are set explicitly after creating, so
they hold whatever the process's umask is (``mkdir(mode=)`` and ``open(mode=)`` only ever
remove bits from what is asked, by the umask).
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a directory, creating it and any missing parents owner-only. Directories
    that already exist keep their mode: they may be shared ones the deployment chose."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:  # another process made it at the same moment
            continue
        os.chmod(directory, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and owner-only if it does not exist (before a library such as
    SQLite creates it with the umask's mode); an existing file is left as it is."""
    private_dir(path.parent)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        os.fchmod(handle, FILE_MODE)
    finally:
        os.close(handle)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a new owner-only file (its directory made owner-only if missing); an existing
    file is an error, never overwritten."""
    private_dir(path.parent)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(handle, "wb") as file:
        os.fchmod(handle, FILE_MODE)
        file.write(data)

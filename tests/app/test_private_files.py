"""What Flint writes under its data dir is for its own user alone: directories 0700, files
0600, whatever the umask (other local users must not read the database, keys, queued jobs,
emails with reset links, texts or reports)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flint.app.main import create_app
from flint.brokerage.sandbox.store import Database
from flint.config import Settings
from flint.kit.files import private_dir, private_file, write_private
from flint.notifications import email, sms
from flint.reports.storage import LocalReportStore
from tests.conftest import migrate, sign_up


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual 022, which gives 0644 files and 0755 directories to whoever does not care."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes_under(root: Path) -> dict[str, int]:
    found = {".": mode(root)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = mode(path)
    return found


def assert_private(root: Path) -> None:
    loose = {
        name: oct(bits)
        for name, bits in modes_under(root).items()
        if bits != (0o700 if (root / name).is_dir() else 0o600)
    }
    assert not loose, f"readable by others under {root}: {loose}"


@pytest.mark.usefixtures("permissive_umask")
def test_the_kit_creates_private_directories_and_files_under_any_umask(tmp_path: Path) -> None:
    private_dir(tmp_path / "a" / "b")
    private_file(tmp_path / "a" / "c" / "empty.db")
    write_private(tmp_path / "a" / "d" / "note.txt", b"secret")

    assert modes_under(tmp_path / "a") == {
        ".": 0o700,
        "b": 0o700,
        "c": 0o700,
        "c/empty.db": 0o600,
        "d": 0o700,
        "d/note.txt": 0o600,
    }
    assert (tmp_path / "a" / "d" / "note.txt").read_bytes() == b"secret"
    with pytest.raises(FileExistsError):  # never overwrites
        write_private(tmp_path / "a" / "d" / "note.txt", b"other")


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_shared_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    private_dir(shared / "flint")
    assert mode(shared) == 0o755
    assert mode(shared / "flint") == 0o700


@pytest.mark.usefixtures("permissive_umask")
async def test_everything_flint_writes_in_the_data_dir_is_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=data,  # SQLite, the sandbox and the embedded broker in it, as `make run` has it
        database_url=None,
        broker_url=None,
        log_level="WARNING",
        performance_workers=0,
    )
    settings.ensure_data_dir()  # then the database file, as `flint migrate` makes them
    migrate(settings.resolved_database_url)
    app = create_app(settings)  # the data dir, the signing and credentials keys
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await sign_up(client)
        sandbox = Database(settings.resolved_sandbox_database_url)
        async with sandbox.write():
            pass
        await sandbox.dispose()
        await email.send(settings, to="ada@example.com", subject="Reset", body="token")
        await sms.send(settings, to="+14155552671", body="token", maybe_sent_since=None)
        await LocalReportStore(data / "reports").put("user/report.pdf", b"%PDF")
        written = set(modes_under(data))
        assert_private(tmp_path / "fresh")  # while the database is open: its -wal and -shm too
    finally:
        await app.state.runtime.aclose()

    assert {"flint.db", "flint.db-wal", "flint.db-shm", "sandbox.db", "broker.db"} <= written
    assert {"jwt.key", "credentials.key", "outbox", "sms-outbox", "reports/user"} <= written
    assert len(list((data / "outbox").glob("*.eml"))) == 1
    assert len(list((data / "sms-outbox").glob("*.json"))) == 1
    assert_private(tmp_path / "fresh")

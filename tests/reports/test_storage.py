"""The local report store: whole files by key under its folder, nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from flint.config import Settings
from flint.reports.storage import LocalReportStore, build_store


async def read(store: LocalReportStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


async def test_put_then_open_exists_and_delete(tmp_path: Path) -> None:
    store = LocalReportStore(tmp_path / "reports")
    data = bytes(range(256)) * 1000  # several read chunks
    await store.put("user/report.pdf", data)
    assert await store.exists("user/report.pdf")
    assert await read(store, "user/report.pdf") == data
    assert (tmp_path / "reports" / "user" / "report.pdf").read_bytes() == data

    await store.put("user/report.pdf", b"replaced")
    assert await read(store, "user/report.pdf") == b"replaced"
    assert [p.name for p in (tmp_path / "reports" / "user").iterdir()] == ["report.pdf"]

    await store.delete("user/report.pdf")
    assert not await store.exists("user/report.pdf")
    await store.delete("user/report.pdf")  # deleting what is gone is no error
    with pytest.raises(FileNotFoundError):
        await read(store, "user/report.pdf")


async def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    store = LocalReportStore(tmp_path)
    await store.put("a/report.csv", b"old")
    with pytest.raises(TypeError):  # the write itself fails, after the temporary file exists
        await store.put("a/report.csv", "not bytes")  # type: ignore[arg-type]
    assert await read(store, "a/report.csv") == b"old"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["report.csv"]


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../outside", "a/../../b", "a//b", "./a", "a\\..\\b"]
)
async def test_keys_cannot_leave_the_folder(tmp_path: Path, key: str) -> None:
    store = LocalReportStore(tmp_path / "reports")
    with pytest.raises(ValueError, match="not a report key"):
        await store.put(key, b"x")
    assert not (tmp_path / "outside").exists()


def test_the_setting_picks_the_local_store_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    store = build_store(settings)
    assert isinstance(store, LocalReportStore)
    assert store.root == tmp_path / "reports"

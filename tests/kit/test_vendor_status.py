"""Vendor misconfigurations: kept per process, and shared through a directory (the data dir) so
that what the worker found reaches the API processes' /readyz."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from flint.kit import vendor_status
from flint.kit.vendor_status import ProviderMisconfigured

PROVIDER = "example-vendor"


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path) -> None:
    vendor_status.clear(PROVIDER, tmp_path)


def test_a_report_is_logged_once_per_reason_and_returned_as_the_error(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        first = vendor_status.report(PROVIDER, "bad key")
        vendor_status.report(PROVIDER, "bad key")
        vendor_status.report(PROVIDER, "bad plan")
    assert isinstance(first, ProviderMisconfigured)
    assert (first.provider, first.reason) == (PROVIDER, "bad key")
    assert [log["reason"] for log in logs if log["event"] == "vendor_misconfigured"] == [
        "bad key",
        "bad plan",
    ]
    found = vendor_status.misconfiguration(PROVIDER)
    assert found is not None
    assert found.reason == "bad plan"


def test_another_process_sees_a_shared_report_until_it_is_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor_status.report(PROVIDER, "credentials refused", tmp_path)
    # Another process: nothing in its own memory, the same data dir.
    monkeypatch.setattr(vendor_status, "_seen", {})
    assert vendor_status.misconfiguration(PROVIDER) is None
    found = vendor_status.misconfiguration(PROVIDER, tmp_path)
    assert found is not None
    assert found.reason == "credentials refused"
    vendor_status.clear(PROVIDER, tmp_path)
    assert vendor_status.misconfiguration(PROVIDER, tmp_path) is None


def test_an_unreadable_shared_file_is_no_report(tmp_path: Path) -> None:
    (tmp_path / "vendor-status").mkdir()
    (tmp_path / "vendor-status" / f"{PROVIDER}.json").write_text("{half")
    assert vendor_status.misconfiguration(PROVIDER, tmp_path) is None

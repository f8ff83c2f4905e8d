"""Configuring logging again reaches the loggers that already logged."""

from __future__ import annotations

import structlog

from flint.kit.logging import configure_logging


def test_a_logger_cached_before_a_second_configuration_follows_it() -> None:
    """Each `create_app` configures logging; a module's logger that had logged under the first
    configuration kept its processors, so `capture_logs` (and a changed level or format) never
    reached it: the Teller test that looks for `vendor_retry` failed whenever an app had been
    created before it in the same process."""
    log = structlog.get_logger("flint.tests.cached")
    configure_logging("WARNING", "json")
    log.warning("first")  # cached now, with the first configuration's processor list
    configure_logging("INFO", "console")
    with structlog.testing.capture_logs() as captured:
        log.warning("second", detail=1)
    assert [entry["event"] for entry in captured] == ["second"]

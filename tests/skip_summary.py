"""Skipped tests summarised by reason, one line each with how many tests it skipped.

Without the services (no ``FLINT_TEST_*`` variables, CI unset) hundreds of tests skip for a
handful of reasons; pytest's ``-rs`` would print a line per test (or per place that skipped).
The suite's ``-r`` (pyproject.toml) leaves skips out and this summary says each reason once.
(With CI=true a missing service fails its tests instead: see tests/conftest.py.)
"""

from __future__ import annotations

from collections import Counter

import pytest
from _pytest.terminal import TerminalReporter

TITLE = "skipped, by reason"


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skip report gives (``pytest.skip``'s message or a skip marker's reason)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    counts = Counter(skip_reason(report) for report in skipped)
    terminalreporter.write_sep("=", f"{len(skipped)} {TITLE}")
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        terminalreporter.write_line(f"{count:5d}  {reason}")

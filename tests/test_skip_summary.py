"""The suite's terminal summary counts skipped tests by reason (tests/skip_summary.py), and the
suite's own options print no line per skip, with or without xdist."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.waits

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_needs_postgres(n):
    pytest.skip("PostgreSQL tests need FLINT_TEST_POSTGRES_URL")

def test_needs_redis():
    pytest.skip("Redis tests need FLINT_TEST_REDIS_URL")

@pytest.mark.skipif(True, reason="Redis tests need FLINT_TEST_REDIS_URL")
def test_marked():
    pass

@pytest.fixture
def service():
    pytest.skip("RabbitMQ tests need FLINT_TEST_AMQP_URL")

def test_in_setup(service):
    pass

def test_runs():
    pass

def test_fails():
    assert 1 == 2
"""


def suite_options() -> list[str]:
    """The ``addopts`` the suite runs with (pyproject.toml)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return shlex.split(config["tool"]["pytest"]["ini_options"]["addopts"])


@pytest.mark.parametrize("workers", ["0", "2"])
def test_skips_are_counted_once_per_reason_and_never_listed_one_by_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # xdist's workers import the plugin too
    pytester.makeconftest("from tests.skip_summary import pytest_terminal_summary\n")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_skipping=SKIPPING)

    result = pytester.runpytest_subprocess(
        *suite_options(), "-n", workers, "-p", "no:cacheprovider"
    )

    result.assert_outcomes(passed=1, failed=1, skipped=6)
    output = result.stdout.str()
    summary = output[output.index("6 skipped, by reason") :].splitlines()
    assert [line.strip() for line in summary[1:4]] == [
        "3  PostgreSQL tests need FLINT_TEST_POSTGRES_URL",
        "2  Redis tests need FLINT_TEST_REDIS_URL",
        "1  RabbitMQ tests need FLINT_TEST_AMQP_URL",
    ]
    assert "SKIPPED" not in output  # no line per skipped test
    assert "FAILED test_skipping.py::test_fails" in output  # failures are still listed


def test_no_skips_no_summary(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.skip_summary import pytest_terminal_summary\n")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_passing="def test_runs():\n    pass\n")

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert "by reason" not in result.stdout.str()

"""The suite's groups hold: the tests of one ``xdist_group`` (those that stop RabbitMQ, restart
Redis, or mostly wait, tests/scheduling.py) run on one xdist worker, one after another, and
the groups are spread through the run.

pytest 9.2 gives a test's id a structure of its own, and xdist 3.8 still marks a test's group
by rewriting the old string field, so its groups were silently dropped: the tests that stop
RabbitMQ ran on two workers at once (pytest-xdist#1386; pyproject.toml keeps pytest below 9.2).
These run pytest over a few tests of their own, as `make test` runs the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INI = """\
[pytest]
markers =
    waits: mostly waits
"""
CONFTEST = "from tests.scheduling import pytest_collection_modifyitems  # noqa: F401\n"
GROUPED = """\
import pytest

pytestmark = pytest.mark.xdist_group("stops-a-server")

@pytest.mark.parametrize("k", range(6))
def test_one(k):
    pass
"""
WAITING = """\
import pytest

pytestmark = pytest.mark.waits

@pytest.mark.parametrize("k", range(4))
def test_waits(k):
    pass
"""
PLAIN = """\
import pytest

@pytest.mark.parametrize("k", range(30))
def test_plain(k):
    pass
"""


def write_suite(at: Path) -> None:
    (at / "pytest.ini").write_text(INI)
    (at / "conftest.py").write_text(CONFTEST)
    for name, text in {
        "test_a_plain.py": PLAIN,
        "test_b_grouped.py": GROUPED,
        "test_c_plain.py": PLAIN,
        "test_d_waiting.py": WAITING,
        "test_e_plain.py": PLAIN,
        "test_f_waiting.py": WAITING,
    }.items():
        (at / name).write_text(text)


OFF = [
    arg
    for plugin in ("cacheprovider", "schemathesis", "hypothesispytest", "asyncio", "anyio")
    for arg in ("-p", f"no:{plugin}")
]
"""Plugins these few tests do not use (loading them is most of a run's time)."""


def pytest_in(at: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *OFF, *args],
        cwd=at,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_tests_of_a_group_run_on_one_worker(tmp_path: Path) -> None:
    write_suite(tmp_path)
    out = pytest_in(tmp_path, "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder", "-v")
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in re.findall(r"\[(gw\d+)\] \[ *\d+%\] PASSED (\S+)", out):
        workers[nodeid.split("::")[0]].add(worker)
    assert sum(1 for line in out.splitlines() if " PASSED " in line) == 6 + 2 * 4 + 3 * 30
    for module in ("test_b_grouped.py", "test_d_waiting.py", "test_f_waiting.py"):
        assert len(workers[module]) == 1, (module, out)
    assert "@stops-a-server" in out
    assert "@waits:test_d_waiting.py" in out  # a module marked `waits`: its own group
    assert "@waits:test_f_waiting.py" in out


def test_the_groups_are_spread_through_the_first_part_of_the_run(tmp_path: Path) -> None:
    write_suite(tmp_path)
    order = [
        line.split("::")[0]
        for line in pytest_in(tmp_path, "--collect-only", "-q").splitlines()
        if "::" in line
    ]
    assert len(order) == 6 + 2 * 4 + 3 * 30
    firsts = [
        order.index(m) for m in ("test_b_grouped.py", "test_d_waiting.py", "test_f_waiting.py")
    ]
    # three groups over the 90 other tests: at 0, 0.7 * 90 / 3 and twice that, each whole
    assert firsts == [0, 6 + 21, 6 + 4 + 42]
    for module, size in (
        ("test_b_grouped.py", 6),
        ("test_d_waiting.py", 4),
        ("test_f_waiting.py", 4),
    ):
        first = order.index(module)
        assert order[first : first + size] == [module] * size
    assert order[-30:] == ["test_e_plain.py"] * 30  # the end of the run is the others'

"""The tests' in-process broker starts each test empty (tests/memory_broker.py): a job one test
sent without running a worker is not run by the worker of the next test in the same process.
The two tests run in order in one process (their xdist group); the second fails when the
first one's message is still queued (as the Sentry test once did, receiving a stray
`flint.jobs.relay` of the hand-off tests and its error)."""

from __future__ import annotations

import time

import pytest

from flint import jobs
from flint.config import Settings
from tests.trades.conftest import worker_running

pytestmark = pytest.mark.xdist_group("memory_broker")

ran: list[str] = []


@jobs.celery_app.task(name="tests.memory_broker.record")
def record(label: str) -> None:
    ran.append(label)


def test_a_test_leaves_a_message_nobody_takes() -> None:
    jobs.send("tests.memory_broker.record", "left over")
    assert ran == []


def test_the_next_tests_worker_never_sees_it(settings: Settings) -> None:
    with worker_running(settings):
        jobs.send("tests.memory_broker.record", "this test's")
        deadline = time.monotonic() + 10
        while "this test's" not in ran and time.monotonic() < deadline:
            time.sleep(0.02)
    assert ran == ["this test's"]

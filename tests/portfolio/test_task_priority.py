"""The worker's heavy portfolio tasks (planning and storing a history, importing a file) run
below every request: a low nice value and Linux's idle scheduling class, then back."""

from __future__ import annotations

import os

from flint.portfolio.tasks import NICENESS, _low_priority
from tests.conftest import in_thread


def test_a_low_priority_block_runs_in_the_idle_class_and_gives_its_priority_back() -> None:
    seen: dict[str, tuple[int, int]] = {}

    def check() -> None:  # a thread of its own: the test process keeps its priority
        seen["before"] = (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))
        with _low_priority():
            seen["inside"] = (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))
        seen["after"] = (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))

    in_thread(check)

    nice, policy = seen["before"]
    assert policy != os.SCHED_IDLE
    assert seen["inside"] == (max(nice, NICENESS), os.SCHED_IDLE)
    assert seen["after"] == (nice, policy)

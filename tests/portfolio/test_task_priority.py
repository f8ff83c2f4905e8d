"""The worker's heavy portfolio tasks (planning and storing a history, importing a file) run
below every request: every thread of the process at a low nice value and in Linux's idle
scheduling class for the task, then each back where it was.

Checked in a process of its own: the block lowers every thread of the process it runs in."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CHECK = textwrap.dedent(
    """
    import json, os, threading
    from flint.portfolio.tasks import NICENESS, _low_priority

    def priority(tid):
        return [os.getpriority(os.PRIO_PROCESS, tid), os.sched_getscheduler(tid)]

    tids, started, stop = {}, threading.Semaphore(0), threading.Event()

    def helper(name):
        tids[name] = threading.get_native_id()
        started.release()
        stop.wait()

    def start(name):
        threading.Thread(target=helper, args=(name,), daemon=True).start()
        started.acquire()

    try:  # from normal priority, whatever the test process's was
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:
        pass
    start("earlier")  # as a database connection's thread opened by an earlier task
    tids["caller"] = threading.get_native_id()
    base = priority(tids["caller"])
    with _low_priority():
        start("meanwhile")  # as one the task opens
        inside = {name: priority(tid) for name, tid in tids.items()}
    after = {name: priority(tid) for name, tid in tids.items()}

    # Two blocks on two threads, overlapping: the process goes back only when both are over.
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    def first():
        with _low_priority():
            first_in.set()
            second_in.wait()
        first_out.set()
    other = threading.Thread(target=first)
    other.start()
    first_in.wait()
    with _low_priority():
        second_in.set()
        first_out.wait()
        overlapped = priority(tids["caller"])
    other.join()
    stop.set()
    print(json.dumps({"base": base, "inside": inside, "after": after, "overlapped": overlapped,
                      "finally": {name: priority(tid) for name, tid in tids.items()},
                      "niceness": NICENESS, "idle": os.SCHED_IDLE}))
    """
)


def test_every_thread_runs_low_and_idle_for_the_block_and_goes_back_after(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    nice, policy = seen["base"]
    assert policy != seen["idle"]
    low = [max(nice, seen["niceness"]), seen["idle"]]
    assert seen["inside"] == {"earlier": low, "caller": low, "meanwhile": low}
    # Back where each was; the thread started in the block as its starter was before it.
    assert seen["overlapped"] == low  # the first block ended while the second was open
    assert seen["finally"] == seen["after"]
    assert seen["after"] == {
        "earlier": [nice, policy],
        "caller": [nice, policy],
        "meanwhile": [nice, policy],
    }

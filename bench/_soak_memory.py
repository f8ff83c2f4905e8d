"""The soak's memory figures: the RSS of each process tree (an API process with its performance
processes, the worker with its pool processes) read from /proc at the start and the end of the
measured period, and once a second in between, so that a step (a cache or an allocator arena
filling once) can be told from a steady climb."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import Result

MIB = 2**20
SAMPLE_EVERY = 1.0
SHOWN = 12
"""Samples kept in the details, evenly spread over the period."""


def rss_tree(pid: int) -> dict[int, int]:
    """RSS in bytes of ``pid`` and each of its descendants."""
    found: dict[int, int] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found[current] = int(line.split()[1]) * 1024
        pending += [int(child) for child in children]
    return found


@dataclass
class Memory:
    """One process tree over the measured period."""

    start: dict[int, int]
    end: dict[int, int] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    """Total MiB, once a second."""

    def result(self, name: str, growth: float) -> Result:
        before, after = sum(self.start.values()) / MIB, sum(self.end.values()) / MIB
        step = max(1, len(self.samples) // SHOWN)
        return Result(
            name=name,
            value=round(after, 1),
            unit="MiB RSS",
            baseline=round(before, 1),
            ratio=round(before / after, 3),
            target=round(1 / (1 + growth), 3),
            details={
                "meaning": "RSS of the process tree after the warm-up over RSS after the soak "
                f"(≥ {1 / (1 + growth):.3f}: grew at most {growth:.0%})",
                "start_by_pid": _mib(self.start),
                "end_by_pid": _mib(self.end),
                "peak_mib": round(max(self.samples, default=after), 1),
                "samples_mib": [round(x, 1) for x in self.samples[::step]],
            },
        )


def _mib(by_pid: dict[int, int]) -> dict[str, float]:
    return {str(pid): round(rss / MIB, 1) for pid, rss in by_pid.items()}


@contextlib.contextmanager
def watched(trees: dict[str, int]) -> Iterator[dict[str, Memory]]:
    """The trees' RSS (name → root pid) at the start of the block, once a second during it, and
    at its end."""
    found = {name: Memory(rss_tree(pid)) for name, pid in trees.items()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_EVERY):
            for name, pid in trees.items():
                found[name].samples.append(sum(rss_tree(pid).values()) / MIB)

    sampler = threading.Thread(target=sample, name="soak-rss", daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        stop.set()
        sampler.join(10)
        for name, pid in trees.items():
            found[name].end = rss_tree(pid)

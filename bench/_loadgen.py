"""Closed-loop HTTP load with wrk: N keep-alive connections, each sending its next GET as soon
as the last answer arrived, for a warm-up and then a measured period.

wrk is required. :func:`require_wrk` installs it with apt-get when it is missing and this
process may (root, Debian), and refuses otherwise: a load generator written in Python would
share the cores with the server it measures and report ratios that mean nothing, so there is
no fallback. While the measured period runs, the server's CPU time is sampled from /proc, so
each result also says how busy the server was: a server well under 100 % of a core was
limited by something other than its own work (the generator, or another process). The whole
machine's busy time is read from /proc/stat too, so what neither the server nor wrk used (the
database's processes, the kernel's network work, anything else running) shows as ``other``.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from bench._common import CLOCK_TICKS, process_cpu_seconds, say


@dataclass
class Load:
    """What one measured period produced, seen from the generator and from the server."""

    requests: int
    seconds: float
    non_2xx: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_seconds: float
    generator_cpu_seconds: float
    machine_cpu_seconds: float = 0.0
    """Core-seconds the whole machine worked over the period (`machine_busy_seconds`)."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_busy(self) -> float:
        """Cores the server used (1.0 = one core all the time)."""
        return self.server_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_us_per_request(self) -> float:
        return self._per_request(self.server_cpu_seconds)

    @property
    def machine_cpu_us_per_request(self) -> float:
        return self._per_request(self.machine_cpu_seconds)

    @property
    def other_cpu_seconds(self) -> float:
        """What the machine was busy with besides the server and wrk."""
        return max(
            0.0, self.machine_cpu_seconds - self.server_cpu_seconds - self.generator_cpu_seconds
        )

    def _per_request(self, seconds: float) -> float:
        return 1e6 * seconds / self.requests if self.requests else float("nan")

    def merged(self, other: Load) -> Load:
        """Two periods of the same route as one (for ABBA ordering). Percentiles are
        weighted by requests: an approximation, as wrk gives no histogram."""
        weight = self.requests + other.requests or 1

        def mix(a: float | None, b: float | None) -> float | None:
            if a is None or b is None:
                return None
            return (a * self.requests + b * other.requests) / weight

        return Load(
            requests=self.requests + other.requests,
            seconds=self.seconds + other.seconds,
            non_2xx=self.non_2xx + other.non_2xx,
            errors=self.errors + other.errors,
            p50_ms=mix(self.p50_ms, other.p50_ms),
            p99_ms=mix(self.p99_ms, other.p99_ms),
            server_cpu_seconds=self.server_cpu_seconds + other.server_cpu_seconds,
            generator_cpu_seconds=self.generator_cpu_seconds + other.generator_cpu_seconds,
            machine_cpu_seconds=self.machine_cpu_seconds + other.machine_cpu_seconds,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rps, 1),
            "non_2xx": self.non_2xx,
            "errors": self.errors,
            "latency_p50_ms": _round(self.p50_ms),
            "latency_p99_ms": _round(self.p99_ms),
            "server_cpu_busy": round(self.server_busy, 3),
            "server_cpu_us_per_request": round(self.server_cpu_us_per_request, 1),
            "generator_cpu_busy": round(self.generator_cpu_seconds / self.seconds, 3)
            if self.seconds
            else None,
            "generator_cpu_us_per_request": round(self._per_request(self.generator_cpu_seconds), 1),
            "machine_cpu_busy": round(self.machine_cpu_seconds / self.seconds, 3)
            if self.seconds
            else None,
            "other_cpu_us_per_request": round(self._per_request(self.other_cpu_seconds), 1),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def require_wrk() -> str:
    """wrk's path, installing it (``apt-get install wrk``) when missing and allowed to;
    otherwise RuntimeError saying how to get it."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        say("wrk is missing: apt-get install wrk")
        for step in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "wrk"]):
            subprocess.run(step, check=False, capture_output=True)  # noqa: S603 - apt-get
        found = shutil.which("wrk")
        if found:
            return found
    raise RuntimeError(
        "the HTTP benchmarks need wrk as their load generator (`apt-get install wrk`, "
        "`brew install wrk`); a Python generator would share the cores with the server"
    )


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """``command`` run on the CPUs ``cpus`` (taskset's list, e.g. "1"), or as it is."""
    if cpus is None:
        return command
    taskset = shutil.which("taskset")
    if taskset is None:
        raise RuntimeError("pinning needs taskset (util-linux)")
    return [taskset, "-c", cpus, *command]


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _wrk(
    url: str, headers: dict[str, str], connections: int, seconds: float, cpus: str | None
) -> list[str]:
    command = [require_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    command += ["--latency", "--timeout=30s"]  # wrk's default (2 s) counts slow answers as errors
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return pinned([*command, url], cpus)


def drive(
    url: str,
    headers: dict[str, str],
    *,
    server_pids: list[int],
    connections: int,
    seconds: float,
    warmup: float,
    cpus: str | None = None,
) -> Load:
    """Load ``url`` with wrk (on ``cpus``) for ``warmup`` then ``seconds`` seconds; the
    server's CPU is the sum over ``server_pids``."""
    if warmup > 0:
        subprocess.run(  # noqa: S603 - wrk with our arguments
            _wrk(url, headers, connections, warmup, cpus), capture_output=True, check=True
        )
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, busy0, wall0 = _cpu(server_pids), machine_busy_seconds(), time.perf_counter()
    done = subprocess.run(  # noqa: S603 - wrk with our arguments
        _wrk(url, headers, connections, seconds, cpus), capture_output=True, text=True, check=True
    )
    cpu1, busy1, wall1 = _cpu(server_pids), machine_busy_seconds(), time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}{done.stderr}")
    elapsed = float(total.group(2)) * _WRK_UNITS[total.group(3)] / 1e3
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return Load(
        requests=int(total.group(1)),
        seconds=elapsed,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        p50_ms=_wrk_percentile(out, "50%"),
        p99_ms=_wrk_percentile(out, "99%"),
        # The server's CPU over wrk's whole run (wrk starts and stops in microseconds).
        server_cpu_seconds=(cpu1 - cpu0) * elapsed / (wall1 - wall0),
        generator_cpu_seconds=(after.ru_utime + after.ru_stime)
        - (children.ru_utime + children.ru_stime),
        machine_cpu_seconds=(busy1 - busy0) * elapsed / (wall1 - wall0),
    )


def machine_busy_seconds() -> float:
    """Core-seconds this machine's cores have spent working since boot: /proc/stat's first
    line, user, nice, system and interrupt time (not idle, iowait, nor the steal time the
    hypervisor gave to other guests; guest time is inside user time already)."""
    with open("/proc/stat") as stat:
        fields = [int(field) for field in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def _cpu(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)


def _wrk_percentile(out: str, label: str) -> float | None:
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    return float(found.group(1)) * _WRK_UNITS[found.group(2)] if found else None

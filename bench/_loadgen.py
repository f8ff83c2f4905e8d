"""Closed-loop HTTP load: N keep-alive connections, each sending its next GET as soon as the
last answer arrived, for a warm-up and then a measured period.

:func:`drive` runs the generator in its own process: ``wrk`` (one thread) when it is installed,
else this module as a script (httpx over HTTP/1.1 keep-alive, on uvloop when available).
``FLINT_BENCH_LOADGEN=wrk|python`` forces one. While the measured period runs, the server's CPU
time is sampled from /proc, so each result also says how busy the server was: a server well
under 100 % of a core was limited by the generator, not by its own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench._common import ROOT, Server, percentile

GENERATOR_ENV = "FLINT_BENCH_LOADGEN"


@dataclass
class Load:
    """What one measured period produced, seen from the generator and from the server."""

    generator: str
    requests: int
    seconds: float
    non_2xx: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_seconds: float
    generator_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_busy(self) -> float:
        """Fraction of one core the server used."""
        return self.server_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_us_per_request(self) -> float:
        return 1e6 * self.server_cpu_seconds / self.requests if self.requests else float("nan")

    def merged(self, other: Load) -> Load:
        """Two periods of the same route as one (for ABBA ordering)."""
        weight = self.requests + other.requests or 1

        def mix(a: float | None, b: float | None) -> float | None:
            if a is None or b is None:
                return None
            return (a * self.requests + b * other.requests) / weight

        return Load(
            generator=self.generator,
            requests=self.requests + other.requests,
            seconds=self.seconds + other.seconds,
            non_2xx=self.non_2xx + other.non_2xx,
            errors=self.errors + other.errors,
            p50_ms=mix(self.p50_ms, other.p50_ms),
            p99_ms=mix(self.p99_ms, other.p99_ms),
            server_cpu_seconds=self.server_cpu_seconds + other.server_cpu_seconds,
            generator_cpu_seconds=self.generator_cpu_seconds + other.generator_cpu_seconds,
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
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def pick_generator() -> str:
    wanted = os.environ.get(GENERATOR_ENV, "auto").strip().lower() or "auto"
    if wanted not in {"auto", "wrk", "python"}:
        raise ValueError(f"{GENERATOR_ENV} must be auto, wrk or python, got {wanted!r}")
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if wanted == "wrk" and not shutil.which("wrk"):
        raise RuntimeError(f"{GENERATOR_ENV}=wrk but wrk is not installed")
    return wanted


def drive(
    generator: str,
    server: Server,
    path: str,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    warmup: float,
) -> Load:
    """Load ``server.url + path`` for ``warmup`` then ``seconds`` seconds from another process."""
    url = server.url + path
    if generator == "wrk":
        return _drive_wrk(server, url, headers, connections, seconds, warmup)
    return _drive_python(server, url, headers, connections, seconds, warmup)


# --- wrk ---------------------------------------------------------------------------------------
_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _wrk(url: str, headers: dict[str, str], connections: int, seconds: float) -> list[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command.append("--timeout=30s")  # wrk's default (2 s) counts slow answers as socket errors
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def _drive_wrk(
    server: Server,
    url: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    warmup: float,
) -> Load:
    if warmup > 0:
        subprocess.run(  # noqa: S603 - wrk with our arguments
            _wrk(url, headers, connections, warmup), capture_output=True, check=True
        )
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    done = subprocess.run(  # noqa: S603 - wrk with our arguments
        _wrk(url, headers, connections, seconds), capture_output=True, text=True, check=True
    )
    cpu1, wall1 = server.cpu_seconds(), time.perf_counter()
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
        generator="wrk",
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
    )


def _wrk_percentile(out: str, label: str) -> float | None:
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    return float(found.group(1)) * _WRK_UNITS[found.group(2)] if found else None


# --- the Python generator ----------------------------------------------------------------------
def _drive_python(
    server: Server,
    url: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    warmup: float,
) -> Load:
    command = [
        sys.executable,
        "-m",
        "bench._loadgen",
        url,
        f"--connections={connections}",
        f"--seconds={seconds}",
        f"--warmup={warmup}",
    ]
    for name, value in headers.items():
        command.append(f"--header={name}: {value}")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": _path()}
    )
    assert process.stdout is not None
    cpu0 = wall0 = 0.0
    report: dict[str, Any] | None = None
    for line in process.stdout:
        if line.strip() == "measuring":
            cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
        elif line.startswith("{"):
            cpu1, wall1 = server.cpu_seconds(), time.perf_counter()
            report = json.loads(line)
            break
    process.wait()
    if report is None or process.returncode != 0:
        raise RuntimeError(f"the Python load generator failed ({process.returncode})")
    elapsed = float(report["seconds"])
    return Load(
        generator="python-httpx",
        requests=int(report["requests"]),
        seconds=elapsed,
        non_2xx=int(report["non_2xx"]),
        errors=int(report["errors"]),
        p50_ms=report["p50_ms"],
        p99_ms=report["p99_ms"],
        server_cpu_seconds=(cpu1 - cpu0) * elapsed / (wall1 - wall0),
        generator_cpu_seconds=float(report["cpu_seconds"]),
    )


def _path() -> str:
    return os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


@dataclass
class _State:
    measuring: bool = False
    stopping: bool = False
    errors: int = 0


async def _generate(
    url: str, headers: dict[str, str], connections: int, seconds: float, warmup: float
) -> dict[str, Any]:
    import httpx

    # One client (one pooled connection) per worker: a single pool shared by N concurrent
    # requests spends time in httpcore's pool bookkeeping that grows with N, which would make
    # the generator, not the server, the bottleneck.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=60)
    state = _State()
    statuses: Counter[int] = Counter()
    latencies: list[float] = []

    async def worker() -> None:
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30.0) as client:
            while not state.stopping:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    if state.measuring:
                        state.errors += 1
                    continue
                if state.measuring:
                    statuses[response.status_code] += 1
                    latencies.append(time.perf_counter() - started)

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(warmup)
    print("measuring", flush=True)
    state.measuring = True
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    state.measuring = False
    elapsed, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    state.stopping = True
    await asyncio.gather(*workers)

    requests = sum(statuses.values())
    return {
        "requests": requests,
        "seconds": elapsed,
        "non_2xx": sum(n for code, n in statuses.items() if not 200 <= code < 300),
        "errors": state.errors,
        "p50_ms": 1e3 * percentile(latencies, 0.50) if latencies else None,
        "p99_ms": 1e3 * percentile(latencies, 0.99) if latencies else None,
        "cpu_seconds": cpu,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    coroutine = _generate(args.url, headers, args.connections, args.seconds, args.warmup)
    try:
        import uvloop
    except ImportError:
        report = asyncio.run(coroutine)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            report = runner.run(coroutine)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()

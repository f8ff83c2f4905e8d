"""Instructions per request of one of ``http_hotpaths``' routes, counted by valgrind: a measure
of a small change to a hot path that the machine's speed does not move.

The benchmarks' ratios move by 10-30 % from one run to the next on a shared 2-core machine (a
bare FastAPI app served 10,800 req/s in one ``make bench`` and 8,400 in the next, two hours
apart), more than most single changes to a hot path save. Counting instructions is repeatable
to within about 1 % (valgrind's callgrind, whatever else the machine does: what is left is the
app's timers, which run as often as the wall clock lets them), so a change of a few % shows.

It serves Flint's app (`bench._server`, production settings as ``http_hotpaths`` sets them) in
this process, without uvicorn, calling it as an ASGI app with a minimal scope: a user with five
watched symbols and three portfolios, then ``--requests`` requests of the route, 16 at a time.
Run under callgrind twice, side by side (``--requests`` and five times as many, after one run
without valgrind that leaves every module compiled), the difference of the two totals over the
difference of requests is the route's own cost, start-up excluded. What it does
not count: the kernel (sockets, ``epoll``), uvicorn's HTTP parsing, and time spent waiting, so
a PostgreSQL read counts its driver's work but not the network's.

    .venv/bin/python -m bench.instructions watchlist [--database postgresql] [--requests 400]

``PYTHONPATH=<other checkout>/src`` counts another version of Flint with the same harness (an
A/B of a change). Without valgrind (``--direct``) it prints CPU time per request instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from bench._common import PASSWORD, postgres_database, run_async
from bench._server import create
from bench.http_hotpaths import PORTFOLIOS, TARGETS, WATCHED, Caller, server_env

ROUTES = tuple(TARGETS)
CONCURRENCY = 16
LONGER = 5
"""The second run makes this many times the first's requests."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("route", choices=ROUTES)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--direct", action="store_true", help="CPU time, without valgrind")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    requests = max(CONCURRENCY, args.requests - args.requests % CONCURRENCY)
    if args.serve:  # a child: its settings are in the environment the parent gave it
        print(_serve(args.route, requests))
        return 0
    with tempfile.TemporaryDirectory(prefix="flint-instructions-") as scratch:
        if args.database == "sqlite":
            print(_measure(Path(scratch), None, args.route, requests, args.direct))
        else:
            print(run_async(_on_postgresql(Path(scratch), args.route, requests, args.direct)))
    return 0


async def _on_postgresql(data: Path, route: str, requests: int, direct: bool) -> str:
    async with postgres_database() as url:
        return await asyncio.to_thread(_measure, data, url, route, requests, direct)


def _measure(data: Path, database: URL | None, route: str, requests: int, direct: bool) -> str:
    env = server_env(data, database)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules kept between runs: compiling
    env["PYTHONHASHSEED"] = "0"  # Flint's sources under valgrind took most of a run
    backend = "sqlite" if database is None else "postgresql"
    if direct:
        seconds = float(_run(_command(route, requests), env).strip().splitlines()[-1])
        return f"{route} ({backend}): {1e6 * seconds / requests:.1f} µs of CPU per request"
    _run(_command(route, CONCURRENCY), env)  # every module compiled before the counted runs
    with ThreadPoolExecutor(2) as pool:  # one run a core
        shorter, longer = pool.map(
            lambda n: _counted(route, n, env, data), (requests, requests * LONGER)
        )
    per_request = (longer - shorter) / (requests * (LONGER - 1))
    return f"{route} ({backend}): {per_request:,.0f} instructions per request"


def _counted(route: str, requests: int, env: dict[str, str], data: Path) -> int:
    """The instructions of one whole run of ``requests`` requests (start-up included)."""
    out = data / f"callgrind-{requests}.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    _run(command + _command(route, requests), env)
    found = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError("callgrind wrote no summary")
    return int(found.group(1))


def _command(route: str, requests: int) -> list[str]:
    module = [sys.executable, "-m", "bench.instructions", route, "--serve"]
    return [*module, f"--requests={requests}"]


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _serve(route: str, requests: int) -> float:
    """Build the app from the environment's settings, make the user, then ``requests``
    requests of ``route``: their CPU seconds."""
    return run_async(_load(create(), route, requests))


async def _load(app: Any, route: str, requests: int) -> float:
    state: dict[str, Any] = {}

    async def call(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Any:
        raw = [(b"host", b"127.0.0.1:8000")]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if body:
            raw.append((b"content-type", b"application/json"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": dict(state),
        }
        messages: list[dict[str, Any]] = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, send)
        status = messages[0]["status"]
        content = b"".join(m.get("body", b"") for m in messages[1:])
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {content[:300]!r}")
        return json.loads(content) if content else None

    async with app.router.lifespan_context(app) as started:
        state.update(started or {})
        body = {"email": f"instructions-{os.urandom(4).hex()}@example.com", "password": PASSWORD}
        user = await call("POST", "/api/v1/auth/register", {}, json.dumps(body).encode())
        token = (await call("POST", "/api/v1/auth/login", {}, json.dumps(body).encode()))["token"]
        caller = Caller(token=token, user_id=user["userId"])
        for symbol in WATCHED:
            added = {"userId": caller.user_id, "asset": symbol}
            await call("POST", "/api/v1/watchlist/add", caller.auth, json.dumps(added).encode())
        for name in PORTFOLIOS:
            named = json.dumps({"name": name}).encode()
            await call("POST", "/api/v1/portfolio/", caller.auth, named)
        path, headers = caller.paths()[route]

        async def repeat(count: int) -> None:
            for _ in range(count):
                await call("GET", path, headers)

        await repeat(CONCURRENCY)  # warm: the first request builds the route's handler
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(repeat(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
        after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


if __name__ == "__main__":
    sys.exit(main())

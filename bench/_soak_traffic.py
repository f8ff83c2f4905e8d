"""The soak's HTTP traffic: one wrk per route, all at once, each at a fixed rate split evenly
over the API processes (``bench/soak.lua``: one wrk thread per API process, paced by Lua
``delay()``; stock wrk has no fixed-rate mode and wrk2 is not packaged by Debian).

Each route is its own wrk process so that each has its own latency histogram: wrk's Lua
``response()`` cannot time a request, so one script mixing routes could only give the mix's
percentiles. The per-route rates (``ROUTES``, scaled by ``FLINT_BENCH_SOAK_SCALE``) add up to
about 27 requests/s, a load the two-core bench machine carries beside PostgreSQL, Redis,
RabbitMQ, the worker and the WebSocket subscribers.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import PASSWORD
from bench._loadgen import require_wrk

SCRIPT = Path(__file__).resolve().with_name("soak.lua")
SCALE = float(os.environ.get("FLINT_BENCH_SOAK_SCALE", "1"))
"""Every route's rate times this."""
TIMEOUT = 30
"""wrk's request timeout, seconds (its default, 2 s, would count a slow answer as an error)."""


@dataclass(frozen=True)
class Route:
    name: str
    rate: float
    """Requests per second over all API processes (before ``SCALE``)."""
    expected: tuple[int, ...]
    what: str
    patience: float = 2.0
    """Seconds of latency the route's connections absorb before its rate falls short."""


ROUTES = (
    Route("quote", 10, (200,), "GET /api/v1/market/real-time/{symbol} (cached quotes)"),
    Route("portfolios", 5, (200,), "GET /api/v1/portfolio/"),
    Route("account", 4, (200,), "GET /api/v1/accounts/{accountId} (balances, holdings, page)"),
    Route("trades", 4, (200,), "GET /api/v1/trades?limit=20"),
    Route("login", 1, (200,), "POST /api/v1/auth/login (argon2id)"),
    Route(
        "trade",
        2,
        (201, 202),
        "POST /api/v1/trades/execute (market orders through the sandbox, by the worker)",
        patience=6.0,  # the answer waits up to FLINT_TRADE_WAIT_SECONDS (5) for the worker
    ),
    Route("import", 1, (201,), "POST /api/v1/portfolio/{portfolioId}/import (2-row CSV)"),
)

BUYS = (("KO", "1"), ("MSFT", "1"), ("AAPL", "1"), ("BTC-USD", "0.001"))
"""What the trades buy, in turn (the sales sell a little of each user's largest position)."""
QUOTE_SYMBOLS = ("AAPL", "MSFT", "VTI", "BTC-USD", "NVDA", "ETH-USD")
IMPORT_SYMBOL = "KO"
IMPORT_PRICE = "50.00"
IMPORT_ROWS = 2


@dataclass(frozen=True)
class SoakUser:
    """A registered, signed-in user with a linked sandbox brokerage account and a portfolio."""

    email: str
    token: str
    account: str
    """Flint's id of the sandbox brokerage account."""
    remote: str
    """The sandbox's own id of that account."""
    portfolio: str
    sell: str
    sell_quantity: str


@dataclass
class RouteLoad:
    """What one route's wrk saw in one phase."""

    route: Route
    threads: int
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: dict[str, int]
    statuses: Counter[int]
    unexpected: list[str] = field(default_factory=list)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    """Trades answered 201 or 202: (tradeId, status in the answer)."""

    @property
    def target_rate(self) -> float:
        return self.route.rate * SCALE

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failures(self) -> int:
        wrong = sum(n for status, n in self.statuses.items() if status not in self.route.expected)
        return wrong + sum(self.socket_errors.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "what": self.route.what,
            "target_rate": round(self.target_rate, 2),
            "achieved_rate": round(self.rate, 2),
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "connections": self.connections,
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "failures": self.failures,
            "unexpected": self.unexpected,
        }


def connections_per_thread(route: Route, threads: int) -> int:
    return max(1, math.ceil(route.rate * SCALE / threads * route.patience))


def drive_mix(
    apis: list[str],
    users: list[SoakUser],
    *,
    seconds: float,
    seed: int,
    directory: Path,
    import_date: str,
) -> dict[str, RouteLoad]:
    """Every route of ``ROUTES`` at its rate for ``seconds``, all at once, against the API
    processes at ``apis`` (base URLs); ``seed`` keeps this phase's imported rows apart from
    another phase's."""
    wrk = require_wrk()
    directory.mkdir(parents=True, exist_ok=True)
    threads = len(apis)
    data = directory / "data.lua"
    data.write_text(
        "return "
        + _lua(
            {
                "dir": str(directory),
                "seed": seed,
                "password": PASSWORD,
                "apis": [_host_port(url) for url in apis],
                "routes": {
                    r.name: {
                        "rate": r.rate * SCALE / threads,
                        "connections": connections_per_thread(r, threads),
                        "expected": dict.fromkeys(r.expected, True),
                    }
                    for r in ROUTES
                },
                "users": [
                    {
                        "email": u.email,
                        "token": u.token,
                        "account": u.account,
                        "portfolio": u.portfolio,
                        "sell": u.sell,
                        "sell_quantity": u.sell_quantity,
                    }
                    for u in users
                ],
                "buys": [{"symbol": s, "quantity": q} for s, q in BUYS],
                "quote_symbols": list(QUOTE_SYMBOLS),
                "import_date": import_date,
                "import_symbol": IMPORT_SYMBOL,
                "import_price": IMPORT_PRICE,
            }
        )
        + "\n"
    )
    running: dict[Route, subprocess.Popen[str]] = {}
    try:
        for route in ROUTES:
            command = [
                wrk,
                f"-t{threads}",
                f"-c{connections_per_thread(route, threads) * threads}",
                f"-d{max(1, round(seconds))}s",
                f"--timeout={TIMEOUT}s",
                "-s",
                str(SCRIPT),
                apis[0],
            ]
            env = os.environ | {"FLINT_SOAK_DATA": str(data), "FLINT_SOAK_ROUTE": route.name}
            running[route] = subprocess.Popen(  # noqa: S603 - wrk with our arguments
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        return {
            route.name: _read(route, process, threads, directory, seconds)
            for route, process in running.items()
        }
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def _read(
    route: Route, process: subprocess.Popen[str], threads: int, directory: Path, seconds: float
) -> RouteLoad:
    out, err = process.communicate(timeout=seconds + 2 * TIMEOUT + 30)
    figures: dict[str, list[int]] = {}
    statuses: Counter[int] = Counter()
    for line in out.splitlines():
        if not line.startswith("SOAK "):
            continue
        key, *values = line.split()[1:]
        if key == "status":
            statuses[int(values[0])] += int(values[1])
        else:
            figures[key] = [int(float(v)) for v in values]
    if process.returncode != 0 or "requests" not in figures or err.strip():
        raise RuntimeError(f"wrk for {route.name} failed ({process.returncode}):\n{out}\n{err}")
    unexpected: list[str] = []
    accepted: list[tuple[str, str]] = []
    for index in range(1, threads + 1):
        path = directory / f"{route.name}.{index}"
        lines = path.read_text().splitlines() if path.exists() else []
        for line in lines:
            kind, _, rest = line.partition(" ")
            if kind == "unexpected":
                unexpected.append(rest)
            elif kind == "accepted":
                trade_id, _, state = rest.partition(" ")
                accepted.append((trade_id, state))
        path.unlink(missing_ok=True)
    connect, read, write, timeout = figures["socket_errors"]
    return RouteLoad(
        route=route,
        threads=threads,
        connections=connections_per_thread(route, threads) * threads,
        requests=figures["requests"][0],
        seconds=figures["duration_us"][0] / 1e6,
        p50_ms=figures["p50_us"][0] / 1e3,
        p99_ms=figures["p99_us"][0] / 1e3,
        max_ms=figures["max_us"][0] / 1e3,
        socket_errors={"connect": connect, "read": read, "write": write, "timeout": timeout},
        statuses=statuses,
        unexpected=unexpected,
        accepted=accepted,
    )


def _host_port(url: str) -> dict[str, str]:
    found = re.fullmatch(r"http://([^:/]+):(\d+)/?", url)
    if found is None:
        raise ValueError(f"not an http://host:port URL: {url}")
    return {"host": found.group(1), "port": found.group(2)}


_LUA_SAFE = re.compile(r"[\x20-\x7e]*")


def _lua(value: Any) -> str:
    """``value`` (dicts, lists, strings, numbers, booleans) as a Lua literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if not _LUA_SAFE.fullmatch(value):
            raise ValueError(f"not printable ASCII: {value!r}")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")

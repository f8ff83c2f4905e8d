"""``quote_throughput``: cached quote GETs against a bare route of the same app, in one run.

One uvicorn process serves Flint (SQLite in a scratch data directory, the simulated provider,
``FLINT_QUOTE_TTL_SECONDS=3600`` so the warmed quote stays cached) with ``GET /bench/ok``
added to the same app instance (``bench._server``). One generator in another process (wrk,
else httpx) drives both routes with the same connections and durations, in ABBA order so
drift favours neither. The quote route is the real one: bearer token checked, the caller's
sign-in state read from the cache (``flint.users.principals``), the quote read through the cache.

Entries: ``quote_throughput`` (requests/s of the quote route against the bare route; target
≥ 0.6) and ``quote_throughput.server_cpu`` (server CPU per request, bare over quote, which
does not depend on how fast the generator is; informational).
"""

from __future__ import annotations

import os

import httpx

from bench._common import Result, flint_env, migrate, say, scratch_dir, sign_up, uvicorn_server
from bench._loadgen import Load, drive, pick_generator
from bench._server import BARE_PATH

QUOTE_PATH = "/api/v1/market/real-time/AAPL"
TARGET = 0.6
CONNECTIONS = int(os.environ.get("FLINT_BENCH_CONNECTIONS", "32"))
SECONDS = float(os.environ.get("FLINT_BENCH_SECONDS", "10"))
WARMUP = float(os.environ.get("FLINT_BENCH_WARMUP", "3"))
MAX_FAILURES = 0.001
"""Share of failed requests (non-2xx or socket errors) tolerated before the run is an error."""
SERVER_BUSY = 0.85
"""Below this share of a core on the bare route, the server was waiting for the generator (or
for a CPU): the bare figure is then a floor and the ratio flatters the quote route."""


def run() -> list[Result]:
    generator = pick_generator()
    with scratch_dir("flint-bench-quote-") as data:
        env = flint_env(data, quote_ttl_seconds="3600")
        migrate(env, data)
        with uvicorn_server("bench._server:create", env, data) as server:
            token = sign_up(server.url)
            auth = {"Authorization": f"Bearer {token}"}
            _check(server.url, auth)
            say(f"generator {generator}, {CONNECTIONS} connections, {SECONDS:g} s per route")
            half = SECONDS / 2
            loads: dict[str, list[Load]] = {"bare": [], "quote": []}
            paths = {"bare": (BARE_PATH, {}), "quote": (QUOTE_PATH, auth)}
            for label in ("bare", "quote", "quote", "bare"):  # ABBA
                path, headers = paths[label]
                warmup = WARMUP if not loads[label] else 0.0
                say(f"{label}: {path}")
                loads[label].append(
                    drive(
                        generator,
                        server,
                        path,
                        headers,
                        connections=CONNECTIONS,
                        seconds=half,
                        warmup=warmup,
                    )
                )
    bare = loads["bare"][0].merged(loads["bare"][1])
    quote = loads["quote"][0].merged(loads["quote"][1])
    notes = []
    for label, load in (("bare", bare), ("quote", quote)):
        if load.errors or load.non_2xx:
            failed = f"{label} route: {load.non_2xx} non-2xx answers, {load.errors} socket errors"
            if load.errors + load.non_2xx > MAX_FAILURES * load.requests:
                raise RuntimeError(failed)
            notes.append(failed)
    generator_busy = bare.generator_cpu_seconds / bare.seconds
    if bare.server_busy < SERVER_BUSY:
        notes.append(
            f"on the bare route the server used only {bare.server_busy:.0%} of a core (the "
            f"generator {generator_busy:.0%}, load average {os.getloadavg()[0]:.1f}): the "
            "generator or other processes held it back, so the ratio overstates the quote "
            "route" + ("" if bare.generator == "wrk" else "; install wrk for a fairer figure")
        )
    details = {
        "generator": bare.generator,
        "connections": CONNECTIONS,
        "seconds_per_route": SECONDS,
        "database": "sqlite",
        "bare": bare.as_json(),
        "quote": quote.as_json(),
        "notes": notes,
    }
    return [
        Result(
            name="quote_throughput",
            value=round(quote.rps, 1),
            unit="req/s",
            baseline=round(bare.rps, 1),
            ratio=round(quote.rps / bare.rps, 3),
            target=TARGET,
            details=details,
        ),
        Result(
            name="quote_throughput.server_cpu",
            value=round(quote.server_cpu_us_per_request, 1),
            unit="µs CPU/req",
            baseline=round(bare.server_cpu_us_per_request, 1),
            ratio=round(bare.server_cpu_us_per_request / quote.server_cpu_us_per_request, 3),
            target=None,
            details={"meaning": "server CPU per request, bare route / quote route"},
        ),
    ]


def _check(base_url: str, auth: dict[str, str]) -> None:
    """Both routes answer 200 with what they should, and the quote is in the cache."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        bare = client.get(BARE_PATH)
        if bare.status_code != 200 or bare.json() != {"ok": True}:
            raise RuntimeError(f"{BARE_PATH} answered {bare.status_code}: {bare.text}")
        for _ in range(3):
            quote = client.get(QUOTE_PATH, headers=auth)
            if quote.status_code != 200 or quote.json().get("symbol") != "AAPL":
                raise RuntimeError(f"{QUOTE_PATH} answered {quote.status_code}: {quote.text}")

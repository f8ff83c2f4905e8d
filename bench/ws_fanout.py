"""``ws_fanout``: one quote fanned out to 1,000 WebSocket clients of one server process, through
Flint's quote hub and through direct sends on the same app.

One uvicorn process serves Flint (SQLite in a scratch data directory, the simulated provider,
``stream_poll_seconds=0`` and ``stream_ping_seconds=0`` so only the quotes the bench publishes
flow, ``stream_queue_size=1000``) with two bench-only routes added to the same app instance:

* ``/bench/ws``, the baseline: a bare WebSocket route that keeps the set of subscribed sockets
  and, for each published quote, awaits ``send_text`` on every socket in turn (the direct
  fan-out of ``websockets.broadcast``, with ASGI's send, which is a coroutine: it waits for a
  paused socket where ``broadcast`` skips it). It speaks just enough of the protocol
  (``ready``, ``subscribe`` → ``subscriptions``) for the same client code to drive it, and skips
  the token check, which only happens while connecting, outside the measured period.
* ``POST /bench/publish`` ``{"target": "flint" | "bare", "count", "interval"}``: publishes
  ``count`` synthetic BTC-USD quotes, one every ``interval`` seconds (0: back to back), either
  through the runtime's ``QuoteHub.publish_quotes`` or through the bare route's sends. Each
  quote's timestamp is the time it was published (microseconds, strictly increasing, so the
  hub's deduplication passes every one), which is how clients measure delivery latency: both
  processes read the same clock.

The baseline shares everything with Flint's route except the hub: same process, same uvicorn
WebSocket implementation, same middleware stack, same message bytes (``quote_message``). A
``websockets``-library server calling ``websockets.broadcast`` was the other candidate; it would
also take uvicorn's ASGI WebSocket layer out of the baseline (so the ratio would blame the hub
for the cost of serving ASGI), and it skips a client whose buffer is full where Flint queues.

The clients run in other processes (``python -m bench.ws_fanout swarm``, uvloop when
available, one per route, both connected throughout; the idle one costs nothing), so they do
not share the server's event loop: ``CLIENTS`` connections of the ``websockets`` client, each
subscribed to BTC-USD, recording the receive time of every message and parsing after the
phase, with garbage collection off during a phase (a full collection over thousands of
connections stalled every reader for a few hundred ms). For each route, two phases on the same
connections:

* burst: ``BURST`` quotes published back to back; delivered quotes/s = deliveries / (first
  publish → last delivery), and the p99 latency (dominated by how long the backlog takes to
  drain);
* paced: ``PACED`` quotes at ``PACED_RATE`` per second, below either side's capacity; its p99
  is the delivery latency of a stream that keeps up.

Each phase runs ``ROUNDS`` (3) times per route, the routes taking turns (bare, Flint, bare,
...), and each route's figures are its median round's (by p99): the bench shares two cores with
other work, and turns spread that over both sides alike.

Both sides now fan out in publish order, one quote after the other: direct sends by
construction (every quote reaches every socket before the next one starts), the hub because
each publish returns once the clients that keep up have the quote (it queues the quote for
every subscriber, and their senders write it before the hub takes the next one). Before
that, the hub queued a whole burst in every client's queue at once and each sender drained
its queue in one go: more deliveries per second (consecutive frames to one socket are cheap),
but the last client's first quote waited for every client before it to drain theirs (burst
p99 7 times direct sends').

Entries, each a ratio within this run:

* ``ws_fanout``: burst deliveries/s, Flint over direct sends; informational (``target=None``):
  the stream exists for its latency, and throughput is what the in-order fan-out gave up.
* ``ws_fanout.p99``: paced p99 latency, direct over Flint (higher is better); target
  ``1/1.5``: Flint's p99 within 1.5 times direct sends'.
* ``ws_fanout.burst_p99``: burst p99 latency, direct over Flint; target ``0.5``: within 2 times.
* ``ws_fanout.cluster``: 10,000 clients over two API processes with Redis fan-out, p99
  latency, informational (see :mod:`bench._ws_cluster`; ``FLINT_BENCH_WS_CLUSTER=0`` skips it).

Knobs: ``FLINT_BENCH_WS_CLIENTS`` (1000), ``FLINT_BENCH_WS_BURST`` (200),
``FLINT_BENCH_WS_PACED`` (25), ``FLINT_BENCH_WS_RATE`` (5/s), ``FLINT_BENCH_WS_ROUNDS`` (3)
and the cluster's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

from bench._common import (
    ROOT,
    Result,
    Server,
    clean_env,
    flint_env,
    migrate,
    percentile,
    say,
    scratch_dir,
    sign_up,
    uvicorn_server,
)
from flint.market.providers.types import Quote
from flint.market.stream import QuoteHub, quote_message

NAME = "ws_fanout"
CLIENTS = int(os.environ.get("FLINT_BENCH_WS_CLIENTS", "1000"))
BURST = int(os.environ.get("FLINT_BENCH_WS_BURST", "200"))
PACED = int(os.environ.get("FLINT_BENCH_WS_PACED", "25"))
PACED_RATE = float(os.environ.get("FLINT_BENCH_WS_RATE", "5"))
"""Quotes per second in the paced phase (``PACED_RATE * CLIENTS`` deliveries per second)."""
ROUNDS = int(os.environ.get("FLINT_BENCH_WS_ROUNDS", "3"))
"""Rounds of each phase per target, taking turns; the figures are the median round's."""
CLUSTER = os.environ.get("FLINT_BENCH_WS_CLUSTER", "1") != "0"
"""Whether to run the two-process Redis case too (:mod:`bench._ws_cluster`)."""
PACED_P99_TARGET = round(1 / 1.5, 3)
"""Paced p99: Flint's within 1.5 times direct sends'."""
BURST_P99_TARGET = 0.5
"""Burst p99: Flint's within 2 times direct sends'."""
SYMBOL = "BTC-USD"
FLINT_WS_PATH = "/api/v1/market/ws"
BARE_WS_PATH = "/bench/ws"
PUBLISH_PATH = "/bench/publish"
QUEUE_SIZE = 1000
CONNECT_CONCURRENCY = 50
CONNECT_WITHIN = 120.0
IDLE_WITHIN = 10.0
"""A phase ends when every client has every quote, or when nothing arrived for this long."""
FILES = 8192
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUOTE_PREFIX = '{"type":"quote"'


def _raise_file_limit(wanted: int = FILES) -> None:
    """Each connection is a file descriptor on both sides."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# --- the server (a uvicorn subprocess) -----------------------------------------------------------
def _quote(sequence: int, micros: int) -> Quote:
    """A synthetic quote published at ``micros`` (µs since the epoch), a cent above the last."""
    price = Decimal("60000.00") + Decimal("0.01") * sequence
    previous = Decimal("59000.00")
    change = price - previous
    return Quote(
        symbol=SYMBOL,
        price=price,
        change=change,
        change_percent=(change / previous * 100).quantize(Decimal("0.0001")),
        open=previous,
        high=price,
        low=previous,
        previous_close=previous,
        volume=1000 + sequence,
        currency="USD",
        timestamp=_EPOCH + timedelta(microseconds=micros),
        provider="bench",
    )


class BareFanout:
    """The baseline: subscribed sockets per symbol, each quote sent to each socket directly."""

    READY = json.dumps({"type": "ready", "maxSymbols": 1, "pingSeconds": 0})

    def __init__(self) -> None:
        self.subscribers: dict[str, set[WebSocket]] = {}

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(self.READY)
        mine: set[str] = set()
        try:
            while True:
                data = json.loads(await websocket.receive_text())
                if data.get("action") == "subscribe":
                    for symbol in data.get("symbols", []):
                        mine.add(symbol)
                        self.subscribers.setdefault(symbol, set()).add(websocket)
                    reply = {"type": "subscriptions", "symbols": sorted(mine)}
                    await websocket.send_text(json.dumps(reply, separators=(",", ":")))
        except (WebSocketDisconnect, ValueError):
            pass
        finally:
            for symbol in mine:
                self.subscribers.get(symbol, set()).discard(websocket)

    async def publish(self, quote: Quote) -> None:
        text = quote_message(quote)
        sockets = self.subscribers.get(quote.symbol, set())
        for websocket in list(sockets):
            try:
                await websocket.send_text(text)
            except Exception:
                sockets.discard(websocket)


async def _publish(request: Request) -> dict[str, Any]:
    """Publish ``count`` quotes to ``target``'s subscribers, one every ``interval`` seconds on an
    absolute schedule; answers when the last one was handed over, with the publish times."""
    body = await request.json()
    target, count, interval = body["target"], int(body["count"]), float(body["interval"])
    send: Callable[[Quote], Awaitable[None]]
    if target == "flint":
        hub = request.app.state.runtime.get(QuoteHub)

        async def send(quote: Quote) -> None:
            await hub.publish_quotes([quote])
    else:
        send = request.app.state.bench_bare.publish
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = last = 0
    for sequence in range(count):
        if interval > 0:
            await asyncio.sleep(max(0.0, start + sequence * interval - loop.time()))
        last = max(time.time_ns() // 1000, last + 1)
        first = first or last
        await send(_quote(sequence, last))
    return {"first": first / 1e6, "last": last / 1e6, "returned": time.time(), "count": count}


def create() -> FastAPI:
    """The ASGI factory uvicorn serves: Flint as ``flint serve`` builds it, plus the bench
    routes on the same app instance."""
    from flint.app.main import create_app
    from flint.config import get_settings

    _raise_file_limit()
    app = create_app(get_settings())
    bare = BareFanout()
    app.state.bench_bare = bare
    app.add_api_websocket_route(BARE_WS_PATH, bare.serve)
    app.add_api_route(PUBLISH_PATH, _publish, methods=["POST"], include_in_schema=False)
    return app


# --- the client swarm (another subprocess) -------------------------------------------------------
@dataclass
class _Swarm:
    clients: int
    received: list[tuple[int, float, str]]
    quotes: int = 0
    closed: int = 0
    last_arrival: float = 0.0


async def _connect(url: str, gate: asyncio.Semaphore) -> Any:
    from websockets.asyncio.client import connect

    async with gate:
        ws = await connect(url, compression=None, proxy=None, open_timeout=60, ping_interval=None)
        while json.loads(await ws.recv())["type"] != "ready":
            pass
        await ws.send(json.dumps({"action": "subscribe", "symbols": [SYMBOL]}))
        while json.loads(await ws.recv())["type"] != "subscriptions":
            pass  # Flint sends the current quote first
    return ws


async def _read(ws: Any, index: int, swarm: _Swarm) -> None:
    from websockets.exceptions import ConnectionClosed

    received, clock = swarm.received, time.time
    try:
        async for text in ws:
            now = clock()
            received.append((index, now, text))
            if text.startswith(_QUOTE_PREFIX):
                swarm.quotes += 1
                swarm.last_arrival = now
    except ConnectionClosed:
        pass
    swarm.closed += 1


def _summary(swarm: _Swarm, expected: int, raw: bool = False) -> dict[str, Any]:
    """The phase's figures; with ``raw`` every latency too (ms, 0.01 ms steps), so that the
    reports of several swarm processes can be merged into one distribution."""
    latencies: list[float] = []
    per_client: Counter[int] = Counter()
    last = 0.0
    for index, at, text in swarm.received:
        message = json.loads(text)
        if message.get("type") != "quote":
            continue
        per_client[index] += 1
        sent = datetime.fromisoformat(message["timestamp"]).timestamp()
        latencies.append(1e3 * (at - sent))
        last = max(last, at)
    return {
        "deliveries": len(latencies),
        "expected": expected * swarm.clients,
        "complete_clients": sum(1 for n in per_client.values() if n == expected),
        "closed": swarm.closed,
        "last_delivery": last,
        "p50_ms": percentile(latencies, 0.50),
        "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=float("nan")),
    } | ({"latencies_ms": [round(x, 2) for x in latencies]} if raw else {})


async def _wait_for(swarm: _Swarm, quotes: int) -> None:
    """Until ``quotes`` quotes arrived in all, or none for ``IDLE_WITHIN`` seconds."""
    seen, quiet_since = 0, time.monotonic()
    while swarm.quotes < quotes:
        await asyncio.sleep(0.02)
        if swarm.quotes != seen:
            seen, quiet_since = swarm.quotes, time.monotonic()
        elif time.monotonic() - quiet_since > IDLE_WITHIN:
            return


async def _disconnect(sockets: list[Any], readers: list[asyncio.Task[None]]) -> None:
    with contextlib.suppress(Exception):
        closing = [ws.close() for ws in sockets]
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 10)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    sockets.clear()
    readers.clear()


def _gc_pauses() -> list[float]:
    """The seconds each garbage collection of this process takes from now on (a collection
    stops every reader: it shows in the latencies, and the reports say how much)."""
    pauses: list[float] = []
    started = [0.0]

    def track(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])

    gc.callbacks.append(track)
    return pauses


async def _run_swarm(clients: int) -> None:
    """Commands on stdin, one a line, each answered on stdout:

    * ``connect URL [URL ...]``: open ``clients`` sockets, spread over the URLs in turn, and
      subscribe each; ``connected N SECONDS``.
    * ``phase COUNT [raw]``: ``armed`` at once, ``done`` when every client has ``COUNT`` more
      quotes (or nothing arrived for ``IDLE_WITHIN`` s), then ``report {json}`` (with every
      latency when ``raw``).
    * ``disconnect`` (``disconnected``) and ``quit``.
    """
    swarm = _Swarm(clients, [])
    gc_pauses = _gc_pauses()
    sockets: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    try:
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "connect":
                started = time.perf_counter()
                urls = line[1:]
                opening = asyncio.gather(
                    *(_connect(urls[i % len(urls)], gate) for i in range(clients))
                )
                sockets = list(await asyncio.wait_for(opening, CONNECT_WITHIN))
                swarm.closed = 0
                readers = [asyncio.create_task(_read(ws, i, swarm)) for i, ws in enumerate(sockets)]
                print(f"connected {clients} {time.perf_counter() - started:.2f}", flush=True)
            elif line[0] == "disconnect":
                await _disconnect(sockets, readers)
                print("disconnected", flush=True)
            elif line[0] == "phase":
                expected = int(line[1])
                swarm.received.clear()
                swarm.quotes = 0
                cpu = time.process_time()
                # No collections while quotes arrive: with thousands of connections alive a
                # full one stalls every reader for a few hundred ms, which is the client's
                # doing, not the server's (the report counts any that still ran).
                gc.collect()
                gc.disable()
                gc_pauses.clear()
                print("armed", flush=True)
                try:
                    await _wait_for(swarm, expected * clients)
                finally:
                    gc.enable()
                cpu = time.process_time() - cpu
                print("done", flush=True)
                raw = line[2:3] == ["raw"]
                report = _summary(swarm, expected, raw) | {
                    "client_cpu_seconds": cpu,
                    "client_gc_seconds": sum(gc_pauses),
                    "client_gc_longest_ms": 1e3 * max(gc_pauses, default=0.0),
                }
                print("report " + json.dumps(report), flush=True)
    finally:
        await _disconnect(sockets, readers)


def _swarm_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_fanout swarm")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args(argv)
    _raise_file_limit()
    coroutine = _run_swarm(args.clients)
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(coroutine)


# --- the orchestration (the bench process) -------------------------------------------------------
@dataclass
class Phase:
    published: int
    interval: float
    first_publish: float
    publish_seconds: float
    report: dict[str, Any]
    server_cpu_seconds: float
    wall_seconds: float

    @property
    def seconds(self) -> float:
        """First publish to last delivery."""
        return max(self.report["last_delivery"] - self.first_publish, 1e-9)

    @property
    def per_second(self) -> float:
        return float(self.report["deliveries"]) / self.seconds

    def as_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "quotes_published": self.published,
            "interval_s": self.interval,
            "deliveries": r["deliveries"],
            "expected": r["expected"],
            "complete_clients": r["complete_clients"],
            "closed_connections": r["closed"],
            "first_publish_to_last_delivery_s": round(self.seconds, 3),
            "publishing_s": round(self.publish_seconds, 3),
            "delivered_per_s": round(self.per_second, 1),
            "latency_p50_ms": round(r["p50_ms"], 2),
            "latency_p90_ms": round(r["p90_ms"], 2),
            "latency_p99_ms": round(r["p99_ms"], 2),
            "latency_max_ms": round(r["max_ms"], 2),
            "server_cpu_busy": round(self.server_cpu_seconds / self.wall_seconds, 3),
            "client_cpu_busy": round(r["client_cpu_seconds"] / self.wall_seconds, 3),
        }


class _SwarmProcess:
    """The client swarm's process, driven line by line (see :func:`_run_swarm`)."""

    def __init__(self, clients: int = CLIENTS) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.ws_fanout", "swarm", f"--clients={clients}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=clean_env(),
            cwd=ROOT,
        )

    def tell(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def expect(self, prefix: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(prefix):
            self.process.kill()
            exit_code = self.process.wait()
            raise RuntimeError(f"the client swarm said {line!r} (exit {exit_code}), not {prefix}")
        return line[len(prefix) :].strip()

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.tell("quit")
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _connect_swarm(swarm: _SwarmProcess, target: str, ws_url: str) -> float:
    swarm.tell(f"connect {ws_url}")
    connect_seconds = float(swarm.expect("connected ").split()[1])
    say(f"{target}: {CLIENTS} clients connected and subscribed in {connect_seconds:.1f} s")
    return connect_seconds


def _phase(
    swarm: _SwarmProcess, http: httpx.Client, server: Server, target: str, label: str
) -> Phase:
    """One burst or paced phase through ``target`` on its connected swarm."""
    count, interval = (BURST, 0.0) if label == "burst" else (PACED, 1 / PACED_RATE)
    swarm.tell(f"phase {count}")
    swarm.expect("armed")
    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    answer = http.post(PUBLISH_PATH, json={"target": target, "count": count, "interval": interval})
    answer.raise_for_status()
    published = answer.json()
    swarm.expect("done")
    cpu1, wall1 = server.cpu_seconds(), time.perf_counter()
    report = json.loads(swarm.expect("report "))
    phase = Phase(
        published=count,
        interval=interval,
        first_publish=published["first"],
        publish_seconds=published["returned"] - published["first"],
        report=report,
        server_cpu_seconds=cpu1 - cpu0,
        wall_seconds=wall1 - wall0,
    )
    say(
        f"{target} {label}: {report['deliveries']}/{report['expected']} delivered, "
        f"{phase.per_second:,.0f}/s, p99 {report['p99_ms']:.1f} ms, server "
        f"{phase.server_cpu_seconds / phase.wall_seconds:.0%} and clients "
        f"{report['client_cpu_seconds'] / phase.wall_seconds:.0%} of a core"
    )
    return phase


def _median(rounds: list[Phase]) -> Phase:
    """The round with the median p99 (the middle one of an odd number)."""
    return sorted(rounds, key=lambda p: float(p.report["p99_ms"]))[len(rounds) // 2]


def _fan_out(
    swarms: dict[str, _SwarmProcess], server: Server, urls: dict[str, str]
) -> tuple[dict[str, float], dict[str, dict[str, list[Phase]]]]:
    """Connect each target's swarm, then run ``ROUNDS`` rounds of each phase, the targets
    taking turns (bare, Flint, bare, Flint, ...), so that other work on the machine weighs on
    both alike; disconnect."""
    connect = {target: _connect_swarm(swarms[target], target, url) for target, url in urls.items()}
    rounds: dict[str, dict[str, list[Phase]]] = {t: {"burst": [], "paced": []} for t in urls}
    with httpx.Client(base_url=server.url, timeout=120.0) as http:
        for label in ("burst", "paced"):
            for _ in range(ROUNDS):
                for target in urls:
                    phase = _phase(swarms[target], http, server, target, label)
                    rounds[target][label].append(phase)
    for swarm in swarms.values():
        swarm.tell("disconnect")
        swarm.expect("disconnected")
    return connect, rounds


def run() -> list[Result]:
    _raise_file_limit()
    load_before = os.getloadavg()[0]
    swarms = {"bare": _SwarmProcess(), "flint": _SwarmProcess()}  # import while migrating
    try:
        with scratch_dir("flint-bench-ws-") as data:
            env = flint_env(
                data,
                stream_poll_seconds="0",
                stream_ping_seconds="0",
                stream_queue_size=str(QUEUE_SIZE),
                quote_ttl_seconds="3600",
            )
            migrate(env, data)
            with uvicorn_server("bench.ws_fanout:create", env, data) as server:
                token = sign_up(server.url)
                ws_base = server.url.replace("http://", "ws://", 1)
                urls = {
                    "bare": ws_base + BARE_WS_PATH,
                    "flint": f"{ws_base}{FLINT_WS_PATH}?token={token}",
                }
                connect, rounds = _fan_out(swarms, server, urls)
    finally:
        for swarm in swarms.values():
            swarm.close()
    bare_connect, flint_connect = connect["bare"], connect["flint"]
    bare = {label: _median(phases) for label, phases in rounds["bare"].items()}
    flint = {label: _median(phases) for label, phases in rounds["flint"].items()}
    every = [p for phases in (*rounds["bare"].values(), *rounds["flint"].values()) for p in phases]

    failures = [
        f"{p.report['deliveries']} of {p.report['expected']} delivered, "
        f"{p.report['closed']} connections closed"
        for p in every
        if p.report["deliveries"] != p.report["expected"] or p.report["closed"]
    ]
    if failures:
        raise RuntimeError("; ".join(failures))

    notes = []
    for target, phases in (("bare", bare), ("flint", flint)):
        client_busy = phases["burst"].as_json()["client_cpu_busy"]
        if client_busy > 0.85:
            notes.append(
                f"the client swarm used {client_busy:.0%} of a core in the {target} burst: it, "
                "not the server, may have set the pace there"
            )
    cpus = os.cpu_count() or 1
    if max(load_before, os.getloadavg()[0]) > cpus:
        notes.append(
            f"load average {max(load_before, os.getloadavg()[0]):.1f} on {cpus} CPUs: other "
            "work competed with the server and the clients, so the figures are noisy"
        )
    common = {
        "clients": CLIENTS,
        "symbol": SYMBOL,
        "server_processes": 1,
        "baseline": "bare WebSocket route on the same app: await send_text to each socket",
        "client": "websockets asyncio client, one process",
    }
    flint_burst, bare_burst = flint["burst"], bare["burst"]
    flint_paced, bare_paced = flint["paced"], bare["paced"]
    results = [
        Result(
            name=NAME,
            value=round(flint_burst.per_second, 1),
            unit="deliveries/s",
            baseline=round(bare_burst.per_second, 1),
            ratio=round(flint_burst.per_second / bare_burst.per_second, 3),
            target=None,
            details={
                **common,
                "meaning": f"{BURST} quotes published back to back to {CLIENTS} clients: "
                "deliveries / (first publish → last delivery), Flint's hub over direct sends "
                "(informational: the stream is judged by its latency, the entries below)",
                "flint_p99_ms": round(flint_burst.report["p99_ms"], 1),
                "baseline_p99_ms": round(bare_burst.report["p99_ms"], 1),
                "connect_seconds": {"flint": flint_connect, "bare": bare_connect},
                "flint": {k: v.as_json() for k, v in flint.items()},
                "bare": {k: v.as_json() for k, v in bare.items()},
                "rounds_p99_ms": {
                    target: {
                        label: [round(p.report["p99_ms"], 1) for p in phases]
                        for label, phases in by_label.items()
                    }
                    for target, by_label in rounds.items()
                },
                "notes": notes,
            },
        ),
        _latency(
            f"{NAME}.p99",
            flint_paced,
            bare_paced,
            PACED_P99_TARGET,
            common,
            f"p99 publish → receive latency, {PACED} quotes at {PACED_RATE:g}/s "
            f"({PACED_RATE * CLIENTS:,.0f} deliveries/s): direct sends / Flint's hub; "
            f"the target is Flint's p99 within {1 / PACED_P99_TARGET:.1f} times direct sends'",
        ),
        _latency(
            f"{NAME}.burst_p99",
            flint_burst,
            bare_burst,
            BURST_P99_TARGET,
            common,
            f"p99 publish → receive latency, {BURST} quotes published back to "
            f"back (each publish returns once the quote is handed over): direct sends / "
            f"Flint's hub; the target is Flint's p99 within {1 / BURST_P99_TARGET:.0f} times "
            "direct sends'",
        ),
    ]
    if CLUSTER:
        from bench import _ws_cluster  # it imports this module

        results.append(_ws_cluster.run())
    return results


def _latency(
    name: str,
    flint: Phase,
    bare: Phase,
    target: float,
    common: dict[str, Any],
    meaning: str,
) -> Result:
    """A p99 entry: direct sends' p99 over Flint's (higher is better), p50s in the details."""
    return Result(
        name=name,
        value=round(flint.report["p99_ms"], 2),
        unit="ms",
        baseline=round(bare.report["p99_ms"], 2),
        ratio=round(bare.report["p99_ms"] / flint.report["p99_ms"], 3),
        target=target,
        details={
            **common,
            "meaning": meaning,
            "flint_p50_ms": round(flint.report["p50_ms"], 2),
            "baseline_p50_ms": round(bare.report["p50_ms"], 2),
        },
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["swarm"]:
        _swarm_main(sys.argv[2:])
    else:
        for result in run():
            print(json.dumps(result.as_json(), indent=2))

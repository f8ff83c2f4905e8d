"""The soak's reconciliation, read straight from the two databases once the worker has settled:
Flint's (trades, their audit trail, the linked accounts' synced balances and holdings, the
imported rows) and the sandbox institution's own books (accounts, positions, orders).

Every accepted trade must be in exactly one final state (its status final, exactly one final
event in its audit trail, none left pending), match its order at the broker (no order without a
trade, no trade placed twice), and each account's cash and positions at the broker must be its
opening books plus what Flint's fills say: a buy costs ``money(filled * average) + fees``, a sale
brings ``money(filled * average) - fees`` (the sandbox's rule, `flint.brokerage.sandbox`); and
Flint's synced copy of each account must equal the broker's books.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from bench._soak_traffic import SoakUser
from flint.brokerage.api import OrderStatus
from flint.brokerage.sandbox.data import money

POLL_EVERY = 0.5
SHOWN = 5
"""Examples kept per check."""


@dataclass
class Books:
    """Cash and positions per sandbox account id."""

    cash: dict[str, Decimal]
    positions: dict[str, dict[str, Decimal]]


async def sandbox_books(dsn: str, remotes: Iterable[str]) -> Books:
    ids = list(remotes)
    conn = await asyncpg.connect(dsn)
    try:
        accounts = await conn.fetch(
            "SELECT id, cash FROM sandbox_accounts WHERE id = ANY($1::text[])", ids
        )
        rows = await conn.fetch(
            "SELECT account_id, symbol, quantity FROM sandbox_positions "
            "WHERE account_id = ANY($1::text[])",
            ids,
        )
    finally:
        await conn.close()
    positions: dict[str, dict[str, Decimal]] = {i: {} for i in ids}
    for row in rows:
        positions[row["account_id"]][row["symbol"]] = row["quantity"]
    return Books({row["id"]: row["cash"] for row in accounts}, positions)


async def _flint_copy(conn: asyncpg.Connection, users: list[SoakUser]) -> Books:
    """Flint's synced copy of the accounts, keyed by the sandbox's ids."""
    remote = {u.account: u.remote for u in users}
    ids = [u.account for u in users]
    balances = await conn.fetch(
        "SELECT id::text AS id, balance_cash FROM linked_accounts WHERE id = ANY($1::uuid[])", ids
    )
    held = await conn.fetch(
        "SELECT account_id::text AS account_id, symbol, quantity FROM account_holdings "
        "WHERE account_id = ANY($1::uuid[])",
        ids,
    )
    positions: dict[str, dict[str, Decimal]] = {remote[i]: {} for i in ids}
    for row in held:
        positions[remote[row["account_id"]]][row["symbol"]] = row["quantity"]
    return Books({remote[r["id"]]: r["balance_cash"] for r in balances}, positions)


def _held(positions: dict[str, Decimal] | None) -> dict[str, Decimal]:
    return {symbol: quantity for symbol, quantity in (positions or {}).items() if quantity}


def _same(a: Books, b: Books) -> bool:
    return a.cash == b.cash and all(
        _held(a.positions.get(k)) == _held(b.positions.get(k))
        for k in a.positions.keys() | b.positions.keys()
    )


async def settle(flint_dsn: str, sandbox_dsn: str, users: list[SoakUser], within: float) -> float:
    """Wait until no trade is open and Flint's copy of every account equals the broker's books
    (the worker re-syncs an account after each fill), at most ``within`` seconds; returns the
    seconds waited (``within`` or more: it did not settle)."""
    started = time.monotonic()
    conn = await asyncpg.connect(flint_dsn)
    try:
        while time.monotonic() - started < within:
            statuses = await conn.fetch("SELECT DISTINCT status FROM trades")
            if all(OrderStatus(r["status"]).final for r in statuses):
                broker = await sandbox_books(sandbox_dsn, [u.remote for u in users])
                if _same(await _flint_copy(conn, users), broker):
                    return time.monotonic() - started
            await asyncio.sleep(POLL_EVERY)
    finally:
        await conn.close()
    return time.monotonic() - started


@dataclass
class Reconciliation:
    trades: int = 0
    fills: int = 0
    checks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def mismatches(self) -> int:
        return sum(len(problems) for problems in self.checks.values())

    def fail(self, check: str, problem: str) -> None:
        self.checks[check].append(problem)

    def as_json(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "fills": self.fills,
            "mismatches": self.mismatches,
            "checks": {
                name: {"mismatches": len(found), "examples": found[:SHOWN]}
                for name, found in self.checks.items()
            },
        }


async def reconcile(
    flint_dsn: str,
    sandbox_dsn: str,
    users: list[SoakUser],
    opening: Books,
    accepted: list[tuple[str, str]],
    unanswered: int,
    imports: tuple[int, int, int],
) -> Reconciliation:
    """``accepted``: the trades answered 201/202 ((id, status) pairs); ``unanswered``: at most
    this many trade requests were still in flight when wrk stopped (Flint may hold trades no
    answer told of); ``imports``: (files accepted, rows per file, files possibly in flight)."""
    found = Reconciliation()
    for check in ("final", "answers", "orders", "cash", "positions", "flint_copy", "imports"):
        found.checks[check] = []
    conn = await asyncpg.connect(flint_dsn)
    try:
        trades = await conn.fetch(
            "SELECT id::text AS id, account_id::text AS account_id, symbol, action, quantity, "
            "status, filled_quantity, average_price, fees, provider_order_id FROM trades"
        )
        events = await conn.fetch("SELECT trade_id::text AS trade_id, status FROM trade_events")
        copy = await _flint_copy(conn, users)
        rows = await conn.fetchval(
            "SELECT count(*) FROM portfolio_transactions WHERE portfolio_id = ANY($1::uuid[])",
            [u.portfolio for u in users],
        )
    finally:
        await conn.close()
    found.trades = len(trades)
    finals: dict[str, int] = defaultdict(int)
    for event in events:
        if OrderStatus(event["status"]).final:
            finals[event["trade_id"]] += 1
    for trade in trades:
        if not OrderStatus(trade["status"]).final:
            found.fail("final", f"{trade['id']} is {trade['status']}")
        elif finals[trade["id"]] != 1:
            found.fail("final", f"{trade['id']} has {finals[trade['id']]} final events")
    _answers(found, {t["id"] for t in trades}, accepted, unanswered)
    remote = {u.account: u.remote for u in users}
    await _orders(found, sandbox_dsn, trades, list(remote.values()))
    broker = await sandbox_books(sandbox_dsn, remote.values())
    _books(found, trades, remote, opening, broker)
    for account in broker.cash:
        if copy.cash.get(account) != broker.cash[account]:
            found.fail(
                "flint_copy",
                f"{account}: cash {copy.cash.get(account)} at Flint, "
                f"{broker.cash[account]} at the broker",
            )
        if _held(copy.positions.get(account)) != _held(broker.positions[account]):
            found.fail(
                "flint_copy",
                f"{account}: positions {copy.positions.get(account)} at "
                f"Flint, {broker.positions[account]} at the broker",
            )
    files, per_file, in_flight = imports
    if not files * per_file <= rows <= (files + in_flight) * per_file:
        found.fail(
            "imports",
            f"{rows} imported rows for {files} files of {per_file} accepted "
            f"(and at most {in_flight} in flight)",
        )
    return found


def _answers(
    found: Reconciliation, ids: set[str], accepted: list[tuple[str, str]], unanswered: int
) -> None:
    told = [trade_id for trade_id, _ in accepted]
    if len(set(told)) != len(told):
        found.fail("answers", "one trade id answered to two requests")
    for trade_id in set(told) - ids:
        found.fail("answers", f"{trade_id} was accepted and is not in Flint")
    untold = len(ids - set(told))
    if untold > unanswered:
        found.fail(
            "answers",
            f"{untold} trades in Flint that no answer told of, "
            f"with at most {unanswered} requests in flight",
        )


async def _orders(
    found: Reconciliation, sandbox_dsn: str, trades: list[Any], remotes: list[str]
) -> None:
    conn = await asyncpg.connect(sandbox_dsn)
    try:
        orders = await conn.fetch(
            "SELECT id, client_order_id, symbol, action, quantity, status, filled_quantity, "
            "average_price FROM sandbox_orders WHERE account_id = ANY($1::text[])",
            remotes,
        )
    finally:
        await conn.close()
    by_client = {order["client_order_id"]: order for order in orders}
    for order in orders:
        if order["client_order_id"] not in {t["id"] for t in trades}:
            found.fail("orders", f"broker order {order['id']} belongs to no trade")
    for trade in trades:
        order = by_client.get(trade["id"])
        if order is None:
            if trade["provider_order_id"] is not None or trade["filled_quantity"]:
                found.fail("orders", f"{trade['id']} ({trade['status']}) has no broker order")
            continue
        mine = (
            trade["provider_order_id"],
            trade["symbol"],
            trade["action"],
            trade["quantity"],
            trade["status"],
            trade["filled_quantity"],
            trade["average_price"],
        )
        theirs = (
            order["id"],
            order["symbol"],
            order["action"],
            order["quantity"],
            order["status"],
            order["filled_quantity"],
            order["average_price"],
        )
        if mine != theirs:
            found.fail("orders", f"{trade['id']}: Flint {mine}, broker {theirs}")


def _books(
    found: Reconciliation,
    trades: list[Any],
    remote: dict[str, str],
    opening: Books,
    broker: Books,
) -> None:
    cash = dict(opening.cash)
    positions = {k: dict(v) for k, v in opening.positions.items()}
    for trade in trades:
        filled: Decimal = trade["filled_quantity"]
        if not filled:
            continue
        found.fills += 1
        account = remote[trade["account_id"]]
        value = money(filled * trade["average_price"])
        buy = trade["action"] == "buy"
        cash[account] += -(value + trade["fees"]) if buy else value - trade["fees"]
        held = positions[account].get(trade["symbol"], Decimal(0))
        positions[account][trade["symbol"]] = held + (filled if buy else -filled)
    for account, expected in cash.items():
        if broker.cash.get(account) != expected:
            found.fail(
                "cash",
                f"{account}: the fills say {expected}, the broker has {broker.cash.get(account)}",
            )
        wanted = _held(positions[account])
        if wanted != _held(broker.positions.get(account)):
            found.fail(
                "positions",
                f"{account}: the fills say {wanted}, the broker has "
                f"{broker.positions.get(account)}",
            )

"""The sandbox's bank accounts for many link codes: a year of history that reconciles for every
code, and accounts that keep living after the link day (each sync brings the days since)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from flint.brokerage.sandbox import SandboxProvider, bank
from flint.brokerage.sandbox.data import code_key
from flint.brokerage.types import Transaction
from flint.market.service import MarketData
from tests.brokerage.test_sandbox import (
    NOW,
    Clock,
    Linked,
    clock,
    link,
    market,
    postgres_scratch,
    sandbox,
    sandbox_url,
)

__all__ = ["clock", "market", "postgres_scratch", "sandbox", "sandbox_url"]  # fixtures

CODES = 100  # linked through the Protocol
GENERATED = 400  # generated only


@pytest.fixture
async def provider(
    tmp_path: Path, market: MarketData, clock: Clock
) -> AsyncIterator[SandboxProvider]:
    provider = SandboxProvider(f"sqlite+aiosqlite:///{tmp_path / 'bank.db'}", market, clock=clock)
    yield provider
    await provider.aclose()


async def history(
    sandbox: SandboxProvider, who: Linked
) -> tuple[list[Transaction], list[Transaction]]:
    return (
        await sandbox.transactions({}, who.credentials, who.accounts["checking"].id),
        await sandbox.transactions({}, who.credentials, who.accounts["savings"].id),
    )


def days(after: date, through: date, *, day_of_month: int) -> int:
    """How many ``day_of_month``-th days fall in ``(after, through]``."""
    count, day = 0, after + timedelta(days=1)
    while day <= through:
        count += day.day == day_of_month
        day += timedelta(days=1)
    return count


async def reconciles(sandbox: SandboxProvider, who: Linked, first: date, last: date) -> None:
    """Every bill and transfer of ``(first, last]`` is there, checking never went below zero,
    each transfer left one account for the other, and the balances are the sums."""
    checking, savings = await history(sandbox, who)
    running = Decimal(0)
    for transaction in reversed(checking):
        running += transaction.amount
        assert running >= 0, transaction
    assert len([t for t in checking if t.category == "rent" and t.date > first]) == days(
        first, last, day_of_month=1
    )
    monthly = [t for t in checking if t.description == "Transfer to savings" and t.date > first]
    assert len(monthly) == days(first, last, day_of_month=3)
    assert all(t.date.day == 3 for t in monthly)
    out = sorted((t.date, -t.amount) for t in checking if t.type == "transfer")
    into = sorted((t.date, t.amount) for t in savings if t.type == "transfer")
    assert out == into
    for account, listed in (("checking", checking), ("savings", savings)):
        balances = await sandbox.balances({}, who.credentials, who.accounts[account].id)
        assert balances.current == sum(t.amount for t in listed)
        assert balances.current > 0


def test_the_bank_generator_pays_every_bill_for_many_codes() -> None:
    """The generator alone, for more codes than linking would allow in a test's time."""
    today = NOW.date()
    start = today - timedelta(days=bank.HISTORY_DAYS)
    for number in range(GENERATED):
        key = code_key(f"generator-{number}")
        checking, savings = bank.opened(key, "c", "s", today)
        running = Decimal(0)
        for item in checking.items:
            running += item.amount
            assert running >= 0, (number, item)
        assert running == checking.balance
        assert sum(item.amount for item in savings.items) == savings.balance
        rent = [t for t in checking.items if t.category == "rent"]
        assert [t.date for t in rent] == [
            start + timedelta(days=n)
            for n in range(1, bank.HISTORY_DAYS + 1)
            if (start + timedelta(days=n)).day == 1
        ]
        salary = [t for t in checking.items if t.category == "income"]
        assert len(salary) in (26, 27)
        assert all(t.date.weekday() == 4 for t in salary)
        out = sorted((t.date, -t.amount) for t in checking.items if t.type == "transfer")
        into = sorted((t.date, t.amount) for t in savings.items if t.type == "transfer")
        assert out == into


async def test_a_year_of_bank_history_reconciles_for_every_code(provider: SandboxProvider) -> None:
    today = NOW.date()
    start = today - timedelta(days=364)
    for number in range(CODES):
        who = await link(provider, f"reconcile-{number}")
        await reconciles(provider, who, start, today)


async def test_bank_accounts_keep_living_after_the_link_day(
    sandbox: SandboxProvider, clock: Clock
) -> None:
    provider = sandbox  # on SQLite and on PostgreSQL
    who = await link(provider, f"living-{uuid.uuid4().hex}")
    checking, savings = await history(provider, who)
    assert max(t.date for t in checking) <= NOW.date()
    for step in range(1, 46):  # a sync a day for six weeks, each bringing its day's news
        clock.now = NOW + timedelta(days=step)
        newer, _ = await history(provider, who)
        added = newer[: len(newer) - len(checking)]
        assert newer[len(added) :] == checking  # what was there stays as it was
        assert all(t.date == clock.now.date() for t in added)
        checking = newer
    today = clock.now.date()
    assert len([t for t in checking if t.date > NOW.date() and t.category == "income"]) in (3, 4)
    assert len([t for t in checking if t.date > NOW.date() and t.type == "card_payment"]) > 20
    await reconciles(provider, who, today - timedelta(days=364 + 45), today)
    _, newer_savings = await history(provider, who)
    assert len(newer_savings) > len(savings)  # a transfer and interest at least


async def test_one_late_sync_brings_what_daily_syncs_brought(
    market: MarketData, clock: Clock, tmp_path: Path
) -> None:
    code = f"late-{uuid.uuid4().hex}"
    daily = SandboxProvider(f"sqlite+aiosqlite:///{tmp_path / 'daily.db'}", market, clock=clock)
    late = SandboxProvider(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}", market, clock=clock)
    try:
        one, two = await link(daily, code), await link(late, code)
        for step in range(1, 31):
            clock.now = NOW + timedelta(days=step)
            await history(daily, one)
        assert await history(daily, one) == await history(late, two)
        for account in ("checking", "savings"):
            assert await daily.balances(
                {}, one.credentials, one.accounts[account].id
            ) == await late.balances({}, two.credentials, two.accounts[account].id)
    finally:
        await daily.aclose()
        await late.aclose()

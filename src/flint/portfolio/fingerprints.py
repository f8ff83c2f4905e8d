"""Re-imports without duplicates: every imported row leaves a fingerprint in its portfolio, and
a row whose fingerprint the portfolio already has is skipped (or, on request, refused).

A row's fingerprint is ``<preset>:<id>`` when its format gives the source's own transaction
id, else the SHA-256 of the row normalised (date, symbol, type, quantity, price, fee, amount
and currency, the one the row names or the one the ledger gives it; numbers by value, so
``10``, ``10.0`` and ``10.00`` are one), so the same trade read from two formats without ids
is one. Equal rows within a file are counted: the k-th gets ``#k``, so two equal buys on a
day are two rows, and a later export with a third adds only the third.

Fingerprints outlive the transactions they made, and do not name them: a row deleted or
changed by hand is not imported again. Rows entered by hand have none, so a file
holding a trade entered by hand adds it: two equal trades on one day are legitimate, and a
hand-entered row cannot say which of a file's equal rows it is.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.bulk import bulk_insert
from flint.db import table_of
from flint.errors import ValidationFailed, field_error
from flint.kit.threads import crunch
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import imports, pages, service
from flint.portfolio.models import ImportFingerprint, Portfolio
from flint.portfolio.schemas import TransactionIn
from flint.portfolio.symbols import book

Ts = TypeVarTuple("Ts")
OnDuplicate = Literal["skip", "fail"]
LISTED_MAX = 500
"""Up to this many fingerprints are looked up by name; a bigger file reads the portfolio's
fingerprints whole (one query either way, within the bind-parameter limits of both databases;
refusing a file takes one more, for the dates)."""
ID_MAX = 180
"""A longer ``<preset>:<id>`` is stored as ``<preset>:sha256:<the id's hash>`` (the column
takes 200 characters, with room for ``#k``)."""


@dataclass(frozen=True)
class Imported:
    created: list[pages.Booked]
    """The transactions added, in the file's order."""
    skipped: int
    """The rows the portfolio had imported before."""
    rows: list[int]
    """Which of the file's rows were added (their positions, in order)."""


def _number(value: Decimal | None) -> str:
    if value is None:
        return ""
    return format(value.normalize(), "f") if value else "0"


def row_hash(entry: TransactionIn, currency: str) -> str:
    """The row normalised and hashed (never its format: the same trade from two formats
    without ids is one)."""
    fields = (
        entry.date.isoformat(),
        entry.symbol or "",
        entry.type,
        _number(entry.quantity),
        _number(entry.price),
        _number(entry.fee),
        _number(entry.amount),
        currency,
    )
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def fingerprints(parsed: imports.Parsed, preset: str, currencies: Sequence[str]) -> list[str]:
    """Each row's fingerprint (``currencies``: each row's currency as the ledger settles it)."""
    counts: Counter[str] = Counter()
    out: list[str] = []
    for entry, source_id, currency in zip(parsed.entries, parsed.ids, currencies, strict=True):
        if source_id:
            key = f"{preset}:{source_id}"
            if len(key) > ID_MAX:
                key = f"{preset}:sha256:{hashlib.sha256(source_id.encode()).hexdigest()}"
        else:
            key = row_hash(entry, currency)
        counts[key] += 1
        k = counts[key]
        out.append(key if source_id and k == 1 else f"{key}#{k}")
    return out


async def _currencies(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    entries: Sequence[TransactionIn],
) -> list[str]:
    symbols = await book(session, market, portfolio.user_id, (e.symbol for e in entries))
    base = portfolio.base_currency
    return [
        e.currency or service.default_currency(e.symbol, e.type, symbols, base) for e in entries
    ]


async def _lock(session: AsyncSession, portfolio: Portfolio) -> None:
    """Hold the portfolio until the transaction ends, so a concurrent import of the same file
    waits and then sees this one's fingerprints (PostgreSQL; SQLite transactions that write
    hold the database's write lock from their start)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = select(Portfolio).where(Portfolio.id == portfolio.id).with_for_update()
        await session.execute(stmt.execution_options(populate_existing=True))


def _among(stmt: Select[*Ts], portfolio: Portfolio, wanted: set[str]) -> Select[*Ts]:
    """``stmt`` limited to the portfolio's fingerprints, by name when they are few (the caller
    keeps only ``wanted`` from the whole set read otherwise)."""
    stmt = stmt.where(ImportFingerprint.portfolio_id == portfolio.id)
    if len(wanted) <= LISTED_MAX:
        stmt = stmt.where(ImportFingerprint.fingerprint.in_(wanted))
    return stmt


async def _known(session: AsyncSession, portfolio: Portfolio, prints: Sequence[str]) -> set[str]:
    """Those of ``prints`` the portfolio has."""
    wanted = set(prints)
    found = await session.scalars(_among(select(ImportFingerprint.fingerprint), portfolio, wanted))
    return {fingerprint for fingerprint in found if fingerprint in wanted}


async def _imported_on(
    session: AsyncSession, portfolio: Portfolio, known: set[str]
) -> dict[str, datetime]:
    """When each of ``known`` was imported (read only to refuse a file: timestamps cost)."""
    stmt = select(ImportFingerprint.fingerprint, ImportFingerprint.created_at)
    rows = await session.execute(_among(stmt, portfolio, known))
    return {fingerprint: at for fingerprint, at in rows if fingerprint in known}


async def import_rows(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    parsed: imports.Parsed,
    preset: str,
    on_duplicate: OnDuplicate = "skip",
) -> Imported:
    """Add the file's new rows to the ledger (its rules apply: all or none) with their
    fingerprints; rows imported before are skipped, or with ``fail`` refuse the file (422
    naming each)."""
    await _lock(session, portfolio)
    currencies = await _currencies(session, market, portfolio, parsed.entries)
    prints = await crunch(len(parsed.entries), fingerprints, parsed, preset, currencies)
    known = await _known(session, portfolio, prints)
    if known and on_duplicate == "fail":
        imported_on = await _imported_on(session, portfolio, known)
        problems = [
            (label, f"already imported on {imported_on[fp].date().isoformat()}")
            for label, fp in zip(parsed.labels, prints, strict=True)
            if fp in known
        ]
        raise ValidationFailed(
            "The file was not imported (onDuplicate=fail): "
            + "; ".join(f"{where}: {why}" for where, why in problems),
            errors=[field_error(where, why) for where, why in problems],
        )
    new = [i for i, fp in enumerate(prints) if fp not in known]
    if not new:
        return Imported([], len(prints), [])
    created = await service.add_transactions(
        session,
        market,
        portfolio,
        [parsed.entries[i] for i in new],
        names=[parsed.labels[i] for i in new],
    )
    await bulk_insert(  # in the key's order: the primary key's B-tree grows at one end
        session,
        table_of(ImportFingerprint),
        {
            "portfolio_id": [portfolio.id] * len(new),
            "fingerprint": sorted(prints[i] for i in new),
            "created_at": [utcnow()] * len(new),
        },
    )
    return Imported(created, len(prints) - len(new), new)

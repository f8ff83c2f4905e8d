"""A portfolio as Ghostfolio's export file (its `ExportResponse`), so a Flint ledger can be
taken to Ghostfolio or brought back into Flint (`ghostfolio.read` reads it back).

One account (the portfolio); buys, sells, dividends, interest and fees as Ghostfolio's
activities; a tax as a FEE whose comment is ``flint:tax``; deposits and withdrawals as the
account's balance on their days (Ghostfolio keeps cash as a balance, not as activities); a
split by adjusting the trades before it (quantity times the ratio, price divided by it), as
Ghostfolio reads split-adjusted prices. Custom assets are MANUAL asset profiles
(``MY:HOUSE`` as ``GF_MY_HOUSE``) with their prices as ``marketData``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.db import commit
from flint.kit.money import PRICE_STEP
from flint.kit.symbols import is_custom
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import cash, currencies, pages
from flint.portfolio.assets import service as assets
from flint.portfolio.cash import Row
from flint.portfolio.ghostfolio import TAX_MARK
from flint.portfolio.models import Portfolio
from flint.portfolio.pages import Booked
from flint.portfolio.valuation import Entry

VERSION = "flint"
CLASSES: dict[str, tuple[str | None, str | None]] = {
    "real_estate": ("REAL_ESTATE", None),
    "private_equity": ("EQUITY", "PRIVATE_EQUITY"),
    "bond": ("FIXED_INCOME", "BOND"),
    "fund": ("EQUITY", "MUTUALFUND"),
    "cash_equivalent": ("LIQUIDITY", "CASH"),
    "commodity": ("COMMODITY", "COMMODITY"),
    "collectible": ("ALTERNATIVE_INVESTMENT", "COLLECTIBLE"),
    "crypto": ("LIQUIDITY", "CRYPTOCURRENCY"),
}
LABELS = {"fee": "Fee", "interest": "Interest", "tax": "Tax"}


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def manual_symbol(symbol: str) -> str:
    """A custom symbol as Ghostfolio accepts a MANUAL one (prefix ``GF_``)."""
    namespace, name = symbol.split(":", 1)
    return f"GF_{namespace}_{name}"


def _adjusted(entries: Sequence[Booked]) -> list[Entry]:
    """The ledger without its splits: the trades before each split in post-split units."""
    out: list[Entry] = []
    for e in entries:
        if e.type == "split" and e.symbol and e.quantity:
            ratio = e.quantity
            for k, earlier in enumerate(out):
                if earlier.symbol == e.symbol and earlier.type in ("buy", "sell"):
                    out[k] = replace(
                        earlier,
                        quantity=(earlier.quantity or Decimal(0)) * ratio,
                        price=((earlier.price or Decimal(0)) / ratio).quantize(
                            PRICE_STEP, rounding=ROUND_HALF_EVEN
                        ),
                    )
            continue
        out.append(Entry(e.date, e.type, e.symbol, e.quantity, e.price, e.fee, e.amount))
    return out


def _cash_rows(entries: Sequence[Booked]) -> list[Row]:
    return [
        Row("", e.date, e.type, e.symbol, e.quantity, e.price, e.fee, e.amount, e.currency)
        for e in entries
    ]


async def _rates(
    sessions: async_sessionmaker[AsyncSession], market: MarketData, base: str, rows: list[Row]
) -> currencies.Rates | None:
    """The FX closes the cash balances need (None without a deposit or withdrawal); those
    missing are stored in a session of its own (a GET's session is read-only)."""
    if not any(row.type in ("deposit", "withdrawal") for row in rows):
        return None
    async with sessions() as session:
        fx = await cash.rates(session, market, base, rows)
        await commit(session)
    return fx


def _balances(base: str, rows: list[Row], fx: currencies.Rates | None) -> list[dict[str, Any]]:
    """The cash at the end of each day with a deposit or withdrawal, newest first."""
    flow_days = {row.date for row in rows if row.type in ("deposit", "withdrawal")}
    if fx is None or not flow_days:
        return []
    days = cash.replay(rows, fx.convert, base)
    return [
        {"date": _stamp(d.date), "value": d.balance} for d in reversed(days) if d.date in flow_days
    ]


async def _profiles(
    session: AsyncSession, portfolio: Portfolio, symbols: set[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for symbol in sorted(symbols):
        asset = await assets.get(session, portfolio.user_id, symbol)
        points = await assets.prices(session, asset, None, None)
        asset_class, sub_class = CLASSES.get(asset.asset_class, (None, None))
        out.append(
            _profile(
                manual_symbol(symbol),
                asset.name,
                asset.currency,
                [{"date": _stamp(p.date), "marketPrice": p.price} for p in points],
                asset_class,
                sub_class,
            )
        )
    return out


def _profile(
    symbol: str,
    name: str,
    currency: str,
    market_data: list[dict[str, Any]],
    asset_class: str | None = None,
    sub_class: str | None = None,
) -> dict[str, Any]:
    return {
        "assetClass": asset_class,
        "assetSubClass": sub_class,
        "comment": None,
        "countries": [],
        "currency": currency,
        "cusip": None,
        "dataSource": "MANUAL",
        "figi": None,
        "figiComposite": None,
        "figiShareClass": None,
        "holdings": [],
        "isActive": True,
        "isin": None,
        "marketData": market_data,
        "name": name,
        "sectors": [],
        "symbol": symbol,
        "url": None,
    }


async def export(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    readers: async_sessionmaker[AsyncSession],
    market: MarketData,
    portfolio: Portfolio,
) -> bytes:
    """The file. The ledger is read a chunk at a time and the document built and written in
    a thread: a 100,000-row ledger's file (24 MB) built on the event loop held every other
    request of the process for 3.2 s."""
    stored: list[Booked] = []
    async for chunk in pages.chunks(readers, portfolio.id):
        stored.extend(chunk)
    base = portfolio.base_currency
    customs = {e.symbol for e in stored if e.symbol and is_custom(e.symbol)}
    profiles = await _profiles(session, portfolio, customs)
    rows = _cash_rows(stored)  # for the rates here and the balances' replay in the thread
    fx = await _rates(sessions, market, base, rows)
    about = _About(portfolio.id, portfolio.name, base)
    build = partial(_document, about, stored, profiles, rows, fx)
    return await anyio.to_thread.run_sync(build)


@dataclass(frozen=True)
class _About:
    id: uuid.UUID
    name: str
    base: str


def _document(
    portfolio: _About,
    stored: list[Booked],
    profiles: list[dict[str, Any]],
    rows: list[Row],
    fx: currencies.Rates | None,
) -> bytes:
    base = portfolio.base
    account = str(portfolio.id)
    labels: dict[str, str] = {}
    activities: list[dict[str, Any]] = []
    for e, entry in zip(_adjusted(stored), (s for s in stored if s.type != "split"), strict=True):
        if e.type in ("deposit", "withdrawal"):
            continue
        kind = {"tax": "FEE"}.get(e.type, e.type.upper())
        symbol, source = e.symbol, "YAHOO"
        if symbol and is_custom(symbol):
            symbol, source = manual_symbol(symbol), "MANUAL"
        elif symbol is None:
            symbol = str(uuid.uuid5(portfolio.id, e.type))
            source = "MANUAL"
            labels.setdefault(symbol, LABELS.get(e.type, e.type))
        quantity, price, fee = e.quantity, e.price, e.fee
        if e.type in ("dividend", "interest"):
            quantity, price, fee = Decimal(1), e.amount, Decimal(0)
        elif e.type in ("fee", "tax"):
            quantity, price, fee = Decimal(0), Decimal(0), e.amount or Decimal(0)
        activities.append(
            {
                "accountId": account,
                "comment": TAX_MARK if e.type == "tax" else None,
                "fee": fee,
                "id": str(entry.id),
                "quantity": quantity,
                "type": kind,
                "unitPrice": price,
                "currency": entry.currency,
                "dataSource": source,
                "date": _stamp(e.date),
                "symbol": symbol,
                "tags": [],
            }
        )
    profiles = [*profiles, *(_profile(s, name, base, []) for s, name in labels.items())]
    document = {
        "meta": {
            "date": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "version": VERSION,
        },
        "accounts": [
            {
                "balances": _balances(base, rows, fx),
                "comment": None,
                "currency": base,
                "id": account,
                "name": portfolio.name,
                "platformId": None,
                "tags": [],
            }
        ],
        "assetProfiles": profiles,
        "platforms": [],
        "tags": [],
        "activities": activities,
        "user": {"settings": {"currency": base, "performanceCalculationType": "ROAI"}},
    }
    return dumps(document).encode()


def dumps(value: Any) -> str:
    """JSON with decimals written as exact numbers (``json`` would need floats)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)

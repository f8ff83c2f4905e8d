"""A Ghostfolio file's plan carried out: custom assets with their prices, one portfolio per
account (or one for all), each ledger through `fingerprints.import_rows` (all or nothing: the
request's transaction rolls back on the first refusal; every row fingerprinted, so a later
import of the same rows into the portfolio adds nothing).

A portfolio remembers the account it was made of (`Portfolio.source`): importing the same
file again, or a newer export of the same Ghostfolio account, goes into that portfolio and
adds only the activities and balances it lacks (in the portfolio's base currency, if its
owner has changed it since). With ``portfolios=one`` the portfolio's ``name`` is what it is
known by.

The account's cash balances become deposits and withdrawals: on each day Ghostfolio recorded a
balance, the difference between that balance and the cash the activities leave that day (after
Flint's own rule that buys and fees beyond the cash are funded from outside) is deposited or
withdrawn, so the portfolio's cash is the account's on those days and ends at its last balance.
A negative balance turns `allowNegativeCash` on."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections import Counter
from datetime import date
from decimal import ROUND_CEILING, Decimal

import anyio
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.billing.api import Plans
from flint.errors import ValidationFailed, error_message, field_error
from flint.kit.money import PRICE_STEP
from flint.kit.threads import crunch
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import (
    cash,
    currencies,
    fingerprints,
    ghostfolio,
    ghostfolio_csv,
    imports,
    pages,
    service,
)
from flint.portfolio.assets import service as assets
from flint.portfolio.assets.schemas import CustomAssetIn, PricePointIn
from flint.portfolio.cash import Row
from flint.portfolio.ghostfolio import CustomPlan, Mode, PortfolioPlan
from flint.portfolio.ghostfolio_schemas import (
    BalanceFlow,
    GfFile,
    GhostfolioImport,
    ImportedAsset,
    ImportedPortfolio,
    NotImported,
)
from flint.portfolio.models import Portfolio
from flint.portfolio.schemas import PortfolioIn, TransactionIn
from flint.portfolio.valuation import settle
from flint.users.api import lock_user

ZERO = Decimal(0)
PRESET = "ghostfolio"


async def import_file(
    session: AsyncSession,
    market: MarketData,
    plans: Plans,
    user_id: uuid.UUID,
    data: bytes,
    *,
    mode: ghostfolio.Mode,
    name: str,
    base: str | None,
) -> GhostfolioImport:
    if base is not None and not currencies.is_base(market, base):
        raise ValidationFailed.at("query.baseCurrency", f"{base} cannot be a base currency")
    if ghostfolio_csv.recognises(data):  # its CSV: problems named by the file's lines
        sheet = await anyio.to_thread.run_sync(ghostfolio_csv.read, data)
        try:
            done = await _import(
                session, market, plans, user_id, sheet.doc, mode, name, base, by_name=True
            )
        except ValidationFailed as exc:
            raise sheet.names.renamed(exc) from exc
        for left in done.not_imported:
            left.where = sheet.names.of(left.where)
        return done
    # Parsing and reading a 5 MiB file took about 1 s of CPU, which on the event loop held
    # every other request of the process: both run in a worker thread.
    doc = await anyio.to_thread.run_sync(ghostfolio.parse, data)
    return await _import(session, market, plans, user_id, doc, mode, name, base)


def _accounts_by_name(doc: GfFile, made: list[tuple[str, str]]) -> None:
    """An account a CSV names by its name (Ghostfolio matches an account's id or its name, in
    any case) stands for the Ghostfolio account a portfolio of that name was made of by an
    earlier import (``made``: the user's portfolios' names and sources)."""
    prefix = account_source("")
    ids: set[str] = set()
    by_name: dict[str, str] = {}
    for portfolio_name, source in made:
        if source.startswith(prefix):
            account_id = source.removeprefix(prefix)
            ids.add(account_id)
            by_name.setdefault(portfolio_name.strip().lower(), account_id)
    for activity in doc.activities:
        named = activity.account_id
        if named is not None and named not in ids:
            activity.account_id = by_name.get(named.strip().lower(), named)


async def _import(
    session: AsyncSession,
    market: MarketData,
    plans: Plans,
    user_id: uuid.UUID,
    doc: GfFile,
    mode: ghostfolio.Mode,
    name: str,
    base: str | None,
    *,
    by_name: bool = False,
) -> GhostfolioImport:
    """``by_name``: the file may name accounts by name (Ghostfolio's CSV)."""
    # One import of a user's at a time: the same file sent twice at once waits for the first
    # and then finds its portfolios and custom assets.
    await lock_user(session, user_id)
    mine = await assets.list_assets(session, user_id)
    existing = {a.symbol: (a.name, a.currency) for a in mine}
    made = [
        (portfolio_name, source)
        for portfolio_name, source in await session.execute(
            select(Portfolio.name, Portfolio.source).where(
                Portfolio.user_id == user_id, Portfolio.source.is_not(None)
            )
        )
        if source is not None
    ]
    if by_name:
        _accounts_by_name(doc, made)
    made_of = {source for _, source in made}
    reader = ghostfolio.Reader(
        doc,
        market,
        existing,
        utcnow().date(),
        remembered=lambda account_id: account_source(account_id) in made_of,
    )
    plan = await anyio.to_thread.run_sync(reader.read, mode, name, base)
    assets_out = [await _custom(session, user_id, c, c.symbol in existing) for c in plan.customs]
    portfolios_out = [
        await _portfolio(session, market, plans, user_id, p, source_of(p, mode, name))
        for p in plan.portfolios
    ]
    return GhostfolioImport(
        portfolios=portfolios_out,
        custom_assets=assets_out,
        not_imported=[NotImported(where=w, reason=r) for w, r in plan.not_imported],
    )


def added_anything(done: GhostfolioImport) -> bool:
    """Whether the import made or added anything (else every row was known)."""
    return any(p.created or p.transactions for p in done.portfolios) or any(
        a.created or a.prices for a in done.custom_assets
    )


SOURCE_ID_MAX = 150
"""A longer Ghostfolio account id is kept as its SHA-256 (the column takes 200 characters)."""


def source_of(plan: PortfolioPlan, mode: Mode, name: str) -> str:
    """What the portfolio of ``plan`` is known by: its Ghostfolio account, the activities
    without one, or (``one``) the name asked for."""
    if mode == "one":
        return _source(f"one:{name.strip()}")
    if plan.account_id is None:
        return _source("no-account")
    return account_source(plan.account_id)


def account_source(account_id: str) -> str:
    """What the portfolio made of Ghostfolio account ``account_id`` is known by."""
    return _source(f"account:{account_id}")


def _source(key: str) -> str:
    if len(key) > SOURCE_ID_MAX:
        key = f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return f"{PRESET}:{key}"


async def _custom(
    session: AsyncSession, user_id: uuid.UUID, custom: CustomPlan, reuse: bool
) -> ImportedAsset:
    where = f"assetProfiles[symbol={custom.ghostfolio_symbol}]"
    try:
        body = CustomAssetIn(
            symbol=custom.symbol,
            name=custom.name,
            currency=custom.currency,
            asset_class=custom.asset_class,
        )
        points = [PricePointIn(date=d, price=p) for d, p in sorted(custom.prices.items())]
    except ValidationError as exc:
        errors = [
            (f"{where}.{e['loc'][0] if e['loc'] else ''}", error_message(e)) for e in exc.errors()
        ]
        detail = "; ".join(f"{w}: {m}" for w, m in errors)
        raise ValidationFailed(detail, errors=[field_error(w, m) for w, m in errors]) from exc
    if reuse:
        asset = await assets.get(session, user_id, custom.symbol)
        stored = {p.date for p in await assets.prices(session, asset, None, None)}
        points = [p for p in points if p.date not in stored]
    else:
        asset = await assets.create(session, user_id, body)
    if points:
        await assets.put_prices(session, asset, points)
    return ImportedAsset(
        ghostfolio_symbol=custom.ghostfolio_symbol,
        symbol=custom.symbol,
        name=custom.name,
        created=not reuse,
        prices=len(points),
    )


async def _portfolio(
    session: AsyncSession,
    market: MarketData,
    plans: Plans,
    user_id: uuid.UUID,
    plan: PortfolioPlan,
    source: str,
) -> ImportedPortfolio:
    portfolio = await session.scalar(
        select(Portfolio).where(Portfolio.user_id == user_id, Portfolio.source == source)
    )
    created = portfolio is None
    if portfolio is None:
        portfolio = await service.create(
            session,
            market,
            plans,
            user_id,
            PortfolioIn(name=plan.name, base_currency=plan.base),
        )
        portfolio.source = source
    else:  # the balances in the portfolio's own currency, which its owner may have changed
        plan = dataclasses.replace(plan, base=portfolio.base_currency)
    flows, negative = await _balance_flows(session, market, user_id, plan)
    if negative:
        portfolio.allow_negative_cash = True
    # Written now: the ledger's lock reads the portfolio again (on PostgreSQL), and this
    # session does not flush by itself, so a change still pending would be lost.
    await session.flush()
    rows = sorted(
        [*((e, w, False) for e, w in zip(plan.entries, plan.labels, strict=True))]
        + [(f, w, True) for f, w in flows],
        key=lambda row: row[0].date,
    )
    added: list[pages.Booked] = []
    skipped = 0
    added_flows: list[tuple[TransactionIn, str]] = []
    if rows:
        entries, labels = [e for e, _, _ in rows], [w for _, w, _ in rows]
        # With fingerprints, as a file imported into the portfolio: this file again, a newer
        # export, or its own CSV export imported into it later adds only what is new.
        parsed = imports.Parsed(entries, labels, [None] * len(entries), preset=PRESET)
        done = await fingerprints.import_rows(session, market, portfolio, parsed, PRESET)
        added, skipped = done.created, done.skipped
        added_flows = [(rows[i][0], rows[i][1]) for i in done.rows if rows[i][2]]
    return ImportedPortfolio(
        portfolio_id=portfolio.id,
        name=portfolio.name,
        base_currency=portfolio.base_currency,
        account_id=plan.account_id,
        created=created,
        allow_negative_cash=portfolio.allow_negative_cash,
        transactions=dict(Counter(e.type for e in added)),
        skipped=skipped,
        balance_flows=[
            BalanceFlow(where=w, date=f.date, type=f.type, amount=f.amount or ZERO)
            for f, w in added_flows
        ],
    )


async def _balance_flows(
    session: AsyncSession, market: MarketData, user_id: uuid.UUID, plan: PortfolioPlan
) -> tuple[list[tuple[TransactionIn, str]], bool]:
    """The deposits and withdrawals that make the cash the account's balance on each day it
    recorded one, and whether a balance is below zero."""
    if not plan.balances:
        return [], False
    rows = await crunch(len(plan.entries), service.sent_rows, plan.labels, plan.entries)
    today = utcnow().date()
    rows = await service.check_rows(session, market, user_id, rows, today, plan.base)
    parts = [
        Row(b.where, b.day, "deposit", None, None, amount=v, currency=c)
        for b in plan.balances
        for v, c in b.parts
    ]
    for row in parts:
        assert row.currency is not None
        if not currencies.convertible(market, row.currency, plan.base):
            raise ValidationFailed.at(
                row.field, f"{row.currency} cannot be converted to {plan.base}"
            )
    fx = await cash.rates(session, market, plan.base, [*rows, *parts])
    days = cash.by_day(rows)
    targets = {b.day: b for b in plan.balances}
    balance, negative = ZERO, False
    flows: list[tuple[TransactionIn, str]] = []
    for day in sorted(set(days) | set(targets)):
        inflow, spend, withdrawn = cash.totals(days.get(day, []), fx.convert, plan.base)
        target = targets.get(day)
        if target is not None:
            want = sum((fx.convert(v, c, day) for v, c in target.parts), ZERO)
            negative = negative or want < 0
            gap = want - (balance + inflow - spend - withdrawn)
            gap = gap.quantize(PRICE_STEP, rounding=ROUND_CEILING).normalize()
            if gap:
                flows.append((_flow(day, gap, plan.base), target.where))
                inflow, withdrawn = (
                    (inflow + gap, withdrawn) if gap > 0 else (inflow, withdrawn - gap)
                )
        _, balance = settle(balance, inflow, spend, withdrawn)
    return flows, negative


def _flow(day: date, gap: Decimal, currency: str) -> TransactionIn:
    kind = "deposit" if gap > 0 else "withdrawal"
    return TransactionIn(date=day, type=kind, amount=abs(gap), currency=currency)

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.billing.api import PlansDep
from flint.errors import problem_responses
from flint.kit.symbols import Symbol
from flint.kit.time import IsoDate
from flint.market.api import MarketDep
from flint.portfolio import (
    charts,
    editing,
    following,
    pages,
    replacement,
    service,
)
from flint.portfolio.deps import OwnedPortfolio, PerformanceDep, ReadablePortfolio
from flint.portfolio.edit_schemas import PortfolioPatch
from flint.portfolio.figure_schemas import GroupBy
from flint.portfolio.models import Portfolio
from flint.portfolio.performance_schemas import Performance
from flint.portfolio.schemas import (
    AssetOut,
    FollowIn,
    PortfolioCreate,
    PortfolioOut,
    PortfolioReplace,
    Portfolios,
    SyncReport,
    TransactionOut,
)
from flint.users.api import CurrentUserId
from flint.web import ReadsDep, ReadSessionDep, SessionDep

router = APIRouter(prefix="/portfolio", tags=["portfolio"])

Sessions = async_sessionmaker[AsyncSession]


async def portfolio_out(session: AsyncSession, portfolio: Portfolio) -> PortfolioOut:
    return _portfolio_out(_About.of(portfolio), await pages.lots(session, portfolio.id))


@dataclass(frozen=True)
class _About:
    """What a portfolio's answer says of it besides its lots (read on the event loop, so the
    answer can be built in a thread)."""

    id: uuid.UUID
    name: str
    base_currency: str
    allow_negative_cash: bool
    version: int
    account_id: uuid.UUID | None
    last_synced_at: datetime | None
    sync_report: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, portfolio: Portfolio) -> _About:
        return cls(
            portfolio.id,
            portfolio.name,
            portfolio.base_currency,
            portfolio.allow_negative_cash,
            portfolio.version,
            portfolio.account_id,
            portfolio.last_synced_at,
            portfolio.sync_report,
            portfolio.created_at,
            portfolio.updated_at,
        )


def _portfolio_out(portfolio: _About, lots: list[pages.Booked]) -> PortfolioOut:
    return PortfolioOut(
        portfolio_id=portfolio.id,
        name=portfolio.name,
        base_currency=portfolio.base_currency,
        allow_negative_cash=portfolio.allow_negative_cash,
        assets=[
            AssetOut(
                lot_id=lot.id,
                symbol=lot.symbol or "",
                quantity=lot.quantity or 0,
                purchase_price=lot.price or 0,
                purchase_date=lot.date,
                fee=lot.fee,
                currency=lot.currency,
                source_transaction_id=lot.source_transaction_id,
            )
            for lot in lots
        ],
        version=portfolio.version,
        account_id=portfolio.account_id,
        last_synced_at=portfolio.last_synced_at,
        sync_report=(
            SyncReport.model_validate(portfolio.sync_report) if portfolio.sync_report else None
        ),
        created_at=portfolio.created_at,
        updated_at=portfolio.updated_at,
    )


def transaction_out(entry: pages.LedgerRow) -> TransactionOut:
    return TransactionOut(
        transaction_id=entry.id,
        date=entry.date,
        type=entry.type,
        symbol=entry.symbol,
        quantity=entry.quantity,
        price=entry.price,
        fee=entry.fee,
        amount=entry.amount,
        currency=entry.currency,
        source_transaction_id=entry.source_transaction_id,
    )


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    summary="Create a portfolio, optionally with its lots, optionally following an account",
    description="Each asset is a lot (a buy), priced in its symbol's quote currency. Unknown "
    "symbols and dates outside 1900-01-01..today are refused, naming every bad row; so is a "
    "`baseCurrency` the market cannot convert US dollars into (422 at `body.baseCurrency`). "
    "With `accountId` (one of your linked brokerage accounts) the "
    "portfolio follows that account: see `PUT /portfolio/{portfolioId}/follow`. Beyond your "
    "plan's portfolios (`GET /billing/subscription`): 403 `/plan-limit`.",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def create(
    body: PortfolioCreate,
    user_id: CurrentUserId,
    session: SessionDep,
    market: MarketDep,
    plans: PlansDep,
) -> PortfolioOut:
    portfolio = await following.create(session, market, plans, user_id, body)
    return await portfolio_out(session, portfolio)


@router.get("/", summary="Your portfolios", responses=problem_responses(401))
async def list_portfolios(user_id: CurrentUserId, reads: ReadsDep) -> Portfolios:
    rows = await service.list_portfolios(reads, user_id)
    return Portfolios.from_fields({"portfolios": rows})


@router.get(
    "/{portfolioId}",
    response_model=PortfolioOut,
    summary="One portfolio with its lots",
    responses=problem_responses(401, 404, 422),
)
async def read(portfolio: ReadablePortfolio, session: ReadSessionDep) -> Response:
    return await _answer(session, portfolio)


async def _answer(session: AsyncSession, portfolio: Portfolio) -> Response:
    """The portfolio with its lots, built and written in a thread: one of 50,000 lots (a
    100,000-row import) held every other request of the process for 2.5 s on the event loop."""
    about, lots = _About.of(portfolio), await pages.lots(session, portfolio.id)
    body = await anyio.to_thread.run_sync(partial(_portfolio_json, about, lots))
    return Response(body, media_type="application/json")


def _portfolio_json(about: _About, lots: list[pages.Booked]) -> bytes:
    return _portfolio_out(about, lots).model_dump_json(by_alias=True).encode()


@router.patch(
    "/{portfolioId}",
    response_model=PortfolioOut,
    summary="Rename a portfolio, or change its base currency or cash rule, keeping its lots",
    description="Only the fields sent change (`null`: as it is); the lots and the rest of the "
    "ledger stay, however many (a portfolio of a large import has too many lots to send back "
    "with `PUT`). A base currency the ledger's amounts cannot be converted to is 422 at "
    "`body.baseCurrency`, and so is turning `allowNegativeCash` off while a withdrawal leaves "
    "the cash below zero (at `body.allowNegativeCash`).",
    responses=problem_responses(400, 401, 404, 422),
)
async def amend(
    portfolio: OwnedPortfolio, body: PortfolioPatch, session: SessionDep, market: MarketDep
) -> Response:
    await editing.amend(session, market, portfolio, body)
    return await _answer(session, portfolio)


@router.put(
    "/{portfolioId}",
    response_model=PortfolioOut,
    summary="Replace a portfolio's name, currency and lots",
    description="The lots sent replace the lots entered in the portfolio: one with the "
    "`lotId` of one of them keeps its id (one of no lot of the portfolio is 404), and the "
    "lots `GET` answers can be sent back (fees and currencies included; without "
    "`sourceTransactionId`, which only the sync sets). The ledger's other transactions "
    "stay, and so do the lots mirrored from a followed account (only the sync changes those: "
    "one sent back with its `lotId` is left as it is); a "
    "replacement that would leave a sale without the units it sold, a dividend without its "
    "position or a withdrawal without the cash it takes is refused (422 at `body.assets`), "
    "and so is turning `allowNegativeCash` off while the cash is below zero.",
    responses=problem_responses(400, 401, 404, 422),
)
async def replace(
    portfolio: OwnedPortfolio,
    body: PortfolioReplace,
    session: SessionDep,
    market: MarketDep,
) -> Response:
    return await _answer(session, await replacement.replace(session, market, portfolio, body))


FOLLOWING = (
    "The account (one of your linked brokerage accounts) is mirrored into the ledger now and "
    "after every sync of it: trades as buys and sells; dividends, interest, fees, taxes, deposits "
    "and withdrawals as such; anything else is skipped and counted in `syncReport`. Opening buys "
    "and closing sales (`#opening:` / `#closing:` sources) make the positions equal the "
    "broker's where its history does not explain them. Mirrored rows carry "
    "`sourceTransactionId` and change only through the sync; rows you enter by hand stay. "
    "Following another account keeps the first one's rows. Another user's or an unknown "
    "account is 404; a non-brokerage or unlinked one 422."
)


@router.put(
    "/{portfolioId}/follow",
    summary="Follow a linked brokerage account: mirror its activities and holdings",
    description=FOLLOWING,
    responses=problem_responses(400, 401, 404, 422),
)
async def follow(
    portfolio: OwnedPortfolio,
    body: FollowIn,
    session: SessionDep,
    market: MarketDep,
) -> PortfolioOut:
    followed = await following.follow(session, market, portfolio, body.account_id)
    return await portfolio_out(session, followed)


@router.delete(
    "/{portfolioId}/follow",
    summary="Stop following the account; the ledger stays as it is",
    description="A portfolio that follows nothing is left as it is.",
    responses=problem_responses(401, 404, 422),
)
async def unfollow(portfolio: OwnedPortfolio, session: SessionDep) -> PortfolioOut:
    return await portfolio_out(session, await following.unfollow(session, portfolio))


@router.delete(
    "/{portfolioId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a portfolio and its ledger",
    responses=problem_responses(401, 404, 422),
)
async def delete(portfolio: OwnedPortfolio, session: SessionDep) -> None:
    await service.remove(session, portfolio)


LEDGER_RULES = (
    "Refused with 422, naming the field: a date before 1900-01-01 or after today; an unknown "
    "symbol; a `currency` the market cannot convert to the base currency (amounts are "
    "converted at their day's rate); a sale beyond the position; a dividend on a symbol not "
    "bought on or before its day; and, unless the portfolio has `allowNegativeCash`, a "
    "withdrawal the cash cannot pay (the detail says how short), or a transaction that would "
    "leave a later withdrawal short (at `body`)."
)


BUDGET_NOTE = (
    "\n\n`start` and `end` must lie between 1900-01-01 and today (else 422). A computation "
    "that runs past its time budget (`FLINT_PERFORMANCE_BUDGET_SECONDS`) is stopped and "
    "answers 503 `/problems/performance-budget`: ask for a shorter window."
)
Start = Annotated[
    IsoDate | None,
    Query(description="First day (default: the first trade); from 1900-01-01 to today, else 422"),
]
End = Annotated[
    IsoDate | None,
    Query(description="Last day (default: today); from 1900-01-01 to today, else 422"),
]
Benchmark = Annotated[Symbol, Query(description="The benchmark's symbol")]
GroupByQuery = Annotated[
    GroupBy, Query(alias="groupBy", description="How `allocationGroups` groups the positions")
]


@router.get(
    "/{portfolioId}/performance",
    summary="Performance against a benchmark: value, P&L, TWR, MWR, risk, allocation, series",
    description=(Performance.__doc__ or "") + BUDGET_NOTE,
    response_model=Performance,
    responses=problem_responses(401, 404, 422, 503),
)
async def performance_of(
    portfolio: ReadablePortfolio,
    performance: PerformanceDep,
    start: Start = None,
    end: End = None,
    benchmark: Benchmark = "SPY",
    group_by: GroupByQuery = "symbol",
) -> Response:
    # Serialized once where it was computed (and cached as such): sent as it is.
    window = performance.window(start, end, benchmark, group_by)
    raw = await performance.json(portfolio, window)
    return Response(raw, media_type="application/json")


@router.get(
    "/{portfolioId}/performance/chart",
    summary="A chart of the performance: value, drawdown, allocation or against the benchmark",
    description=charts.DESCRIPTION,
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {}, "image/svg+xml": {}},
            "description": "The chart",
        },
        **problem_responses(401, 404, 422, 503),
    },
)
async def performance_chart(
    portfolio: ReadablePortfolio,
    performance: PerformanceDep,
    session: ReadSessionDep,
    kind: Annotated[charts.Kind, Query()] = "value",
    format: Annotated[charts.Format, Query()] = "png",
    start: Start = None,
    end: End = None,
    benchmark: Benchmark = "SPY",
    contributions: Annotated[
        bool,
        Query(
            description="Value chart: also draw the net contributions (the external flows "
            "of the window, and what was held before it) as a step line"
        ),
    ] = False,
) -> Response:
    raw = await performance.json(portfolio, performance.window(start, end, benchmark))
    marks = (
        charts.marks_of(await pages.days_and_types(session, portfolio.id))
        if kind == "value"
        else []
    )

    def draw() -> bytes:
        perf = Performance.model_validate_json(raw).model_dump(by_alias=True)
        return charts.draw(
            perf, kind, format, portfolio.name, marks=marks, contributions=contributions
        )

    image = await anyio.to_thread.run_sync(draw)
    return Response(image, media_type=charts.MEDIA_TYPES[format])

"""A portfolio's ledger over HTTP: record, list (a page at a time), read, correct and delete
a transaction, and export the whole ledger as one file (CSV, JSON or Ghostfolio's), streamed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.errors import ValidationFailed, problem_responses
from flint.kit.symbols import AnySymbol
from flint.kit.time import IsoDate
from flint.market.api import MarketDep
from flint.portfolio import editing, ghostfolio_export, pages, service
from flint.portfolio.deps import OwnedPortfolio, ReadablePortfolio
from flint.portfolio.ghostfolio_document import FILE_SCHEMA
from flint.portfolio.imports import flint_csv
from flint.portfolio.router import LEDGER_RULES, transaction_out
from flint.portfolio.schemas import (
    TransactionIn,
    TransactionOut,
    TransactionsPage,
    TransactionType,
)
from flint.portfolio.symbols import book
from flint.web import ReadSessionDep, ReadSessionsDep, SessionDep, SessionsDep

router = APIRouter(prefix="/portfolio", tags=["portfolio"])

Sessions = async_sessionmaker[AsyncSession]


@router.post(
    "/{portfolioId}/transactions",
    status_code=status.HTTP_201_CREATED,
    summary="Record a transaction (buy, sell, dividend, interest, fee, tax, deposit, withdrawal, "
    "split)",
    description=LEDGER_RULES,
    responses=problem_responses(400, 401, 404, 422),
)
async def add_transaction(
    portfolio: OwnedPortfolio,
    body: Annotated[TransactionIn, Body()],
    session: SessionDep,
    market: MarketDep,
) -> TransactionOut:
    (created,) = await service.add_transactions(session, market, portfolio, [body])
    return transaction_out(created)


@router.get(
    "/{portfolioId}/transactions",
    summary="The portfolio's ledger, oldest first, a page at a time",
    description=f"At most `limit` rows (up to {pages.PAGE}), in the order the ledger replays "
    "them, of a `type`, a `symbol`, or days from `start` to `end` when asked; `nextCursor` asks "
    "for the next page (null on the last; send the same filters with it). "
    "`GET /portfolio/{portfolioId}/export` gives the whole ledger as one file.",
    responses=problem_responses(401, 404, 422),
)
async def list_transactions(
    portfolio: ReadablePortfolio,
    session: ReadSessionDep,
    market: MarketDep,
    limit: Annotated[int, Query(ge=1, le=pages.PAGE)] = pages.PAGE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[TransactionType | None, Query(description="Only rows of this type")] = None,
    symbol: Annotated[
        AnySymbol | None, Query(description="Only rows of this symbol (`BRK.B` is `BRK-B`)")
    ] = None,
    start: Annotated[IsoDate | None, Query(description="Only rows from this day")] = None,
    end: Annotated[IsoDate | None, Query(description="Only rows up to this day")] = None,
) -> TransactionsPage:
    if start is not None and end is not None and start > end:
        raise ValidationFailed.at("query.start", f"start {start} is after end {end}")
    if symbol is not None:  # as the ledger names it; one nobody's ledger could hold is 422
        symbols = await book(session, market, portfolio.user_id, [symbol])
        if not symbols.known(symbol):
            raise ValidationFailed.at("query.symbol", f"unknown symbol {symbol}")
        symbol = symbols.canonical(symbol)
    only = pages.Only(type, symbol, start, end)
    rows, next_cursor = await pages.page(session, portfolio.id, limit, cursor, only)
    return TransactionsPage(
        transactions=[transaction_out(row) for row in rows], next_cursor=next_cursor
    )


TransactionPath = Annotated[uuid.UUID, Path(alias="transactionId")]
BY_HAND = (
    " Rows mirrored from the account the portfolio follows (`sourceTransactionId`) change only "
    "with its sync: 409."
)


@router.get(
    "/{portfolioId}/transactions/{transactionId}",
    summary="One transaction of the portfolio's ledger",
    responses=problem_responses(401, 404, 422),
)
async def read_transaction(
    portfolio: ReadablePortfolio, transaction_id: TransactionPath, session: ReadSessionDep
) -> TransactionOut:
    return transaction_out(await editing.entry(session, portfolio, transaction_id))


@router.put(
    "/{portfolioId}/transactions/{transactionId}",
    summary="Correct a transaction: it is replaced by the body, under its id",
    description="The body is what `POST /portfolio/{portfolioId}/transactions` takes, held to "
    "the same rules, and the ledger as it would be afterwards must still add up: "
    + LEDGER_RULES
    + BY_HAND,
    responses=problem_responses(400, 401, 404, 409, 422),
)
async def replace_transaction(
    portfolio: OwnedPortfolio,
    transaction_id: TransactionPath,
    body: Annotated[TransactionIn, Body()],
    session: SessionDep,
    market: MarketDep,
) -> TransactionOut:
    replaced = await editing.replace(session, market, portfolio, transaction_id, body)
    return transaction_out(replaced)


@router.delete(
    "/{portfolioId}/transactions/{transactionId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a transaction",
    description="Refused (422, naming the row that would break) when the ledger without it "
    "no longer adds up: a later sale of more than would be held, a dividend on a position no "
    "longer bought by its day, or (unless the portfolio has `allowNegativeCash`) a withdrawal "
    "the cash could no longer pay. An imported row stays known to its file: importing the file "
    "again does not bring it back." + BY_HAND,
    responses=problem_responses(401, 404, 409, 422),
)
async def delete_transaction(
    portfolio: OwnedPortfolio,
    transaction_id: TransactionPath,
    session: SessionDep,
    market: MarketDep,
) -> None:
    await editing.remove(session, market, portfolio, transaction_id)


@router.get(
    "/{portfolioId}/export",
    summary="The ledger as CSV (the import's columns), JSON, or Ghostfolio's export file",
    description="`format=ghostfolio` writes Ghostfolio's export file (what its Export button "
    "writes and its import reads; `POST /portfolio/import/ghostfolio` reads it back): "
    + (ghostfolio_export.__doc__ or "").split("\n\n", 1)[-1],
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/json": {
                    "schema": {
                        "anyOf": [{"$ref": "#/components/schemas/TransactionsPage"}, FILE_SCHEMA]
                    }
                },
            },
            "description": "The ledger",
        },
        **problem_responses(401, 404, 422),
    },
)
async def export(
    portfolio: OwnedPortfolio,
    session: SessionDep,
    sessions: SessionsDep,
    readers: ReadSessionsDep,
    market: MarketDep,
    format: Annotated[Literal["csv", "json", "ghostfolio"], Query()] = "csv",
) -> Response:
    stem = f"portfolio-{portfolio.id}"
    if format == "ghostfolio":
        return Response(
            await ghostfolio_export.export(session, sessions, readers, market, portfolio),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{stem}-ghostfolio.json"'},
        )
    # Streamed a chunk at a time from read-only sessions of its own (the request's has ended
    # by then; on SQLite they take no write lock).
    if format == "csv":
        return StreamingResponse(
            _csv(readers, portfolio.id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    return StreamingResponse(
        _json(readers, portfolio.id),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{stem}.json"'},
    )


async def _csv(sessions: Sessions, portfolio_id: uuid.UUID) -> AsyncIterator[str]:
    header = True
    async for chunk in pages.chunks(sessions, portfolio_id):
        yield flint_csv.render(chunk, header=header)
        header = False
    if header:  # an empty ledger: the header alone
        yield flint_csv.render([])


async def _json(sessions: Sessions, portfolio_id: uuid.UUID) -> AsyncIterator[str]:
    """The whole ledger as one page (`nextCursor` null), as `TransactionsPage` writes it, a
    chunk at a time."""
    yield '{"transactions":['
    first = True
    async for chunk in pages.chunks(sessions, portfolio_id):
        items = ",".join(transaction_out(row).model_dump_json(by_alias=True) for row in chunk)
        yield items if first else "," + items
        first = False
    yield '],"nextCursor":null}'

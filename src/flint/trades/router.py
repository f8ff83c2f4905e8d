from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from flint.brokerage.types import OrderStatus
from flint.db import READ_ONLY, SessionDep, after_commit, commit
from flint.deps import CurrentUser, RuntimeDep
from flint.errors import problem_responses
from flint.trades import idempotency, service
from flint.trades.models import Trade
from flint.trades.schemas import ExecuteTrade, TradeEventOut, TradeEvents, TradeOut, Trades

router = APIRouter(prefix="/trades", tags=["trades"])

SCOPE = "trades.execute"
POLL_SECONDS = 0.1


def trade_out(trade: Trade) -> TradeOut:
    return TradeOut(
        trade_id=trade.id,
        account_id=trade.account_id,
        asset=trade.symbol,
        action=trade.action,
        quantity=trade.quantity,
        order_type=trade.order_type,
        time_in_force=trade.time_in_force,
        limit_price=trade.limit_price,
        stop_price=trade.stop_price,
        status=trade.status,
        filled_quantity=trade.filled_quantity,
        average_price=trade.average_price,
        fees=trade.fees,
        reason=trade.reason,
        provider_order_id=trade.provider_order_id,
        created_at=trade.created_at,
        submitted_at=trade.submitted_at,
        executed_at=trade.executed_at,
    )


def _context(runtime: RuntimeDep) -> service.TradingContext:
    return service.TradingContext(runtime.accounts, runtime.market)


async def _wait_for_provider(runtime: RuntimeDep, trade_id: uuid.UUID, seconds: float) -> None:
    """Wait (reading without locks) until the worker has sent the trade, or time runs out."""
    reader = runtime.engine.execution_options(**READ_ONLY)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        async with reader.connect() as conn:
            current = await conn.scalar(select(Trade.status).where(Trade.id == trade_id))
        if current != OrderStatus.PENDING.value:
            return
        await asyncio.sleep(POLL_SECONDS)


@router.post(
    "/execute",
    status_code=status.HTTP_201_CREATED,
    response_model=TradeOut,
    summary="Place a trade through a linked brokerage account",
    description="Checked first (account, symbol, buying power, position): a trade that cannot "
    "work is a 422 and nothing is sent. Accepted trades are sent by a worker exactly once. "
    "201 when the trade has reached a final state within a few seconds (a market order the "
    "broker fills at once), else 202 with its current state: follow it with "
    "`GET /trades/{tradeId}`. Send an `Idempotency-Key` header to make retries safe: the first "
    "answer is replayed for 24 hours.",
    responses={
        202: {"model": TradeOut, "description": "Accepted, not final yet"},
        **problem_responses(400, 401, 404, 409, 422, 503),
    },
)
async def execute(
    body: ExecuteTrade,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="Up to 255 characters")
    ] = None,
) -> Any:
    key = idempotency.check_key(idempotency_key) if idempotency_key is not None else None
    digest = idempotency.request_hash(body.fingerprint())
    if key is not None:
        replay = await idempotency.lookup(session, user.id, SCOPE, key, digest)
        if replay is not None:
            headers = {"Idempotent-Replayed": "true"}
            return JSONResponse(replay.body, status_code=replay.status_code, headers=headers)
    ctx = _context(runtime)
    account = await service.check(session, ctx, user.id, body)
    trade = await service.create(session, user.id, account, body)
    claimed = None
    if key is not None:
        claimed = await idempotency.claim(session, user.id, SCOPE, key, digest, trade.id)
    trade_id = trade.id

    async def _dispatch() -> None:
        from flint.trades.tasks import enqueue_submit

        await enqueue_submit(trade_id)

    after_commit(session, _dispatch)
    await commit(session)  # durable before anything is sent; the worker may start now

    await _wait_for_provider(runtime, trade_id, runtime.settings.trade_wait_seconds)
    await session.refresh(trade)
    code = 201 if OrderStatus(trade.status).final else 202
    payload = trade_out(trade).model_dump(mode="json", by_alias=True)
    if claimed is not None:
        idempotency.remember(claimed, code, payload)
    return JSONResponse(payload, status_code=code)


@router.get("", summary="Your trades, newest first", responses=problem_responses(401, 422))
async def list_trades(
    user: CurrentUser,
    session: SessionDep,
    account_id: Annotated[uuid.UUID | None, Query(alias="accountId")] = None,
    status_filter: Annotated[OrderStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Trades:
    status_value = status_filter.value if status_filter else None
    rows = await service.list_trades(session, user.id, account_id, status_value, limit)
    return Trades(trades=[trade_out(row) for row in rows])


@router.get("/{tradeId}", summary="One trade", responses=problem_responses(401, 404, 422))
async def read_trade(tradeId: uuid.UUID, user: CurrentUser, session: SessionDep) -> TradeOut:
    return trade_out(await service.get(session, user.id, tradeId))


@router.get(
    "/{tradeId}/events",
    summary="A trade's audit trail, oldest first",
    responses=problem_responses(401, 404, 422),
)
async def trade_events(tradeId: uuid.UUID, user: CurrentUser, session: SessionDep) -> TradeEvents:
    trade = await service.get(session, user.id, tradeId)
    rows = await service.events(session, trade)
    return TradeEvents(events=[TradeEventOut.model_validate(event) for event in rows])


@router.delete(
    "/{tradeId}",
    summary="Cancel an open trade",
    description="Returns the trade as it stands after: canceled, or filled if it filled first.",
    responses=problem_responses(401, 404, 422, 503),
)
async def cancel_trade(
    tradeId: uuid.UUID, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> TradeOut:
    return trade_out(await service.cancel(session, _context(runtime), user.id, tradeId))

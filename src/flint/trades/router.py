from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse
from pydantic import Discriminator, Tag

from flint.brokerage.api import OrderStatus
from flint.errors import problem_responses
from flint.idempotency import MAX_KEY_LENGTH
from flint.trades import preview, service
from flint.trades.deps import OwnedTrade, TradingDep, UntaggedErrors
from flint.trades.preview_schemas import ExecutePreview, PreviewOut
from flint.trades.schemas import (
    ExecuteTrade,
    SettleTrade,
    TradeEvents,
    TradeOut,
    Trades,
)
from flint.users.api import TRADING, CurrentUserId
from flint.web import ReadsDep, SessionDep

router = APIRouter(prefix="/trades", tags=["trades"])

PREVIEW_KEYS = frozenset({"previewId", "preview_id"})
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Up to 255 characters",
        json_schema_extra={"minLength": 1, "maxLength": MAX_KEY_LENGTH},
    ),
]


def _order_or_preview(value: Any) -> str:
    if isinstance(value, ExecutePreview):
        return "preview"
    return "preview" if isinstance(value, dict) and PREVIEW_KEYS & value.keys() else "order"


ExecuteBody = Annotated[
    Annotated[ExecuteTrade, Tag("order")] | Annotated[ExecutePreview, Tag("preview")],
    Discriminator(_order_or_preview),
]
"""An order, or ``{previewId}`` alone to place a previewed one (errors name the fields as
ever: `UntaggedErrors` drops the union's tag from their locations)."""


@router.post(
    "/preview",
    status_code=status.HTTP_201_CREATED,
    response_model=PreviewOut,
    summary="Preview a trade: the broker's estimate, nothing placed",
    description="The same body and checks as `POST /trades/execute` (a trade that cannot work "
    "is a 422). Answers the broker's estimate (price, value, commission, buying power after, "
    "warnings; money as decimal strings) and a `previewId`: `POST /trades/execute` with "
    '`{"previewId": ...}` places exactly this trade, once, until `expiresAt`. Bank '
    "accounts (Teller) do not trade: 422. Send an `Idempotency-Key` header to make retries "
    "safe: the first answer is replayed for 24 hours.",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
    openapi_extra=TRADING,
)
async def preview_trade(
    body: ExecuteTrade,
    user_id: CurrentUserId,
    session: SessionDep,
    trading: TradingDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    answer = await preview.preview(session, trading, user_id, body, idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


async def execute(
    body: ExecuteBody,
    user_id: CurrentUserId,
    trading: TradingDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    answer = await service.execute(trading, user_id, body, idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


router.add_api_route(
    endpoint=execute,
    methods=["POST"],
    path="/execute",
    status_code=status.HTTP_201_CREATED,
    response_model=TradeOut,
    summary="Place a trade through a linked brokerage account",
    description="Checked first (account, symbol, buying power, position): a trade that cannot "
    "work is a 422 and nothing is sent. Accepted trades are sent by a worker exactly once. "
    "201 when the trade has reached a final state within a few seconds (a market order the "
    "broker fills at once), else 202 with its current state: follow it with "
    '`GET /trades/{tradeId}`. Send `{"previewId": ...}` alone to place exactly a trade '
    "previewed with `POST /trades/preview`: once (a used preview is a 409), before it expires "
    "(after, a 422), and only your own (another's is a 404). Send an `Idempotency-Key` header "
    "to make retries safe: the first answer is replayed for 24 hours.",
    responses={
        202: {"model": TradeOut, "description": "Accepted, not final yet"},
        **problem_responses(400, 401, 403, 404, 409, 422, 503),
    },
    openapi_extra=TRADING,
    route_class_override=UntaggedErrors,
)


@router.get(
    "",
    summary="Your trades, newest first, a page at a time",
    description="At most `limit` trades (up to 500); `nextCursor` asks for the older ones "
    "(null on the last page). Send the same `accountId` and `status` with it.",
    responses=problem_responses(401, 404, 422),
)
async def list_trades(
    user_id: CurrentUserId,
    reads: ReadsDep,
    account_id: Annotated[uuid.UUID | None, Query(alias="accountId")] = None,
    status_filter: Annotated[OrderStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Trades:
    status_value = status_filter.value if status_filter else None
    rows, next_cursor = await service.list_trades(
        reads, user_id, account_id, status_value, limit, cursor
    )
    return Trades(trades=[TradeOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get("/{tradeId}", summary="One trade", responses=problem_responses(401, 404, 422))
async def read_trade(trade: OwnedTrade) -> TradeOut:
    return TradeOut.of(trade)


@router.get(
    "/{tradeId}/events",
    summary="A trade's audit trail, oldest first",
    responses=problem_responses(401, 404, 422),
)
async def trade_events(trade: OwnedTrade, session: SessionDep) -> TradeEvents:
    rows = await service.events(session, trade)
    return TradeEvents.from_fields({"events": rows})


@router.post(
    "/{tradeId}/resolve",
    summary="Settle a trade the broker could not confirm",
    description="For a trade left `unknown` (sent, but the broker could not say whether it "
    "placed it): `{placed: true, providerOrderId}` records the broker's order (it must be this "
    "trade's symbol, side and quantity), `{placed: false}` ends the trade `failed`. Nothing is "
    "sent to the broker. A trade that is not `unknown` (settled already, or never in doubt) is "
    "a 409.",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
    openapi_extra=TRADING,
)
async def resolve_trade(
    body: SettleTrade, trade: OwnedTrade, session: SessionDep, trading: TradingDep
) -> TradeOut:
    return TradeOut.of(await service.settle(session, trading, trade, body))


@router.delete(
    "/{tradeId}",
    summary="Cancel an open trade",
    description="Returns the trade as it stands after: canceled, or filled if it filled first. "
    "A trade already final (filled, canceled, rejected, expired), or sent and not yet confirmed "
    "by the broker, is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
    openapi_extra=TRADING,
)
async def cancel_trade(trade: OwnedTrade, session: SessionDep, trading: TradingDep) -> TradeOut:
    return TradeOut.of(await service.cancel(session, trading, trade))

"""What the trade routes take from the runtime, and the caller's trade or 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from flint.trades import service
from flint.trades.context import TradingContext
from flint.trades.models import Trade
from flint.users.api import CurrentUserId
from flint.web import SessionDep, part

TradingDep = Annotated[TradingContext, Depends(part(TradingContext))]


async def owned_trade(
    session: SessionDep,
    user_id: CurrentUserId,
    trade_id: Annotated[uuid.UUID, Path(alias="tradeId")],
) -> Trade:
    """The caller's trade; anyone else's is 404."""
    return await service.get(session, user_id, trade_id)


OwnedTrade = Annotated[Trade, Depends(owned_trade)]


BODY_TAGS = frozenset({"order", "preview"})


class UntaggedErrors(APIRoute):
    """A route whose body is a tagged union (an order, or a preview's id): its validation
    errors name fields as a plain body would (``body.quantity``, not ``body.order.quantity``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = [_untagged(error) for error in exc.errors()]
                raise RequestValidationError(errors, body=exc.body) from None

        return route


def _untagged(error: Any) -> Any:
    loc = tuple(error.get("loc", ()))
    if len(loc) > 1 and loc[0] == "body" and loc[1] in BODY_TAGS:
        return {**error, "loc": (loc[0], *loc[2:])}
    return error

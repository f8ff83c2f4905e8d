"""Trades: refused before anything is sent when they cannot work, then submitted by a worker
exactly once, and followed to a final state.

Guarantees, and what makes them hold:

* Never lost: the trade row (``pending``) is committed before its job is published (after the
  commit); the job is acked late and re-queued when its worker dies, and a periodic sweep
  re-publishes trades left ``pending`` (a publish that failed, a broker that lost it).
* Never doubled: the worker commits ``submitted_at`` before it sends the order, and a trade
  that has it is never sent again: a later attempt (a lost answer, a worker that died) asks the
  provider for the order instead (`find_order`) and records it; when the provider cannot tell
  whether it was placed, the trade stops ``unknown`` (the sweep asks again, a person settles
  it), and a provider that says it has no such order fails it. Another delivery of the job
  within the send window (`FLINT_TRADE_SEND_WINDOW_SECONDS`, 30) of the send waits for its end
  (an earlier worker may still be sending). The worker holds the trade row's lock (``FOR
  UPDATE``) while it decides.
* Audited: every change appends a `TradeEvent`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Uuid, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from flint import idempotency, jobs
from flint.accounts import api as accounts
from flint.accounts.api import LinkedAccount
from flint.brokerage.api import (
    AccountGone,
    AccountProviderError,
    Capability,
    OrderAction,
    OrderStatus,
)
from flint.db import UTCDateTime, commit
from flint.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from flint.kit.paging import decode_cursor, page_of
from flint.kit.vendor_errors import ProviderError
from flint.market.api import Instrument
from flint.reads import Query, Reads
from flint.trades import preview_store
from flint.trades.context import TradingContext
from flint.trades.models import Trade, TradeEvent
from flint.trades.orders import (
    account_of,
    apply,
    claimed,
    end,
    event,
    locked,
    notify_change,
    provider_for,
)
from flint.trades.preview_schemas import ExecutePreview
from flint.trades.schemas import ExecuteTrade, SettleTrade, TradeOut

log = structlog.get_logger(__name__)

SCOPE = "trades.execute"
SUBMIT = "flint.trades.submit"
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Answer:
    """What `POST /trades/execute` answers: 201 once the trade is final, else 202."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False

    @classmethod
    def of(cls, trade: Trade) -> Answer:
        code = 201 if OrderStatus(trade.status).final else 202
        return cls(code, TradeOut.of(trade).model_dump(mode="json", by_alias=True))


async def execute(
    ctx: TradingContext, user_id: uuid.UUID, body: ExecuteTrade | ExecutePreview, key: str | None
) -> Answer:
    """Check, create and commit the trade (with its Idempotency-Key, and its job sent after the
    commit), then wait a few seconds for the broker; a retried key replays the first answer."""
    key = idempotency.check_key(key) if key is not None else None
    digest = idempotency.request_hash(body.fingerprint())
    async with ctx.sessions() as session:
        if key is not None:
            found = await idempotency.lookup(
                session, user_id, SCOPE, key, digest, abandoned_after=ctx.abandoned_after
            )
            if isinstance(found, idempotency.Replay):
                return Answer(found.status_code, found.body, replayed=True)
            if isinstance(found, idempotency.Abandoned):
                return await _rebuild(session, found)
        if isinstance(body, ExecutePreview):  # exactly the previewed order, once
            previewed = await preview_store.take(session, user_id, body.preview_id)
            account = await check(session, ctx, user_id, previewed.order())
            trade = await create(session, user_id, account, previewed.order())
            await preview_store.use(session, previewed, trade)
        else:
            account = await check(session, ctx, user_id, body)
            trade = await create(session, user_id, account, body)
        if key is not None:
            await idempotency.claim(session, user_id, SCOPE, key, digest, trade.id)
        jobs.enqueue(session, SUBMIT, str(trade.id))
        await commit(session)  # durable before anything is sent; the worker may start now
    await wait_until_sent(ctx, trade.id)
    async with ctx.sessions() as session:
        answer = Answer.of(await _fresh(session, trade.id))
        if key is not None:
            await idempotency.answer(session, user_id, SCOPE, key, answer.status_code, answer.body)
        await commit(session)
    return answer


async def _fresh(session: AsyncSession, trade_id: uuid.UUID) -> Trade:
    trade = await session.get(Trade, trade_id)
    assert trade is not None  # committed by this request; trades are never deleted
    return trade


async def _rebuild(session: AsyncSession, found: idempotency.Abandoned) -> Answer:
    """The key's first request committed its trade and died before answering: the answer is
    the trade as it stands, kept for later replays."""
    answer = Answer.of(await _fresh(session, found.resource_id))
    idempotency.remember(found.record, answer.status_code, answer.body)
    await commit(session)
    return Answer(answer.status_code, answer.body, replayed=True)


async def wait_until_sent(ctx: TradingContext, trade_id: uuid.UUID) -> None:
    """Wait (reading without locks) until the worker has sent the trade, or time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.wait_seconds
    while loop.time() < deadline:
        async with ctx.readers.connect() as conn:
            current = await conn.scalar(select(Trade.status).where(Trade.id == trade_id))
        if current != OrderStatus.PENDING.value:
            return
        await asyncio.sleep(POLL_SECONDS)


async def check(
    session: AsyncSession, ctx: TradingContext, user_id: uuid.UUID, body: ExecuteTrade
) -> LinkedAccount:
    """Everything that can be known before sending: the account can trade, the symbol exists,
    buying power covers a buy, the position covers a sale. 404 for another user's account."""
    account = await accounts.get_account(session, user_id, body.account_id)
    if not account.can_trade:
        raise ValidationFailed.at(
            "body.accountId", f"The {account.type} account {account.name!r} cannot trade."
        )
    try:
        provider, identity, credentials = await provider_for(session, ctx, account)
    except AccountGone as exc:
        raise ValidationFailed.at(
            "body.accountId", f"The account cannot trade: {exc.reason}."
        ) from exc
    if Capability.TRADING not in provider.capabilities:
        raise ValidationFailed.at("body.accountId", f"{account.provider} accounts cannot trade.")
    instrument = ctx.market.instrument(body.asset)
    if instrument is None:
        raise ValidationFailed.at("body.asset", f"Unknown symbol {body.asset}.")
    with broker_answers(account):
        try:
            price = (await ctx.market.latest(body.asset)).quote.price
            remote = account.provider_account_id
            if body.action is OrderAction.BUY:
                balances = await provider.balances(identity, credentials, remote)
                power = (
                    balances.buying_power if balances.buying_power is not None else balances.cash
                )
                at = body.limit_price if body.limit_price is not None else price
                cost = body.quantity * at
                if power is not None and cost > power:
                    raise ValidationFailed.at(
                        "body.quantity",
                        f"Buying {body.quantity} {body.asset} needs about {cost:.2f} "
                        f"{account.currency}; buying power is {power:.2f}.",
                    )
            else:
                held = sum(
                    (
                        h.quantity
                        for h in await provider.holdings(identity, credentials, remote)
                        if _names(ctx, h.symbol, instrument)
                    ),
                    Decimal(0),
                )
                if body.quantity > held:
                    raise ValidationFailed.at(
                        "body.quantity",
                        f"Cannot sell {body.quantity} {body.asset}: the account holds {held}.",
                    )
        except NotFound as exc:
            raise ValidationFailed.at("body.asset", f"Unknown symbol {body.asset}.") from exc
    return account


def _names(ctx: TradingContext, symbol: str, instrument: Instrument) -> bool:
    """Whether a broker's ``symbol`` is ``instrument`` (``BRK.B`` and the market's ``BRK-B``
    are one: a position is sold under either spelling)."""
    known = ctx.market.instrument(symbol)
    return known is not None and known.symbol == instrument.symbol


@contextmanager
def broker_answers(account: LinkedAccount) -> Iterator[None]:
    """What a broker says while an order is checked or previewed, before anything is stored:
    an account it no longer honours is a 422 at ``body.accountId``, a broker that cannot be
    reached a 503."""
    try:
        yield
    except AccountGone as exc:
        raise ValidationFailed.at(
            "body.accountId", f"The account cannot trade: {exc.reason}."
        ) from exc
    except ProviderError as exc:
        raise ServiceUnavailable(
            f"{account.provider} is unavailable right now ({exc.reason}); try again."
        ) from exc


async def create(
    session: AsyncSession, user_id: uuid.UUID, account: LinkedAccount, body: ExecuteTrade
) -> Trade:
    trade_id = uuid.uuid4()
    trade = Trade(
        id=trade_id,
        user_id=user_id,
        account_id=account.id,
        symbol=body.asset,
        action=body.action.value,
        quantity=body.quantity,
        order_type=body.order_type.value,
        time_in_force=body.time_in_force.value,
        limit_price=body.limit_price,
        stop_price=body.stop_price,
        status=OrderStatus.PENDING.value,
        client_order_id=str(trade_id),
        filled_quantity=Decimal(0),
        fees=Decimal(0),
    )
    session.add(trade)
    await session.flush()
    event(session, trade, "pending", source="api")
    await session.flush()
    return trade


async def cancel(session: AsyncSession, ctx: TradingContext, trade: Trade) -> Trade:
    if OrderStatus(trade.status).final:
        raise Conflict(f"The trade is already {trade.status}: there is nothing to cancel.")
    if trade.provider_order_id is None:
        # Not at the provider yet: holding the row lock keeps the worker from placing it.
        held = await locked(session, trade.id)
        assert held is not None
        unsent = held.provider_order_id is None and held.submitted_at is None
        if unsent and held.status == OrderStatus.PENDING.value:
            end(session, held, OrderStatus.CANCELED, "canceled before it was sent")
            await session.flush()
            return held
        if held.provider_order_id is None:
            raise Conflict(
                "The order was sent and the broker has not confirmed it yet; it cannot be "
                "canceled until it is known."
            )
    account = await account_of(session, trade)
    assert trade.provider_order_id is not None
    try:
        provider, identity, credentials = await provider_for(session, ctx, account)
        order = await provider.cancel_order(
            identity, credentials, account.provider_account_id, trade.provider_order_id
        )
    except AccountProviderError as exc:
        raise ValidationFailed.at(
            "path.tradeId", f"The order could not be canceled: {exc.reason}."
        ) from exc
    except ProviderError as exc:
        raise ServiceUnavailable(f"The provider is unavailable ({exc.reason}); try again.") from exc
    apply(session, trade, order, "cancel")
    await session.flush()
    return trade


async def settle(
    session: AsyncSession, ctx: TradingContext, trade: Trade, body: SettleTrade
) -> Trade:
    """A person settles an ``unknown`` trade: the broker's order it became (read from the
    broker, and it must be this trade's symbol, side and quantity and no other trade's), or
    ``failed`` when the broker has none. Nothing is ever sent."""
    held = await locked(session, trade.id)
    assert held is not None
    if held.status != OrderStatus.UNKNOWN.value:
        raise Conflict(f"The trade is {held.status}, not unknown: there is nothing to settle.")
    before = held.status
    if body.provider_order_id is None:
        end(session, held, OrderStatus.FAILED, "the user found no order at the broker")
        await session.flush()
        return held
    field = "body.providerOrderId"
    if await claimed(session, held, body.provider_order_id):
        raise ValidationFailed.at(field, "That order is another trade's.")
    account = await account_of(session, held)
    try:
        provider, identity, credentials = await provider_for(session, ctx, account)
        order = await provider.get_order(
            identity, credentials, account.provider_account_id, body.provider_order_id
        )
    except AccountProviderError as exc:
        raise ValidationFailed.at(field, f"The broker has no such order: {exc.reason}.") from exc
    except ProviderError as exc:
        raise ServiceUnavailable(f"The provider is unavailable ({exc.reason}); try again.") from exc
    if (order.symbol.upper(), order.action.value, order.quantity) != (
        held.symbol.upper(),
        held.action,
        held.quantity,
    ):
        raise ValidationFailed.at(
            field,
            f"That order is {order.action.value} {order.quantity} {order.symbol}, not this "
            f"trade's {held.action} {held.quantity} {held.symbol}.",
        )
    held.reason = None
    apply(session, held, order, "settled")
    await notify_change(session, held, before)
    await session.flush()
    return held


async def get(session: AsyncSession, user_id: uuid.UUID, trade_id: uuid.UUID) -> Trade:
    trade = await session.get(Trade, trade_id)
    if trade is None or trade.user_id != user_id:
        raise NotFound(f"No trade {trade_id}.")
    return trade


def _list_query(*, account: bool, status: bool, after: bool) -> Query:
    stmt = select(*TRADE_COLUMNS).where(Trade.user_id == bindparam("user_id"))
    if account:
        stmt = stmt.where(Trade.account_id == bindparam("account_id"))
    if status:
        stmt = stmt.where(Trade.status == bindparam("status"))
    if after:  # older than the last trade of the page before
        at = bindparam("after_at", type_=UTCDateTime())
        older = and_(Trade.created_at == at, Trade.id < bindparam("after_id", type_=Uuid()))
        stmt = stmt.where(or_(Trade.created_at < at, older))
    order = (Trade.created_at.desc(), Trade.id.desc())
    return Query(stmt.order_by(*order).limit(bindparam("limit")))


TRADE_COLUMNS = (
    Trade.id,
    Trade.account_id,
    Trade.symbol,
    Trade.action,
    Trade.quantity,
    Trade.order_type,
    Trade.time_in_force,
    Trade.limit_price,
    Trade.stop_price,
    Trade.status,
    Trade.filled_quantity,
    Trade.average_price,
    Trade.fees,
    Trade.reason,
    Trade.provider_order_id,
    Trade.created_at,
    Trade.submitted_at,
    Trade.executed_at,
)
"""What `TradeOut` shows."""
LISTS = {
    (account, status, after): _list_query(account=account, status=status, after=after)
    for account in (False, True)
    for status in (False, True)
    for after in (False, True)
}


OWN_ACCOUNT = Query(
    select(LinkedAccount.id).where(
        LinkedAccount.id == bindparam("account_id"), LinkedAccount.user_id == bindparam("user_id")
    )
)
"""The caller's account, linked or no longer (its trades stay listed after an unlink)."""


async def list_trades(
    reads: Reads,
    user_id: uuid.UUID,
    account_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Any], str | None]:
    """Newest first, ``limit`` at a time after ``cursor``; rows of `TRADE_COLUMNS`, and the
    next page's cursor (None on the last). Another user's account, or an unknown one, is 404
    like everywhere else."""
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    if cursor:
        params["after_at"], params["after_id"] = decode_cursor(cursor, datetime.fromisoformat)
    if account_id is not None:
        if await reads.first(OWN_ACCOUNT, account_id=account_id, user_id=user_id) is None:
            raise NotFound(f"No account {account_id}.")
        params["account_id"] = account_id
    if status is not None:
        params["status"] = status
    query = LISTS[account_id is not None, status is not None, bool(cursor)]
    return page_of(await reads.all(query, **params), limit, "created_at", "id")


async def events(session: AsyncSession, trade: Trade) -> list[TradeEvent]:
    stmt = (
        select(TradeEvent)
        .where(TradeEvent.trade_id == trade.id)
        .order_by(TradeEvent.created_at, TradeEvent.id)
    )
    return list((await session.execute(stmt)).scalars())

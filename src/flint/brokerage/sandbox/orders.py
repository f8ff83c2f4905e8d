"""The sandbox's order book: writing what `matching` decides. An order's row, and a fill's cash,
position and transaction, change together in one transaction that first locks the account."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import structlog
from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flint.brokerage.sandbox import store
from flint.brokerage.sandbox.accounts import owned
from flint.brokerage.sandbox.data import money
from flint.brokerage.sandbox.matching import (
    Decision,
    Request,
    cancellation,
    decide,
    expired,
    held,
    held_back,
    order_session,
    precheck,
)
from flint.brokerage.types import (
    Credentials,
    Order,
    OrderAction,
    OrderRejected,
    OrderStatus,
)
from flint.kit.calendar import local_date

log = structlog.get_logger(__name__)

AVERAGE_STEP = Decimal("0.000001")  # a partly filled order's average price


def to_order(row: Row[Any], commission: Decimal = Decimal(0)) -> Order:
    """The Protocol's view of an order row; ``commission`` is its link's, paid once filling
    began."""
    extra = {"order_type": row.order_type, "time_in_force": row.time_in_force}
    if row.limit_price is not None:
        extra["limit_price"] = str(row.limit_price)
    if row.stop_price is not None:
        extra["stop_price"] = str(row.stop_price)
        extra["triggered"] = "true" if row.triggered else "false"
    return Order(
        provider_order_id=row.id,
        client_order_id=row.client_order_id,
        status=OrderStatus(row.status),
        symbol=row.symbol,
        action=OrderAction(row.action),
        quantity=row.quantity,
        filled_quantity=row.filled_quantity,
        average_price=row.average_price,
        fees=commission if row.filled_quantity else Decimal(0),
        reason=row.reason,
        placed_at=row.placed_at,
        updated_at=row.updated_at,
        filled_at=row.filled_at,
        raw_status="held" if held(row) else row.status,
        extra=extra,
    )


async def place(
    db: store.Database,
    provider: str,
    credentials: Credentials,
    request: Request,
    order_id: str,
    price: Decimal,
    now: datetime,
    calendar: str,
    prices: Mapping[str, Decimal],
) -> Order:
    """Record ``request`` as ``order_id`` and decide it at once at ``price`` (the existing order
    if its ``client_order_id`` is already there). Placed outside its market's session, it is
    held for the next one (``calendar`` says when that is). The account's open orders hold
    back their cash and units first (``prices``: the price now of their market buys'
    symbols)."""
    async with db.write() as conn:
        account = await owned(conn, provider, credentials, request.account_id, lock=True)
        terms = await store.terms_of(conn, account.id)
        existing = await store.order_row(conn, account.id, client_order_id=request.client_order_id)
        if existing is not None:
            return to_order(existing, terms.commission)
        position = await store.position_row(conn, account.id, request.symbol)
        held: Decimal = position.quantity if position else Decimal(0)
        working = await store.open_orders(conn, account.id)
        back = held_back(working, {**prices, request.symbol: price}, terms)
        free = held - back.units.get(request.symbol, Decimal(0))
        precheck(provider, request, price, account.cash - back.cash, free, terms)
        await conn.execute(
            insert(store.orders).values(
                id=order_id,
                account_id=account.id,
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                action=request.action.value,
                quantity=request.quantity,
                order_type=request.order_type.value,
                time_in_force=request.time_in_force.value,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                status=OrderStatus.SUBMITTED.value,
                triggered=False,
                trading_day=order_session(now, calendar).day,
                filled_quantity=Decimal(0),
                placed_at=now,
                updated_at=now,
            )
        )
        row = await store.order_row(conn, account.id, id=order_id)
        assert row is not None
        decision = decide(
            row, price, now, account.cash, held, immediate=True, calendar=calendar, terms=terms
        )
        if decision.status is OrderStatus.REJECTED:
            raise OrderRejected(provider, decision.reason or "rejected")
        placed = await apply(conn, account, position, row, decision, now)
    log.info("sandbox_order", order_id=order_id, status=placed.status)
    return to_order(placed, terms.commission)


async def apply(
    conn: AsyncConnection,
    account: Row[Any],
    position: Row[Any] | None,
    order: Row[Any],
    decision: Decision,
    now: datetime,
) -> Row[Any]:
    """Write ``decision`` (and a fill's cash, position and transaction) in ``conn``."""
    if (
        decision.status.value == order.status
        and decision.quantity is None
        and decision.triggered == order.triggered
        and decision.reason == order.reason
    ):
        return order
    values: dict[str, Any] = {
        "status": decision.status.value,
        "triggered": decision.triggered,
        "reason": decision.reason,
        "updated_at": now,
    }
    if decision.quantity is not None:  # a fill: all that was left, or a part
        assert decision.price is not None
        at = decision.at or now
        await _fill(conn, account, position, order, decision, at)
        before: Decimal = order.filled_quantity
        filled = before + decision.quantity
        average = decision.price
        if before:
            spent = before * order.average_price + decision.quantity * decision.price
            average = (spent / filled).quantize(AVERAGE_STEP, rounding=ROUND_HALF_EVEN)
        values.update(filled_quantity=filled, average_price=average, filled_at=at)
    await conn.execute(update(store.orders).where(store.orders.c.id == order.id).values(values))
    row = await store.order_row(conn, account.id, id=order.id)
    assert row is not None
    return row


async def _fill(
    conn: AsyncConnection,
    account: Row[Any],
    position: Row[Any] | None,
    order: Row[Any],
    decision: Decision,
    now: datetime,
) -> None:
    """Move the cash (the commission with it) and the position, and record the transaction."""
    assert decision.quantity is not None
    assert decision.price is not None
    assert decision.value is not None
    quantity, price, value, fee = decision.quantity, decision.price, decision.value, decision.fee
    buy = order.action == OrderAction.BUY
    amount = -(value + fee) if buy else value - fee
    cash: Decimal = account.cash + amount
    if cash < 0:  # decide checked; never write a negative balance whatever happens
        raise RuntimeError("sandbox fill would overdraw the account")
    await conn.execute(
        update(store.accounts).where(store.accounts.c.id == account.id).values(cash=cash)
    )
    where = (store.positions.c.account_id == account.id) & (
        store.positions.c.symbol == order.symbol
    )
    if buy and position is None:
        await conn.execute(
            insert(store.positions).values(
                account_id=account.id,
                symbol=order.symbol,
                quantity=quantity,
                cost_basis=value + fee,
            )
        )
    elif buy:
        assert position is not None
        await conn.execute(
            update(store.positions)
            .where(where)
            .values(
                quantity=position.quantity + quantity, cost_basis=position.cost_basis + value + fee
            )
        )
    else:
        assert position is not None
        left: Decimal = position.quantity - quantity
        if left == 0:
            await conn.execute(delete(store.positions).where(where))
        else:
            basis = position.cost_basis - money(position.cost_basis * quantity / position.quantity)
            await conn.execute(
                update(store.positions).where(where).values(quantity=left, cost_basis=basis)
            )
    last = await conn.execute(
        select(func.max(store.transactions.c.seq)).where(
            store.transactions.c.account_id == account.id
        )
    )
    seq = (last.scalar() or 0) + 1
    verb = "Bought" if buy else "Sold"
    charged = f" (commission {fee})" if fee else ""
    await conn.execute(
        insert(store.transactions).values(
            id=f"{order.id}_fill" + ("2" if order.filled_quantity else ""),
            account_id=account.id,
            seq=seq,
            date=local_date(now),
            amount=amount,
            description=f"{verb} {quantity} {order.symbol} @ {price}{charged}",
            status="posted",
            category="investment",
            type=order.action,
            symbol=order.symbol,
            quantity=quantity,
            price=price,
        )
    )


async def evaluate(
    db: store.Database,
    account_id: str,
    order_id: str,
    price: Decimal | None,
    now: datetime,
    calendar: str,
    rejection: str | None = None,
) -> tuple[Order, bool]:
    """Decide and write what an open order does at ``price``; (the order, whether it
    changed)."""
    async with db.write() as conn:
        account = await store.lock_account(conn, account_id)
        terms = await store.terms_of(conn, account_id)
        order = await store.order_row(conn, account_id, id=order_id)
        assert order is not None
        if OrderStatus(order.status).final:
            return to_order(order, terms.commission), False
        position = await store.position_row(conn, account_id, order.symbol)
        held: Decimal = position.quantity if position else Decimal(0)
        if rejection is not None and not expired(order, now, calendar):
            decision = Decision(OrderStatus.REJECTED, bool(order.triggered), reason=rejection)
        else:
            decision = decide(
                order,
                price,
                now,
                account.cash,
                held,
                immediate=False,
                calendar=calendar,
                terms=terms,
            )
        row = await apply(conn, account, position, order, decision, now)
        return to_order(row, terms.commission), row is not order


async def cancel(
    db: store.Database, account_id: str, order_id: str, now: datetime, calendar: str
) -> Order:
    """Cancel an open order under the account's lock (unless it became final meanwhile)."""
    async with db.write() as conn:
        locked = await store.lock_account(conn, account_id)
        terms = await store.terms_of(conn, account_id)
        current = await store.order_row(conn, account_id, id=order_id)
        assert current is not None
        if OrderStatus(current.status).final:
            return to_order(current, terms.commission)
        canceled = await apply(
            conn, locked, None, current, cancellation(current, now, calendar), now
        )
    return to_order(canceled, terms.commission)

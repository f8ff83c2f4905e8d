"""Stored market data: OHLCV bars (`market_data`) and the last quote per symbol (`market_quotes`).

`market_data` has a composite primary key (symbol, interval, timestamp) rather than a UUID:
the natural key is what every read and every upsert addresses, so one B-tree serves the
uniqueness rule, the ``ON CONFLICT`` target and "bars of symbol+interval between t1 and t2
ordered by timestamp" at once; a surrogate id would add 16 bytes and a second index per row
(and a value to invent for every row of a COPY) without anything ever referring to it.

Quotes live in their own table, one row per symbol, because a quote is not a bar: it carries
change, previous close and currency, and it is replaced rather than accumulated. Keeping it out
of `market_data` also keeps bar range scans free of rows that are not bars.

Prices use :class:`Price`: NUMERIC(38, 18) on PostgreSQL (18 places is the most
`quantize_price` ever produces, 20 integer digits is more than any price needs) and text on
SQLite, whose NUMERIC affinity would keep only 15 significant digits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Numeric, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from flint.db import Base

PRICE_PRECISION = 38
PRICE_SCALE = 18
DATA_TYPES = ("real-time", "historical")

_CONTEXT = Context(prec=PRICE_PRECISION, rounding=ROUND_HALF_EVEN)
_SCALE_STEP = Decimal(1).scaleb(-PRICE_SCALE)
_ONE = Decimal(1)
_INTEGER_DIGITS = PRICE_PRECISION - PRICE_SCALE


def to_stored_price(value: Decimal) -> Decimal:
    """The value a price column keeps: the value itself, or rounded (half-even) to 18 places
    when it has more.

    Raises ValueError for a value that is not finite or has more than 20 integer digits,
    rather than letting one backend round or truncate it differently from the other. (One
    quantize does both checks, cheaper than reading the exponent: ``as_tuple()`` builds a
    tuple of every digit. The value keeps its own digits when quantizing does not change
    it, so a two-place price is not sent as twenty digits.)
    """
    try:
        # At 38 significant digits, 18 places leave 20 integer digits: a value with more,
        # before or after rounding, raises InvalidOperation (so does NaN or infinity).
        rounded = value.quantize(_SCALE_STEP, context=_CONTEXT)
    except InvalidOperation:
        if not value.is_finite():
            raise ValueError(f"prices are finite, got {value}") from None
        raise _too_large(value) from None
    if rounded == value:
        return value
    if not value.is_finite():  # a quiet NaN quantizes to itself, and NaN != NaN
        raise ValueError(f"prices are finite, got {value}")
    return rounded


def _too_large(value: Decimal) -> ValueError:
    return ValueError(f"price {value} has more than {_INTEGER_DIGITS} integer digits")


def canonical_price(value: Decimal) -> Decimal:
    """A stored price without trailing zeros (PostgreSQL pads NUMERIC(38, 18) to 18 places),
    so both backends return identical digits; integers stay integers rather than ``1E+2``."""
    if value == value.to_integral_value(context=_CONTEXT):
        return value.quantize(_ONE, context=_CONTEXT)
    return value.normalize(_CONTEXT)


class Price(TypeDecorator[Decimal]):
    """Exact decimal prices on both backends: NUMERIC(38, 18), or fixed-point text on SQLite.

    Migrations name it as ``sa.Numeric(38, 18).with_variant(sa.String(40), "sqlite")``.
    """

    impl = Numeric(PRICE_PRECISION, PRICE_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(PRICE_PRECISION + 2))
        return dialect.type_descriptor(Numeric(PRICE_PRECISION, PRICE_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        stored = to_stored_price(value)
        if dialect.name == "sqlite":  # text without the padding zeros
            return format(canonical_price(stored), "f")
        return stored

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical_price(value if isinstance(value, Decimal) else Decimal(value))


class MarketBar(Base):
    """One OHLCV bar of one symbol at one interval; ``timestamp`` is the start of its period.

    ``data_type`` is ``historical`` for a closed bar and ``real-time`` for one written while its
    period was still open (provisional: `storage.missing_ranges` does not count it, so the
    closed bar is fetched again and replaces it).
    """

    __tablename__ = "market_data"
    __table_args__ = (
        CheckConstraint("data_type IN ('real-time', 'historical')", name="data_type"),
    )

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(primary_key=True)
    open: Mapped[Decimal] = mapped_column(Price())
    high: Mapped[Decimal] = mapped_column(Price())
    low: Mapped[Decimal] = mapped_column(Price())
    close: Mapped[Decimal] = mapped_column(Price())
    adj_close: Mapped[Decimal] = mapped_column(Price())
    volume: Mapped[int] = mapped_column(BigInteger)
    data_type: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]


class MarketQuote(Base):
    """The latest quote seen for a symbol, served (marked stale) when every provider fails."""

    __tablename__ = "market_quotes"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    price: Mapped[Decimal] = mapped_column(Price())
    change: Mapped[Decimal] = mapped_column(Price())
    change_percent: Mapped[Decimal] = mapped_column(Price())
    open: Mapped[Decimal] = mapped_column(Price())
    high: Mapped[Decimal] = mapped_column(Price())
    low: Mapped[Decimal] = mapped_column(Price())
    previous_close: Mapped[Decimal] = mapped_column(Price())
    volume: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[datetime]
    provider: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]


class MarketDataWrite(Base):
    """A token per (symbol, interval), replaced by every write of that series' bars.

    Readers that keep bars in memory (`flint.portfolio.prices`) compare tokens to know,
    with one small query, whether what they hold is still what the table holds. The token is
    random rather than a counter, so a table emptied and written again never repeats one."""

    __tablename__ = "market_data_writes"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    written_at: Mapped[datetime]

"""Stored market data: OHLCV bars (`market_data`) and the last quote per symbol (`market_quotes`).

`market_data` has a composite primary key (symbol, interval, timestamp) rather than a UUID:
the natural key is what every read and every upsert addresses, so one B-tree serves the
uniqueness rule, the ``ON CONFLICT`` target and "bars of symbol+interval between t1 and t2
ordered by timestamp" at once; a surrogate id would add 16 bytes and a second index per row
(and a value to invent for every row of a COPY) without anything ever referring to it.

Quotes live in their own table, one row per symbol, because a quote is not a bar: it carries
change, previous close and currency, and it is replaced rather than accumulated. Keeping it out
of `market_data` also keeps bar range scans free of rows that are not bars.

Prices use :class:`flint.db.Price` (exact decimals on both backends).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Price

DATA_TYPES = ("real-time", "historical")


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

"""What the providers share. The vendor adapters: strict number parsing and the checks every
bar and quote must pass before it leaves an adapter. All providers, the simulated one too: the
``now`` check, a quote's change and change percent, and weekly/monthly bars built from daily
ones (Monday-Sunday weeks, calendar months, whole periods).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from flint.kit.time import utcnow
from flint.market.providers.errors import ProviderGarbage
from flint.market.providers.types import Bar, Interval, Quote, quantize_percent

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_HUNDRED = Decimal(100)


def parse_decimal(provider: str, value: object, what: str) -> Decimal:
    """A Decimal straight from the vendor's text; None, "", "NaN", "-" and the like are garbage."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ProviderGarbage(provider, f"{what} is not a number")


def parse_volume(provider: str, value: Decimal, what: str) -> int:
    """Volumes are whole and non-negative; fractional vendor volumes round half-even."""
    if not value.is_finite() or value < 0:
        raise ProviderGarbage(provider, f"{what} has an invalid volume")
    return int(value.to_integral_value())


def aware_now(now: datetime | None) -> datetime:
    """``now`` checked to be timezone-aware, or the current time."""
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now


def _positive(value: Decimal) -> bool:
    return value.is_finite() and value > 0


def check_bar(provider: str, bar: Bar, what: str) -> Bar:
    """Return ``bar`` if it is a possible bar, else raise ProviderGarbage naming ``what``."""
    prices = (bar.open, bar.high, bar.low, bar.close, bar.adj_close)
    if not all(_positive(p) for p in prices):
        raise ProviderGarbage(provider, f"{what} has a non-finite, zero or negative price")
    if bar.high < max(bar.open, bar.close) or bar.low > min(bar.open, bar.close):
        raise ProviderGarbage(provider, f"{what} has a high/low that does not span open/close")
    if bar.volume < 0:
        raise ProviderGarbage(provider, f"{what} has a negative volume")
    if bar.timestamp.tzinfo is None:
        raise ValueError("bar timestamps must be timezone-aware")
    return bar


def check_quote(quote: Quote) -> Quote:
    """Return ``quote`` if its prices are positive and consistent, else raise ProviderGarbage."""
    what = f"the quote for {quote.symbol}"
    prices = (quote.price, quote.open, quote.high, quote.low, quote.previous_close)
    if not all(_positive(p) for p in prices):
        raise ProviderGarbage(quote.provider, f"{what} has a non-finite, zero or negative price")
    if not (quote.change.is_finite() and quote.change_percent.is_finite()):
        raise ProviderGarbage(quote.provider, f"{what} has an invalid change")
    if quote.high < max(quote.open, quote.price) or quote.low > min(quote.open, quote.price):
        raise ProviderGarbage(quote.provider, f"{what} has a high/low that does not span the price")
    if quote.volume < 0:
        raise ProviderGarbage(quote.provider, f"{what} has a negative volume")
    return quote


def session_quote(
    symbol: str,
    so_far: Bar,
    previous_close: Decimal,
    *,
    currency: str,
    timestamp: datetime,
    provider: str,
) -> Quote:
    """The quote for a session whose open, high, low and volume so far are those of ``so_far``
    and whose latest price is its close; change and change percent are measured from
    ``previous_close``. A previous close that is not a positive number gives a NaN change
    percent, which :func:`check_quote` refuses."""
    change = so_far.close - previous_close
    return Quote(
        symbol=symbol,
        price=so_far.close,
        change=change,
        change_percent=(
            quantize_percent(change / previous_close * _HUNDRED)
            if previous_close.is_finite() and previous_close > 0
            else Decimal("NaN")
        ),
        open=so_far.open,
        high=so_far.high,
        low=so_far.low,
        previous_close=previous_close,
        volume=so_far.volume,
        currency=currency,
        timestamp=timestamp,
        provider=provider,
    )


def period_bounds(start: date, end: date, interval: Interval) -> tuple[date, date]:
    """``[start, end]`` widened to whole weeks (1wk) or months (1mo); unchanged otherwise."""
    if interval is Interval.W1:
        return start - timedelta(days=start.weekday()), end + timedelta(days=6 - end.weekday())
    if interval is Interval.MO1:
        following = date(end.year + end.month // 12, end.month % 12 + 1, 1)
        return start.replace(day=1), following - timedelta(days=1)
    return start, end


def aggregate(days: Sequence[tuple[date, Bar]], interval: Interval) -> list[Bar]:
    """Weekly or monthly bars from (trading date, daily bar) pairs in date order: stamped with
    the first session's open, first open to last close, last adjusted close."""
    groups: dict[tuple[int, int], list[Bar]] = {}
    for day, bar in days:
        iso = day.isocalendar()
        key = (iso.year, iso.week) if interval is Interval.W1 else (day.year, day.month)
        groups.setdefault(key, []).append(bar)
    return [
        Bar(
            timestamp=group[0].timestamp,
            open=group[0].open,
            high=max(bar.high for bar in group),
            low=min(bar.low for bar in group),
            close=group[-1].close,
            adj_close=group[-1].adj_close,
            volume=sum(bar.volume for bar in group),
        )
        for group in groups.values()
    ]

"""Yahoo's chart and search answers to Flint's instruments, quotes and bars by the conventions
in the package docstring: float32 prices read back to the decimals they stand for, bars stamped
by their sessions; anything malformed is ProviderGarbage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from flint.kit.calendar import NEW_YORK, XNYS, session
from flint.market.providers._vendor import check_bar, check_quote, parse_volume, session_quote
from flint.market.providers.errors import ProviderGarbage
from flint.market.providers.types import Bar, Instrument, InstrumentType, Quote
from flint.market.providers.yahoo.client import NAME

_KINDS = {
    "EQUITY": InstrumentType.EQUITY,
    "ETF": InstrumentType.ETF,
    "CRYPTOCURRENCY": InstrumentType.CRYPTO,
    "CURRENCY": InstrumentType.FX,
    "INDEX": InstrumentType.INDEX,
    "MUTUALFUND": InstrumentType.FUND,
}
_US_EXCHANGES = frozenset({"NMS", "NGM", "NCM", "NYQ", "ASE", "PCX", "BTS", "PNK", "NAS", "NYS"})
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _unfloat32(value: Decimal) -> Decimal:
    """The decimal a float32 printed as float64 stands for; other values are returned as is."""
    if not value.is_finite():
        return value
    wide = float(value)
    if abs(wide) > _FLOAT32_MAX:
        return value
    narrow = np.float32(wide)
    if float(narrow) != wide:
        return value
    return Decimal(np.format_float_positional(narrow, unique=True, trim="-"))


def _search_currency(symbol: str, kind: InstrumentType, exchange: str) -> str:
    """Search results do not carry a currency; infer the obvious cases, else leave it empty."""
    if kind is InstrumentType.FX and symbol.endswith("=X") and len(symbol) == 8:
        return symbol[3:6]
    if kind is InstrumentType.CRYPTO and "-" in symbol:
        return symbol.rpartition("-")[2]
    return "USD" if exchange in _US_EXCHANGES else ""


def search_results(body: dict[str, Any]) -> list[Instrument]:
    """A search answer's results in its order; options, futures and other kinds Flint does not
    model are left out."""
    quotes = body.get("quotes")
    if not isinstance(quotes, list):
        raise ProviderGarbage(NAME, "the search answer has no quotes list")
    found: list[Instrument] = []
    for item in quotes:
        if not isinstance(item, dict):
            raise ProviderGarbage(NAME, "a search result is not an object")
        symbol = item.get("symbol")
        kind = _KINDS.get(str(item.get("quoteType", "")))
        if not isinstance(symbol, str) or not symbol:
            raise ProviderGarbage(NAME, "a search result has no symbol")
        if kind is None:
            continue
        name = item.get("longname") or item.get("shortname") or symbol
        exchange = str(item.get("exchange") or "")
        sector = item.get("sector")
        found.append(
            Instrument(
                symbol=symbol,
                name=str(name),
                type=kind,
                exchange=exchange,
                currency=_search_currency(symbol, kind, exchange),
                sector=sector if isinstance(sector, str) and sector else None,
            )
        )
    return found


def chart_quote(sym: str, result: dict[str, Any]) -> Quote:
    """The regular-market quote of a one-day chart: the price from its metadata, today's open
    from the day's bar."""
    meta = chart_meta(result)
    what = f"the quote for {sym}"
    rows = chart_rows(result, what)
    if not rows:
        raise ProviderGarbage(NAME, f"{what} has no session data")
    _, today = rows[-1]

    def field(name: str) -> Decimal | None:
        return _price(meta.get(name), f"{what} ({name})")

    price = field("regularMarketPrice")
    previous = _either(field("previousClose"), field("chartPreviousClose"))
    high = _either(field("regularMarketDayHigh"), today.high)
    low = _either(field("regularMarketDayLow"), today.low)
    stamp = _moment(meta.get("regularMarketTime"))
    if price is None or previous is None or high is None or low is None:
        raise ProviderGarbage(NAME, f"{what} is missing prices")
    if stamp is None:
        raise ProviderGarbage(NAME, f"{what} has no time")
    volume = meta.get("regularMarketVolume")
    traded = today.volume if volume is None else _volume(volume, what)
    so_far = Bar(today.timestamp, today.open, high, low, price, price, traded)
    return check_quote(
        session_quote(
            str(meta.get("symbol") or sym),
            so_far,
            previous,
            currency=_currency(meta),
            timestamp=stamp,
            provider=NAME,
        )
    )


def chart_meta(result: dict[str, Any]) -> dict[str, Any]:
    meta = result.get("meta")
    if not isinstance(meta, dict):
        raise ProviderGarbage(NAME, "the chart has no metadata")
    return meta


def _currency(meta: dict[str, Any]) -> str:
    currency = meta.get("currency")
    if not isinstance(currency, str) or not currency:
        raise ProviderGarbage(NAME, "the chart names no currency")
    return currency


def exchange_zone(meta: dict[str, Any]) -> tzinfo:
    name = meta.get("exchangeTimezoneName")
    if not isinstance(name, str):
        raise ProviderGarbage(NAME, "the chart names no exchange time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProviderGarbage(NAME, f"unknown time zone {name[:40]!r}") from None


def _price(value: object, what: str) -> Decimal | None:
    """None for Yahoo's nulls; a Decimal (maybe NaN, for the checks) for numbers."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return _unfloat32(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise ProviderGarbage(NAME, f"{what} is not a number")


def chart_rows(result: dict[str, Any], what: str) -> list[tuple[datetime, Bar]]:
    """Checked bars stamped as Yahoo stamps them; bars with a null price are skipped."""
    indicators = result.get("indicators")
    quotes = indicators.get("quote") if isinstance(indicators, dict) else None
    if not isinstance(quotes, list) or not quotes or not isinstance(quotes[0], dict):
        raise ProviderGarbage(NAME, "the chart has no price arrays")
    columns: dict[str, Any] = quotes[0]
    stamps = result.get("timestamp")
    if stamps is None and not any(columns.values()):
        return []  # an empty window (a weekend, a holiday)
    if not isinstance(stamps, list):
        raise ProviderGarbage(NAME, "the chart has no timestamps")
    adjclose = indicators.get("adjclose") if isinstance(indicators, dict) else None
    adjusted = adjclose[0] if isinstance(adjclose, list) and adjclose else {}
    if not isinstance(adjusted, dict):
        raise ProviderGarbage(NAME, "the chart's adjusted closes are malformed")
    opens, highs, lows, closes, volumes = (
        _column(columns, name, len(stamps)) for name in ("open", "high", "low", "close", "volume")
    )
    adjusted_closes = _column(adjusted, "adjclose", len(stamps)) if adjusted else closes
    rows: list[tuple[datetime, Bar]] = []
    for i, stamp in enumerate(stamps):
        when = _moment(stamp)
        if when is None:
            raise ProviderGarbage(NAME, "the chart has a bad timestamp")
        label = f"{what} at {when:%Y-%m-%d %H:%M} UTC"
        o, h, lo, c = (_price(column[i], label) for column in (opens, highs, lows, closes))
        if o is None or h is None or lo is None or c is None:
            continue
        adj = _price(adjusted_closes[i], label)
        volume = _volume(volumes[i] or 0, label)
        bar = Bar(when, o, h, lo, c, c if adj is None else adj, volume)
        rows.append((when, check_bar(NAME, bar, label)))
    return rows


def _moment(stamp: object) -> datetime | None:
    """A Unix time as a UTC datetime; None for anything else (a bool, a float, a time beyond
    what datetime holds)."""
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _column(columns: dict[str, Any], name: str, length: int) -> list[Any]:
    column = columns.get(name)
    if not isinstance(column, list):
        raise ProviderGarbage(NAME, f"the chart has no {name} values")
    if len(column) != length:
        raise ProviderGarbage(NAME, f"the chart's {name} values do not match its times")
    return column


def _volume(value: object, what: str) -> int:
    amount = _price(value, what)
    if amount is None:
        raise ProviderGarbage(NAME, f"{what} has no volume")
    return parse_volume(NAME, amount, what)


def sessions(meta: dict[str, Any], zone: tzinfo) -> Callable[[date], tuple[datetime, datetime]]:
    """(open, close) in UTC of a daily bar's session, by the rules in the package docstring."""
    kind = _KINDS.get(str(meta.get("instrumentType", "")))
    if kind in (InstrumentType.CRYPTO, InstrumentType.FX):

        def whole_day(day: date) -> tuple[datetime, datetime]:
            opens = datetime.combine(day, time(), UTC)
            return opens, opens + timedelta(days=1)

        return whole_day
    period = meta.get("currentTradingPeriod")
    regular = period.get("regular") if isinstance(period, dict) else None
    start, end = (
        (_moment(regular.get("start")), _moment(regular.get("end")))
        if isinstance(regular, dict)
        else (None, None)
    )
    if start is not None and end is not None:
        open_at = start.astimezone(zone).time()
        close_at = end.astimezone(zone).time()
    else:
        open_at, close_at = time(), time(23, 59, 59)

    def local(day: date) -> tuple[datetime, datetime]:
        found = session(day, XNYS) if zone == NEW_YORK else None
        if found is not None:
            return found.open, found.close
        return (
            datetime.combine(day, open_at, zone).astimezone(UTC),
            datetime.combine(day, close_at, zone).astimezone(UTC),
        )

    return local


def _either(value: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    return value if value is not None else fallback

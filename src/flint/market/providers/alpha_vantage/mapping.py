"""Flint's symbols to what Alpha Vantage is asked for, and Alpha Vantage's JSON to Flint's
instruments, quotes and bars by the conventions in the package docstring; anything malformed
is ProviderGarbage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flint.kit.calendar import NEW_YORK, XNYS, session
from flint.market.providers._vendor import check_bar, check_quote, parse_decimal, parse_volume
from flint.market.providers.alpha_vantage.client import NAME
from flint.market.providers.errors import ProviderGarbage
from flint.market.providers.types import Bar, Instrument, InstrumentType, Quote, SymbolNotFound

_FIAT = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "SEK", "NOK"}
    | {"DKK", "KRW", "INR", "BRL", "MXN", "ZAR", "PLN", "TRY"}
)
_SUFFIX_CURRENCY = {
    "LON": "GBp",
    "TRT": "CAD",
    "TRV": "CAD",
    "DEX": "EUR",
    "FRK": "EUR",
    "BSE": "INR",
    "SHH": "CNY",
    "SHZ": "CNY",
}
"""Alpha Vantage's exchange suffixes; a quote does not say its currency, US listings are USD."""
_SEARCH_TYPES = {
    "equity": InstrumentType.EQUITY,
    "etf": InstrumentType.ETF,
    "mutual fund": InstrumentType.FUND,
}
_ZONES: dict[str, tzinfo] = {"US/Eastern": NEW_YORK, "UTC": UTC}
_OPEN, _CLOSE = time(9, 30), time(16, 0)


@dataclass(frozen=True, slots=True)
class Symbol:
    """How one Flint symbol is asked for: kind, and base/quote currencies for crypto and FX."""

    symbol: str
    kind: InstrumentType
    base: str = ""
    quote: str = ""

    @classmethod
    def parse(cls, symbol: str) -> Symbol:
        text = symbol.strip().upper()
        if text.endswith("=X") and len(text) == 8 and text[:6].isalpha():
            return cls(text, InstrumentType.FX, text[:3], text[3:6])
        base, dash, quote = text.partition("-")
        if dash and quote in _FIAT and base.isalnum():
            return cls(text, InstrumentType.CRYPTO, base, quote)
        return cls(text, InstrumentType.EQUITY)

    @property
    def currency(self) -> str:
        if self.kind is not InstrumentType.EQUITY:
            return self.quote
        _, dot, suffix = self.symbol.rpartition(".")
        return _SUFFIX_CURRENCY.get(suffix, "USD") if dot else "USD"


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """``{"1. open": ...}`` -> ``{"open": ...}`` (also ``"1a. open (USD)"`` -> ``"open (USD)"``)."""
    return {key.split(". ", 1)[-1]: value for key, value in row.items()}


def search_results(body: dict[str, Any]) -> list[Instrument]:
    """A SYMBOL_SEARCH answer's matches in its order; kinds other than equity/ETF/fund are
    left out."""
    matches = body.get("bestMatches")
    if not isinstance(matches, list):
        raise ProviderGarbage(NAME, "the search answer has no matches list")
    found: list[Instrument] = []
    for match in matches:
        fields = _fields(match) if isinstance(match, dict) else {}
        symbol, name = fields.get("symbol"), fields.get("name")
        kind = _SEARCH_TYPES.get(str(fields.get("type", "")).lower())
        if not (isinstance(symbol, str) and symbol and isinstance(name, str)):
            raise ProviderGarbage(NAME, "a search match has no symbol or name")
        if kind is None:
            continue
        region, currency = fields.get("region"), fields.get("currency")
        found.append(
            Instrument(
                symbol=symbol,
                name=name,
                type=kind,
                exchange=region if isinstance(region, str) else "",
                currency=currency if isinstance(currency, str) else "",
            )
        )
    return found


def global_quote(body: dict[str, Any], sym: Symbol, at: datetime) -> Quote:
    """A GLOBAL_QUOTE answer, stamped with the session close once it has passed, else ``at``."""
    raw = body.get("Global Quote")
    if not isinstance(raw, dict):
        raise ProviderGarbage(NAME, "the quote answer has no 'Global Quote'")
    if not raw:
        raise SymbolNotFound(sym.symbol)
    fields = _fields(raw)
    what = f"the quote for {sym.symbol}"

    def number(field: str) -> Decimal:
        return parse_decimal(NAME, fields.get(field), f"{what} ({field})")

    percent = fields.get("change percent")
    day = parse_date(fields.get("latest trading day"), what)
    return check_quote(
        Quote(
            symbol=sym.symbol,
            price=number("price"),
            change=number("change"),
            change_percent=parse_decimal(
                NAME,
                percent.removesuffix("%") if isinstance(percent, str) else None,
                f"{what} (change percent)",
            ),
            open=number("open"),
            high=number("high"),
            low=number("low"),
            previous_close=number("previous close"),
            volume=parse_volume(NAME, number("volume"), what),
            currency=sym.currency,
            timestamp=min(at, session_times(day, NEW_YORK, InstrumentType.EQUITY)[1]),
            provider=NAME,
        )
    )


def parse_bar(row: object, stamp: datetime, what: str, sym: Symbol) -> Bar:
    if not isinstance(row, dict):
        raise ProviderGarbage(NAME, f"{what} is not an object")
    fields = _fields(row)

    def number(field: str) -> Decimal:
        value = fields.get(field, fields.get(f"{field} ({sym.quote})"))
        return parse_decimal(NAME, value, f"{what} ({field})")

    close = number("close")
    adjusted = number("adjusted close") if "adjusted close" in fields else close
    if sym.kind is InstrumentType.FX:
        volume = 0
    else:
        traded = number("volume")
        if sym.kind is InstrumentType.CRYPTO:
            traded *= close
        volume = parse_volume(NAME, traded, what)
    bar = Bar(stamp, number("open"), number("high"), number("low"), close, adjusted, volume)
    return check_bar(NAME, bar, what)


def time_series(body: dict[str, Any], key: str) -> tuple[tzinfo, dict[str, Any]]:
    """The time series under ``key`` and the zone its times are in (from the metadata)."""
    series, meta = body.get(key), body.get("Meta Data")
    if not isinstance(series, dict) or not isinstance(meta, dict):
        raise ProviderGarbage(NAME, f"the answer has no '{key}'")
    names = [value for name, value in meta.items() if name.endswith("Time Zone")]
    name = names[0] if names and isinstance(names[0], str) else "US/Eastern"
    zone = _ZONES.get(name)
    if zone is None:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProviderGarbage(NAME, f"unknown time zone {name[:40]!r}") from None
    return zone, series


def session_times(day: date, zone: tzinfo, kind: InstrumentType) -> tuple[datetime, datetime]:
    """(open, close) in UTC of the session on ``day``."""
    if kind is not InstrumentType.EQUITY:
        opens = datetime.combine(day, time(0, 0), tzinfo=UTC)
        return opens, opens + timedelta(days=1)
    found = session(day, XNYS) if zone is NEW_YORK else None
    if found is not None:
        return found.open, found.close
    return (
        datetime.combine(day, _OPEN, tzinfo=zone).astimezone(UTC),
        datetime.combine(day, _CLOSE, tzinfo=zone).astimezone(UTC),
    )


def parse_date(value: object, what: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ProviderGarbage(NAME, f"{what} has a bad date") from None

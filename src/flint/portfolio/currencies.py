"""Which currencies Flint can value a portfolio in, and the daily rates between them.

A currency converts to another through the daily closes of the market's FX pairs: the direct
pair (``EURUSD=X``), the inverse one (``USDEUR=X``, as ``1 / close``), or across the US dollar
(``EURUSD=X`` then ``USDJPY=X``) when neither exists. Pence (``GBp``) are pounds / 100. A
currency with no such path (``SEK`` when the market has no Swedish krona pair, ``XYZ``) cannot
be priced: a portfolio may neither use it as its base nor record an amount in it.

A day's rate is the pair's last close on or before that day (its first close for days before
any).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from flint.kit.money import exact
from flint.market.api import load_universe
from flint.portfolio.symbols import Instruments
from flint.portfolio.valuation import EMPTY, Series

MINOR_UNITS = {"GBp": ("GBP", 0.01)}
"""Currencies quoted in a fraction of another: the major currency and the factor to it."""
HUB = "USD"


def major(currency: str) -> tuple[str, float]:
    """The currency itself (upper case) and 1, or the major of a minor unit and its factor."""
    return MINOR_UNITS.get(currency, (currency.upper(), 1.0))


@dataclass(frozen=True)
class Leg:
    pair: str
    inverse: bool


def _leg(market: Instruments, source: str, target: str) -> Leg | None:
    if market.instrument(f"{source}{target}=X") is not None:
        return Leg(f"{source}{target}=X", False)
    if market.instrument(f"{target}{source}=X") is not None:
        return Leg(f"{target}{source}=X", True)
    return None


def route(market: Instruments, currency: str, base: str) -> tuple[Leg, ...] | None:
    """The FX pairs that turn ``currency`` into ``base`` (none for the same currency), or None
    when the market cannot convert them."""
    source, target = major(currency)[0], major(base)[0]
    if source == target:
        return ()
    direct = _leg(market, source, target)
    if direct is not None:
        return (direct,)
    if HUB in (source, target):
        return None
    first, second = _leg(market, source, HUB), _leg(market, HUB, target)
    return (first, second) if first is not None and second is not None else None


def convertible(market: Instruments, currency: str, base: str) -> bool:
    return route(market, currency, base) is not None


def is_base(market: Instruments, currency: str) -> bool:
    """Whether ``currency`` can be a portfolio's base: the market converts US dollars (what
    listed instruments are quoted in) into it."""
    return convertible(market, HUB, currency)


_PAIR = re.compile(r"([A-Z]{3})([A-Z]{3})=X")


def base_currencies(market: Instruments, symbols: Iterable[str]) -> list[str]:
    """Every currency `is_base` takes, of those named by the FX pairs among ``symbols`` (the
    market's): the ones the documents list for a portfolio's ``baseCurrency``."""
    named = {HUB}
    for symbol in symbols:
        found = _PAIR.fullmatch(symbol)
        if found is not None:
            named.update(found.groups())
    return sorted(currency for currency in named if is_base(market, currency))


def packaged_bases() -> list[str]:
    """`base_currencies` of the packaged universe (which every market has): what the documents
    list for a portfolio's ``baseCurrency`` and a Ghostfolio account's ``currency``."""
    universe = load_universe()
    return base_currencies(universe, (item.symbol for item in universe))


def pairs(market: Instruments, currencies: Iterable[str], base: str) -> set[str]:
    """The FX pairs converting ``currencies`` (those it can) into ``base``."""
    return {leg.pair for currency in currencies for leg in route(market, currency, base) or ()}


class Rates:
    """Daily rates from any convertible currency into one base currency, from the closes of
    the FX pairs (``closes``, by pair symbol; a pair without closes converts at 1)."""

    def __init__(self, market: Instruments, base: str, closes: Mapping[str, Series]) -> None:
        self.market = market
        self.base = base
        self.closes = closes

    def at(self, currency: str, days: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The rate of each of ``days`` (``datetime64[D]``). Writes refuse a currency that
        cannot be converted; one stored before that rule (or mirrored from a broker) counts
        1:1, as it always did."""
        legs = route(self.market, currency, self.base) or ()
        rates = np.full(len(days), major(currency)[1])
        for leg in legs:
            series = self.closes.get(leg.pair, EMPTY)
            if not len(series.days):
                continue
            index = np.searchsorted(series.days, days, side="right") - 1
            closes = series.values[np.clip(index, 0, None)]
            rates = rates / closes if leg.inverse else rates * closes
        return rates

    def days(self, currency: str) -> np.ndarray[Any, Any]:
        """The sessions of the pairs converting ``currency`` (none for the base currency)."""
        found = [
            self.closes.get(leg.pair, EMPTY).days
            for leg in route(self.market, currency, self.base) or ()
        ]
        return np.unique(np.concatenate(found)) if found else EMPTY.days

    def exact_on(self, currency: str, day: np.datetime64) -> Decimal:
        """The rate of ``day`` from the stored closes as decimals (an inverse pair inverted
        exactly), for exact money."""
        rate = Decimal(str(major(currency)[1]))
        for leg in route(self.market, currency, self.base) or ():
            series = self.closes.get(leg.pair, EMPTY)
            if not len(series.days):
                continue
            index = max(int(np.searchsorted(series.days, day, side="right")) - 1, 0)
            close = exact(float(series.values[index]))
            rate = rate / close if leg.inverse else rate * close
        return rate

    def on(self, currency: str, day: date) -> float:
        return float(self.at(currency, np.array([day], dtype="datetime64[D]"))[0])

    def convert(self, amount: Decimal, currency: str, day: date) -> Decimal:
        """``amount`` in ``currency`` on ``day``, in the base currency."""
        if currency == self.base:
            return amount
        return amount * Decimal(str(self.on(currency, day)))

    def series(self, currency: str, series: Series) -> Series:
        """A series of prices in ``currency``, in the base currency day by day."""
        if currency == self.base:
            return series
        return Series(series.days, series.values * self.at(currency, series.days))


def unpriceable(
    market: Instruments, currencies: Sequence[tuple[str, str]], base: str
) -> list[tuple[str, str]]:
    """Of (where, currency) pairs, those the market cannot convert into ``base``, with why."""
    return [
        (
            where,
            f"{currency} cannot be converted to the portfolio's {base}: the market has no "
            "exchange rate for it",
        )
        for where, currency in currencies
        if not convertible(market, currency, base)
    ]

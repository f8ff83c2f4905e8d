"""Per-instrument parameters of the simulated market: level, volatility, drift, factors, volume.

Levels are the real closes of the reference date (the last session of 2024, see
``_simdata.reference_closes``); an instrument that did not trade then draws its level from a
hash of its symbol within a range that suits its kind. Volatility and drift come by asset class
and, for stocks, by GICS sector, with hand-set values for a few well-known names. Correlation
comes from shared factors (see ``_simpath``): every stock loads on the US market factor and its
sector's factor, ``^GSPC`` *is* the market factor, sector ETFs load on their sector, bond funds
on a bond factor, crypto on a crypto factor led by bitcoin and gold funds on a gold factor;
currency pairs, ^VIX and stablecoins revert to their level instead. Instruments that track
another one (SPY and ^GSPC, WBTC and BTC, ...) reuse that one's path at their own level, so
their charts agree; leveraged and inverse funds take their underlying's motions times their
leverage.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import date

from flint.kit.calendar import CRYPTO, FX, XNYS
from flint.market.providers._simdata import reference_closes, reference_date, splits
from flint.market.providers._simpath import Factor, PathModel, unit
from flint.market.providers.types import Instrument, InstrumentType
from flint.market.universe import Universe


@dataclass(frozen=True, slots=True)
class Pricing:
    """Everything the simulator needs to price one instrument.

    ``split_ordinals`` are the ex-dates of the instrument's splits (as date ordinals) and
    ``split_logs[k]`` the log factor between the price as traded and the path while ``k`` of
    them have happened: the path is on the share basis of the reference date.
    """

    symbol: str
    model: PathModel
    log_level: float
    base_volume: float
    kind: InstrumentType
    split_ordinals: tuple[int, ...] = ()
    split_logs: tuple[float, ...] = (0.0,)

    def shift(self, day: date) -> float:
        """Log factor from the path to the price as traded on ``day`` (0 without splits)."""
        if not self.split_ordinals:
            return 0.0
        return self.split_logs[bisect.bisect_right(self.split_ordinals, day.toordinal())]


def _split_table(symbol: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    items = splits(symbol)
    logs = [math.log(float(split.ratio)) for split in items]
    anchor = reference_date().toordinal()
    done = sum(1 for split in items if split.ex_date.toordinal() <= anchor)
    suffix = [sum(logs[k:]) - sum(logs[done:]) for k in range(len(items) + 1)]
    return tuple(split.ex_date.toordinal() for split in items), tuple(suffix)


def _factor(name: str, weight: float, calendar: str = XNYS) -> Factor:
    return Factor(f"factor:{name}", calendar, weight)


MARKET = "market"
_MARKET_WEIGHT, _SECTOR_WEIGHT = (
    0.6,
    0.5,
)  # a stock's loadings: correlation 0.61 within, 0.36 across
# GICS sector: (volatility range, median yearly growth)
_SECTORS = {
    "Information Technology": ((0.26, 0.45), 0.11),
    "Communication Services": ((0.24, 0.40), 0.08),
    "Consumer Discretionary": ((0.26, 0.42), 0.08),
    "Consumer Staples": ((0.16, 0.24), 0.06),
    "Health Care": ((0.20, 0.35), 0.07),
    "Financials": ((0.20, 0.32), 0.08),
    "Industrials": ((0.20, 0.32), 0.08),
    "Energy": ((0.26, 0.38), 0.05),
    "Utilities": ((0.16, 0.22), 0.05),
    "Real Estate": ((0.20, 0.30), 0.05),
    "Materials": ((0.22, 0.32), 0.06),
}
# fmt: off
# symbol: (annual volatility, median yearly growth) for stocks that stand out
_STOCKS = {
    "NVDA": (0.50, 0.30), "AAPL": (0.28, 0.20), "MSFT": (0.25, 0.16), "AMZN": (0.33, 0.22),
    "GOOGL": (0.28, 0.16), "GOOG": (0.28, 0.16), "META": (0.38, 0.18), "TSLA": (0.60, 0.30),
    "NFLX": (0.42, 0.25), "AVGO": (0.36, 0.20), "AMD": (0.50, 0.12), "PLTR": (0.65, 0.25),
    "SMCI": (0.80, 0.20), "COIN": (0.75, 0.10), "HOOD": (0.70, 0.10), "APP": (0.70, 0.25),
    "CVNA": (0.80, 0.10), "MRNA": (0.55, 0.02), "BRK-B": (0.18, 0.09), "KO": (0.15, 0.06),
    "PG": (0.16, 0.07), "JNJ": (0.16, 0.06), "WMT": (0.20, 0.09), "PEP": (0.16, 0.06),
}
# symbol: (volatility, growth, factors); ^GSPC is the market factor itself
_INDICES = {
    "^GSPC": (0.17, 0.08, ((MARKET, 1.0),)),
    "^DJI": (0.16, 0.07, ((MARKET, 0.95),)),
    "^IXIC": (0.21, 0.10, ((MARKET, 0.85), ("sector:Information Technology", 0.45))),
    "^RUT": (0.22, 0.06, ((MARKET, 0.85),)),
}
# fmt: on
_PINNED_INDICES = {"^VIX": 0.55}
_TECH, _GOLD, _BONDS, _INTL = "sector:Information Technology", "gold", "bonds", "international"
# ETF sector/category (or name) fragment: (volatility range, growth, factors); first match wins
_ETF_RULES: tuple[tuple[str, tuple[float, float], float, tuple[tuple[str, float], ...]], ...] = (
    ("Short VIX", (0.5, 0.6), 0.05, ((MARKET, 0.7),)),
    ("VIX", (0.9, 1.2), -0.6, ((MARKET, -0.7),)),
    ("Digital Assets", (0.5, 0.5), 0.15, (("crypto", 1.0),)),
    ("Ultrashort", (0.003, 0.008), 0.04, ((_BONDS, 0.3),)),
    ("Short", (0.015, 0.03), 0.03, ((_BONDS, 0.8),)),
    ("Long Government", (0.12, 0.16), 0.02, ((_BONDS, 0.95),)),
    ("Corporate", (0.05, 0.09), 0.025, ((_BONDS, 0.8), (MARKET, 0.3))),
    ("Bond", (0.04, 0.08), 0.025, ((_BONDS, 0.9),)),
    ("Government", (0.04, 0.08), 0.025, ((_BONDS, 0.9),)),
    ("Muni", (0.04, 0.07), 0.025, ((_BONDS, 0.8),)),
    ("Commodities", (0.14, 0.16), 0.05, ((_GOLD, 0.97),)),
    ("Gold Miners", (0.33, 0.38), 0.03, ((_GOLD, 0.7), (MARKET, 0.3))),
    ("Uranium", (0.40, 0.45), 0.04, ((MARKET, 0.4),)),
    ("Natural Gas", (0.50, 0.60), -0.2, ()),
    ("Energy", (0.22, 0.28), 0.05, ((MARKET, 0.6), ("sector:Energy", 0.75))),
    ("Biotechnology", (0.35, 0.45), 0.03, ((MARKET, 0.55), ("sector:Health Care", 0.55))),
    ("Technology", (0.22, 0.30), 0.12, ((MARKET, 0.75), (_TECH, 0.6))),
    ("Financial", (0.18, 0.22), 0.08, ((MARKET, 0.75), ("sector:Financials", 0.6))),
    ("Health", (0.15, 0.18), 0.07, ((MARKET, 0.75), ("sector:Health Care", 0.6))),
    (
        "Consumer Cyclical",
        (0.2, 0.24),
        0.08,
        ((MARKET, 0.75), ("sector:Consumer Discretionary", 0.6)),
    ),
    ("Communications", (0.2, 0.24), 0.08, ((MARKET, 0.75), ("sector:Communication Services", 0.6))),
    ("Industrials", (0.17, 0.2), 0.08, ((MARKET, 0.75), ("sector:Industrials", 0.6))),
    ("Real Estate", (0.18, 0.22), 0.05, ((MARKET, 0.6), ("sector:Real Estate", 0.75))),
    ("Derivative Income", (0.08, 0.12), 0.06, ((MARKET, 0.9),)),
    ("Growth", (0.18, 0.22), 0.10, ((MARKET, 0.9), (_TECH, 0.4))),
    ("Emerging", (0.18, 0.22), 0.04, ((MARKET, 0.6), (_INTL, 0.6))),
    ("China", (0.25, 0.3), 0.02, ((MARKET, 0.5), (_INTL, 0.6))),
    ("Foreign", (0.15, 0.18), 0.05, ((MARKET, 0.75), (_INTL, 0.55))),
    ("Europe", (0.16, 0.19), 0.05, ((MARKET, 0.75), (_INTL, 0.55))),
    ("Global", (0.15, 0.17), 0.07, ((MARKET, 0.85), (_INTL, 0.45))),
    ("Small", (0.2, 0.23), 0.06, ((MARKET, 0.85),)),
    ("Mid-Cap", (0.17, 0.2), 0.07, ((MARKET, 0.9),)),
)
# symbol: (followed symbol, leverage); a leveraged fund's daily moves are its underlying's times L
# fmt: off
_LEVERAGED = {
    "TQQQ": ("QQQ", 3.0), "SQQQ": ("QQQ", -3.0), "SPXL": ("^GSPC", 3.0), "SPXU": ("^GSPC", -3.0),
    "TSLL": ("TSLA", 2.0), "NVDL": ("NVDA", 2.0),
}
_BITCOIN_PROXIES = {"MSTX": 1.6}  # a 2x fund on a bitcoin-holding stock: crypto motion, leveraged
_PEGS = {
    "SPY": "^GSPC", "IVV": "^GSPC", "VOO": "^GSPC", "SPLG": "^GSPC", "VTI": "^GSPC",
    "ITOT": "^GSPC", "SCHB": "^GSPC", "SCHX": "^GSPC", "IWB": "^GSPC", "VV": "^GSPC",
    "DIA": "^DJI", "IWM": "^RUT", "QQQ": "^IXIC", "QQQM": "^IXIC",
    "WBTC-USD": "BTC-USD", "CBBTC-USD": "BTC-USD", "LBTC-USD": "BTC-USD",
    "STETH-USD": "ETH-USD", "WETH-USD": "ETH-USD", "WSTETH-USD": "ETH-USD", "WBETH-USD": "ETH-USD",
    "WEETH-USD": "ETH-USD", "RETH-USD": "ETH-USD", "OSETH-USD": "ETH-USD", "LSETH-USD": "ETH-USD",
    "RSETH-USD": "ETH-USD", "EZETH-USD": "ETH-USD", "JITOSOL-USD": "SOL-USD",
    "BNSOL-USD": "SOL-USD", "WBNB-USD": "BNB-USD", "KHYPE-USD": "HYPE-USD",
    "XAUT-USD": "PAXG-USD",
}
# fmt: on
# Stablecoins and tokenised cash funds hold their peg: pinned paths around 1 USD.
# fmt: off
_STABLECOINS = frozenset((
    "USDT", "USDC", "USDE", "USDS", "USDT0", "DAI", "PYUSD", "USD1", "USDF", "USDTB", "BFUSD",
    "BUIDL",
))
# fmt: on
# Yield-bearing dollar tokens drift up slowly at near-zero volatility.
_YIELD_STABLECOINS = frozenset(("SUSDE", "SUSDS", "SYRUPUSDC"))
# Year-end spread of a currency pair, in W units: about 8 % a year at 8 % volatility.
_FX_SPREAD = 1.0
# fmt: off
_FX_VOLS = {
    "EURUSD=X": 0.07, "GBPUSD=X": 0.08, "USDJPY=X": 0.09, "USDCHF=X": 0.07, "AUDUSD=X": 0.10,
    "USDCAD=X": 0.06, "NZDUSD=X": 0.10, "EURGBP=X": 0.06, "EURJPY=X": 0.09,
}
# fmt: on
_CALENDARS = {InstrumentType.CRYPTO: CRYPTO, InstrumentType.FX: FX}
_CRYPTO = _factor("crypto", 1.0, CRYPTO)
_BTC_VOL = 0.5


def _between(symbol: str, what: str, low: float, high: float) -> float:
    return low + (high - low) * unit(symbol, what)


def _log_between(symbol: str, what: str, low: float, high: float) -> float:
    return _between(symbol, what, math.log(low), math.log(high))


def _factors(pairs: tuple[tuple[str, float], ...]) -> tuple[Factor, ...]:
    return tuple(_factor(name, weight) for name, weight in pairs)


def _crypto_model(symbol: str, base: str) -> PathModel:
    if base in _STABLECOINS:
        return PathModel(symbol, CRYPTO, 0.004, 0.0, pinned=True)
    if base in _YIELD_STABLECOINS:
        return PathModel(symbol, CRYPTO, 0.01, 0.05)
    if base == "PAXG":
        return PathModel(symbol, CRYPTO, 0.15, 0.05, factors=(_factor(_GOLD, 0.95),))
    if base == "BTC":
        return PathModel(symbol, CRYPTO, _BTC_VOL, 0.15, factors=(_CRYPTO,))
    weight = 0.85 if base == "ETH" else 0.7
    sigma = 0.65 if base == "ETH" else _between(symbol, "vol", 0.7, 0.9)
    crypto = _factor("crypto", weight, CRYPTO)
    return PathModel(symbol, CRYPTO, sigma, 0.1 if base == "ETH" else 0.0, factors=(crypto,))


def _fx_model(symbol: str) -> PathModel:
    """Currencies revert to their level: a pinned path whose yearly spread is a few sigma."""
    sigma = _FX_VOLS.get(symbol) or _between(symbol, "vol", 0.06, 0.10)
    return PathModel(symbol, FX, sigma, 0.0, pinned=True, spread=_FX_SPREAD)


def _equity_model(inst: Instrument) -> PathModel:
    symbol, sector = inst.symbol, inst.sector or ""
    (low, high), mu = _SECTORS.get(sector, ((0.2, 0.45), 0.07))
    sigma, mu = _STOCKS.get(symbol, (_between(symbol, "vol", low, high), mu))
    factors = [_factor(MARKET, _MARKET_WEIGHT)]
    if sector in _SECTORS:
        factors.append(_factor(f"sector:{sector}", _SECTOR_WEIGHT))
    return PathModel(symbol, XNYS, sigma, mu, factors=tuple(factors))


def _etf_model(inst: Instrument, universe: Universe) -> PathModel:
    symbol = inst.symbol
    if symbol in _LEVERAGED:
        followed, leverage = _LEVERAGED[symbol]
        underlying = universe.get(_PEGS.get(followed, followed))
        assert underlying is not None, f"{symbol} follows {followed}, which is not in the universe"
        base = _own_model(underlying, universe)
        weights = [
            Factor(f.key, f.calendar, f.weight * math.copysign(1.0, leverage)) for f in base.factors
        ]
        if base.own_weight > 0.0:
            weights.append(
                Factor(base.key, base.calendar, math.copysign(base.own_weight, leverage))
            )
        # The median of a daily-rebalanced fund grows by L*mu - L(L-1)sigma^2/2 (volatility decay).
        mu = leverage * base.mu - leverage * (leverage - 1.0) * base.sigma**2 / 2.0
        return PathModel(symbol, XNYS, abs(leverage) * base.sigma, mu, factors=tuple(weights))
    if symbol in _BITCOIN_PROXIES:
        sigma = _BITCOIN_PROXIES[symbol]
        return PathModel(symbol, XNYS, sigma, -0.2, factors=(_factor("crypto", 0.8, CRYPTO),))
    text = f"{inst.sector or ''} {inst.name}"
    for fragment, (low, high), mu, pairs in _ETF_RULES:
        if fragment in text:
            factors = tuple(_factor(n, w, CRYPTO if n == "crypto" else XNYS) for n, w in pairs)
            return PathModel(symbol, XNYS, _between(symbol, "vol", low, high), mu, factors=factors)
    vol = _between(symbol, "vol", 0.14, 0.18)
    return PathModel(symbol, XNYS, vol, 0.07, factors=(_factor(MARKET, 0.95),))


def _own_model(inst: Instrument, universe: Universe) -> PathModel:
    """The path of an instrument that does not peg to another one."""
    symbol, kind = inst.symbol, inst.type
    if kind is InstrumentType.INDEX and symbol in _INDICES:
        sigma, mu, pairs = _INDICES[symbol]
        return PathModel(symbol, XNYS, sigma, mu, factors=_factors(pairs))
    if kind is InstrumentType.INDEX and symbol in _PINNED_INDICES:
        return PathModel(symbol, XNYS, _PINNED_INDICES[symbol], 0.0, pinned=True)
    if kind is InstrumentType.FX:
        return _fx_model(symbol)
    if kind is InstrumentType.CRYPTO:
        return _crypto_model(symbol, symbol.removesuffix("-USD"))
    if kind is InstrumentType.EQUITY:
        return _equity_model(inst)
    if kind is InstrumentType.INDEX:
        vol = _between(symbol, "vol", 0.15, 0.18)
        return PathModel(symbol, XNYS, vol, 0.07, factors=(_factor(MARKET, 0.9),))
    return _etf_model(inst, universe)


def _fallback_level(inst: Instrument) -> float:
    """A log level for an instrument without a reference close (listed after the date)."""
    symbol, kind = inst.symbol, inst.type
    if kind is InstrumentType.CRYPTO:
        base = symbol.removesuffix("-USD")
        if base in _STABLECOINS:
            return 0.0
        if base in _YIELD_STABLECOINS:
            return _log_between(symbol, "level", 1.02, 1.2)
        return _log_between(symbol, "level", 0.05, 50.0)
    if kind is InstrumentType.FX:
        return _log_between(symbol, "level", 0.5, 2.0)
    if kind is InstrumentType.INDEX:
        return _log_between(symbol, "level", 500.0, 20000.0)
    return _log_between(symbol, "level", 20.0, 500.0)


_VOLUME_RANGES = {
    InstrumentType.EQUITY: (1e6, 5e7),
    InstrumentType.ETF: (5e5, 5e7),
    InstrumentType.FUND: (1e4, 1e6),
    InstrumentType.INDEX: (1e9, 5e9),
    InstrumentType.CRYPTO: (1e7, 1e10),  # quoted in USD, as crypto venues do
    InstrumentType.FX: (1e5, 1e6),  # tick counts: FX has no consolidated volume
}


def pricing_for(inst: Instrument, universe: Universe) -> Pricing:
    """Pricing for ``inst``; ``universe`` resolves the instruments it tracks or follows."""
    low, high = _VOLUME_RANGES[inst.type]
    volume = math.exp(_log_between(inst.symbol, "volume", low, high))
    close = reference_closes().get(inst.symbol)
    level = math.log(close) if close else _fallback_level(inst)
    peg = _PEGS.get(inst.symbol)
    tracked = universe.get(peg) if peg else None
    same_calendar = tracked is not None and _CALENDARS.get(tracked.type, XNYS) == _CALENDARS.get(
        inst.type, XNYS
    )
    model = _own_model(tracked if tracked is not None and same_calendar else inst, universe)
    ordinals, logs = _split_table(inst.symbol)
    return Pricing(inst.symbol, model, level, volume, inst.type, ordinals, logs)


def tracked_symbol(symbol: str) -> str | None:
    """The symbol whose path ``symbol`` follows, if it follows one."""
    return _PEGS.get(symbol)

"""Per-instrument parameters of the simulated market: price level, volatility, drift, volume.

Levels are the prices at the middle session of ``ANCHOR_YEAR`` (mid-2024). Well-known instruments
have plausible hand-set anchors; every other instrument draws its level and volatility from a
hash of its symbol within a range that suits its kind. Instruments that track another one
(SPY and ^GSPC, WBTC and BTC, ...) reuse that one's path scaled by a ratio, so their charts agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flint.kit.calendar import CRYPTO, FX, XNYS
from flint.market.providers._simpath import PathModel, unit
from flint.market.providers.types import Instrument, InstrumentType


@dataclass(frozen=True, slots=True)
class Pricing:
    """Everything the simulator needs to price one instrument."""

    model: PathModel
    log_level: float
    base_volume: float
    kind: InstrumentType


# symbol: (level in mid-2024, annual volatility, annual median growth)
_INDICES = {
    "^GSPC": (5000.0, 0.16, 0.08),
    "^DJI": (39000.0, 0.15, 0.07),
    "^IXIC": (16000.0, 0.18, 0.10),
    "^RUT": (2000.0, 0.18, 0.07),
}
_PINNED_INDICES = {"^VIX": (16.0, 0.55)}
_FX_LEVELS = {
    "EURUSD=X": 1.08,
    "GBPUSD=X": 1.27,
    "USDJPY=X": 150.0,
    "USDCHF=X": 0.88,
    "AUDUSD=X": 0.66,
    "USDCAD=X": 1.35,
    "NZDUSD=X": 0.61,
    "EURGBP=X": 0.85,
    "EURJPY=X": 162.0,
}
# fmt: off
_CRYPTO_LEVELS = {
    "BTC-USD": 60000.0, "ETH-USD": 3000.0, "BNB-USD": 550.0, "SOL-USD": 150.0,
    "XRP-USD": 0.55, "TRX-USD": 0.12, "DOGE-USD": 0.12, "ADA-USD": 0.45, "LINK-USD": 14.0,
    "XLM-USD": 0.11, "HYPE-USD": 20.0, "BCH-USD": 400.0, "SUI-USD": 1.5, "AVAX-USD": 30.0,
    "LEO-USD": 6.0, "LTC-USD": 75.0, "HBAR-USD": 0.08, "SHIB-USD": 0.00002, "XMR-USD": 160.0,
    "TON-USD": 5.5, "DOT-USD": 6.5, "UNI-USD": 8.0, "AAVE-USD": 120.0, "NEAR-USD": 5.0,
    "PEPE-USD": 0.00001, "ETC-USD": 25.0, "APT-USD": 8.0, "ICP-USD": 9.0, "ALGO-USD": 0.17,
    "ATOM-USD": 7.5, "VET-USD": 0.03, "KAS-USD": 0.14, "PAXG-USD": 2300.0, "BONK-USD": 0.00002,
}
# fmt: on
# Stablecoins and tokenised cash funds hold their peg: pinned paths around 1 USD.
_STABLECOINS = frozenset(
    (
        "USDT",
        "USDC",
        "USDE",
        "USDS",
        "USDT0",
        "DAI",
        "PYUSD",
        "USD1",
        "USDF",
        "USDTB",
        "BFUSD",
        "BUIDL",
    )
)
# Yield-bearing dollar tokens drift up slowly at near-zero volatility.
_YIELD_STABLECOINS = frozenset(("SUSDE", "SUSDS", "SYRUPUSDC"))
# symbol: (tracked symbol, price ratio to it)
# fmt: off
_PEGS = {
    "SPY": ("^GSPC", 0.0998), "IVV": ("^GSPC", 0.1003), "VOO": ("^GSPC", 0.0917),
    "SPLG": ("^GSPC", 0.0117), "DIA": ("^DJI", 0.01), "IWM": ("^RUT", 0.0985),
    "QQQ": ("^IXIC", 0.0274), "QQQM": ("^IXIC", 0.0113),
    "WBTC-USD": ("BTC-USD", 0.999), "CBBTC-USD": ("BTC-USD", 1.0), "LBTC-USD": ("BTC-USD", 1.0),
    "STETH-USD": ("ETH-USD", 0.999), "WETH-USD": ("ETH-USD", 1.0), "WSTETH-USD": ("ETH-USD", 1.18),
    "WBETH-USD": ("ETH-USD", 1.05), "WEETH-USD": ("ETH-USD", 1.06), "RETH-USD": ("ETH-USD", 1.12),
    "OSETH-USD": ("ETH-USD", 1.05), "LSETH-USD": ("ETH-USD", 1.05), "RSETH-USD": ("ETH-USD", 1.04),
    "EZETH-USD": ("ETH-USD", 1.03), "JITOSOL-USD": ("SOL-USD", 1.2), "BNSOL-USD": ("SOL-USD", 1.05),
    "WBNB-USD": ("BNB-USD", 1.0), "KHYPE-USD": ("HYPE-USD", 1.0), "XAUT-USD": ("PAXG-USD", 1.0),
}
# fmt: on
# ETF category (or name) fragment: (volatility range, median growth), first match wins.
_ETF_RULES: tuple[tuple[str, tuple[float, float], float], ...] = (
    ("Short VIX", (0.5, 0.6), 0.05),
    ("VIX", (0.9, 1.2), -0.6),
    ("Inverse", (0.5, 0.7), -0.25),
    ("Leveraged", (0.6, 0.9), 0.0),
    ("Digital Assets", (0.6, 0.8), 0.2),
    ("Ultrashort", (0.003, 0.008), 0.04),
    ("Short", (0.015, 0.03), 0.03),
    ("Long Government", (0.12, 0.16), 0.02),
    ("Bond", (0.04, 0.08), 0.025),
    ("Government", (0.04, 0.08), 0.025),
    ("Muni", (0.04, 0.07), 0.025),
    ("Commodities", (0.13, 0.17), 0.05),
    ("Energy", (0.25, 0.32), 0.05),
    ("Biotechnology", (0.3, 0.4), 0.05),
    ("Technology", (0.22, 0.3), 0.1),
    ("Real Estate", (0.18, 0.22), 0.05),
    ("Derivative Income", (0.08, 0.12), 0.06),
)
_CALENDARS = {InstrumentType.CRYPTO: CRYPTO, InstrumentType.FX: FX}


def _between(symbol: str, what: str, low: float, high: float) -> float:
    return low + (high - low) * unit(symbol, what)


def _log_between(symbol: str, what: str, low: float, high: float) -> float:
    return _between(symbol, what, math.log(low), math.log(high))


def _own_model(inst: Instrument) -> tuple[PathModel, float]:
    """The path and anchor log level of an instrument that tracks nothing else."""
    symbol, kind = inst.symbol, inst.type
    calendar = _CALENDARS.get(kind, XNYS)
    if kind is InstrumentType.INDEX and symbol in _INDICES:
        level, sigma, mu = _INDICES[symbol]
        return PathModel(symbol, calendar, sigma, mu), math.log(level)
    if kind is InstrumentType.INDEX and symbol in _PINNED_INDICES:
        level, sigma = _PINNED_INDICES[symbol]
        return PathModel(symbol, calendar, sigma, 0.0, pinned=True), math.log(level)
    if kind is InstrumentType.FX:
        level = _FX_LEVELS.get(symbol) or math.exp(_log_between(symbol, "level", 0.5, 2.0))
        return PathModel(symbol, calendar, _between(symbol, "vol", 0.06, 0.10), 0.0), math.log(
            level
        )
    if kind is InstrumentType.CRYPTO:
        base = symbol.removesuffix("-USD")
        if base in _STABLECOINS:
            return PathModel(symbol, calendar, 0.004, 0.0, pinned=True), 0.0
        if base in _YIELD_STABLECOINS:
            level = _log_between(symbol, "level", 1.02, 1.2)
            return PathModel(symbol, calendar, 0.01, 0.05), level
        sigma = 0.15 if base == "PAXG" else _between(symbol, "vol", 0.6, 0.9)
        level = _CRYPTO_LEVELS.get(symbol) or math.exp(_log_between(symbol, "level", 0.05, 50.0))
        return PathModel(symbol, calendar, sigma, 0.05 if base == "PAXG" else 0.2), math.log(level)
    level = _log_between(symbol, "level", 20.0, 500.0)
    if kind is InstrumentType.EQUITY:
        return PathModel(symbol, calendar, _between(symbol, "vol", 0.2, 0.45), 0.07), level
    if kind is InstrumentType.INDEX:
        level = _log_between(symbol, "level", 500.0, 20000.0)
        return PathModel(symbol, calendar, _between(symbol, "vol", 0.15, 0.18), 0.07), level
    text = f"{inst.sector or ''} {inst.name}"
    for fragment, (low, high), mu in _ETF_RULES:
        if fragment in text:
            return PathModel(symbol, calendar, _between(symbol, "vol", low, high), mu), level
    return PathModel(symbol, calendar, _between(symbol, "vol", 0.12, 0.2), 0.07), level


_VOLUME_RANGES = {
    InstrumentType.EQUITY: (1e6, 5e7),
    InstrumentType.ETF: (5e5, 5e7),
    InstrumentType.FUND: (1e4, 1e6),
    InstrumentType.INDEX: (1e9, 5e9),
    InstrumentType.CRYPTO: (1e7, 1e10),  # quoted in USD, as crypto venues do
    InstrumentType.FX: (1e5, 1e6),  # tick counts: FX has no consolidated volume
}


def pricing_for(inst: Instrument, tracked: Instrument | None = None) -> Pricing:
    """Pricing for ``inst``; ``tracked`` is the instrument it pegs to, when there is one."""
    low, high = _VOLUME_RANGES[inst.type]
    volume = math.exp(_log_between(inst.symbol, "volume", low, high))
    if tracked is not None and inst.symbol in _PEGS:
        model, level = _own_model(tracked)
        if model.calendar == _CALENDARS.get(inst.type, XNYS):
            ratio = _PEGS[inst.symbol][1]
            return Pricing(model, level + math.log(ratio), volume, inst.type)
    model, level = _own_model(inst)
    return Pricing(model, level, volume, inst.type)


def tracked_symbol(symbol: str) -> str | None:
    """The symbol whose path ``symbol`` follows, if it follows one."""
    peg = _PEGS.get(symbol)
    return peg[0] if peg else None

"""The built-in instrument universe and offline symbol search.

``data/instruments.csv`` (see ``data/README.md`` for provenance) ships inside the package and is
read through ``importlib.resources``, so search works without network access and from an
installed wheel. Its row order is a popularity order that breaks ties between equal matches.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from flint.kit.calendar import CRYPTO, FX, XNYS
from flint.market.providers.types import Instrument, InstrumentType

MAX_SEARCH_LIMIT = 50
_DATA_PACKAGE = "flint.market"
_DATA_DIR, _DATA_FILE = "data", "instruments.csv"

_TOKEN = re.compile(r"[0-9a-z&]+")
_JOINERS = str.maketrans("", "", "'\u2019.")  # "McDonald's" -> "mcdonalds", "U.S." -> "us"

# Match tiers, best first.
_EXACT_SYMBOL, _SYMBOL_PREFIX, _EXACT_NAME, _NAME_WORDS, _NAME_SUBSTRING = range(5)


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.lower().translate(_JOINERS)))


def _symbol_keys(instrument: Instrument) -> frozenset[str]:
    """Spellings a user may type for a symbol: as is, without ``^``/``=X``, crypto base."""
    symbol = instrument.symbol.lower()
    keys = {symbol, symbol.removeprefix("^"), symbol.removesuffix("=x")}
    if instrument.type is InstrumentType.CRYPTO:
        keys.add(symbol.removesuffix("-usd"))
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class _Entry:
    instrument: Instrument
    rank: int
    symbol_keys: frozenset[str]
    name_tokens: tuple[str, ...]
    name_text: str

    def match(self, query: str, words: tuple[str, ...]) -> tuple[int, int] | None:
        """(tier, sub-rank) of this entry for a lower-cased query, or None if it misses."""
        variants = {query, query.replace(".", "-")}
        if variants & self.symbol_keys:
            return _EXACT_SYMBOL, 0
        if any(key.startswith(v) for key in self.symbol_keys for v in variants):
            return _SYMBOL_PREFIX, 0
        if not words:
            return None
        text = " ".join(words)
        if text == self.name_text:
            return _EXACT_NAME, 0
        if all(any(t.startswith(w) for t in self.name_tokens) for w in words):
            leads = bool(self.name_tokens) and self.name_tokens[0].startswith(words[0])
            return _NAME_WORDS, 0 if leads else 1
        if text in self.name_text:
            return _NAME_SUBSTRING, 0
        return None


class Universe:
    """An ordered, immutable set of instruments with lookup and ranked search."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self._entries = tuple(
            _Entry(inst, rank, _symbol_keys(inst), _tokens(inst.name), " ".join(_tokens(inst.name)))
            for rank, inst in enumerate(instruments)
        )
        self._by_symbol = {inst.symbol.upper(): inst for inst in instruments}
        if len(self._by_symbol) != len(instruments):
            raise ValueError("instrument symbols must be unique")

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Instrument]:
        return (entry.instrument for entry in self._entries)

    def get(self, symbol: str) -> Instrument | None:
        """Case-insensitive lookup; ``BRK.B`` also finds the Yahoo spelling ``BRK-B``."""
        key = symbol.strip().upper()
        return self._by_symbol.get(key) or self._by_symbol.get(key.replace(".", "-"))

    def instrument(self, symbol: str) -> Instrument | None:
        """`get`, under the name `MarketData` answers it by, so either can say what a symbol
        is (a performance process has the universe and no providers)."""
        return self.get(symbol)

    def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """Instruments matching ``query``, best first, at most ``limit`` (clamped to 1..50).

        Tiers: exact symbol, symbol prefix, exact name, every query word starting some name
        word (names whose first word matches first), then the query inside the name. Ties go
        to the more popular instrument (earlier row in the data file).
        """
        needle = query.strip().lower()
        if not needle:
            return []
        limit = max(1, min(MAX_SEARCH_LIMIT, limit))
        words = _tokens(needle)
        scored: list[tuple[int, int, int, Instrument]] = []
        for entry in self._entries:
            found = entry.match(needle, words)
            if found is not None:
                scored.append((found[0], found[1], entry.rank, entry.instrument))
        scored.sort(key=lambda item: item[:3])
        return [item[3] for item in scored[:limit]]


def parse_instruments(text: str) -> list[Instrument]:
    """Parse the instruments CSV format (``#`` lines are comments, empty sector is None)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [
        Instrument(
            symbol=row["symbol"],
            name=row["name"],
            type=InstrumentType(row["type"]),
            exchange=row["exchange"],
            currency=row["currency"],
            sector=row["sector"] or None,
        )
        for row in csv.DictReader(lines)
    ]


@lru_cache(maxsize=1)
def load_universe() -> Universe:
    """The packaged universe, parsed once per process."""
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR).joinpath(_DATA_FILE)
    return Universe(parse_instruments(resource.read_text(encoding="utf-8")))


def calendar_for(kind: InstrumentType) -> str:
    """The trading calendar of an instrument kind: crypto every day, FX on weekdays, the rest
    on the NYSE calendar (the universe is US-listed)."""
    return {InstrumentType.CRYPTO: CRYPTO, InstrumentType.FX: FX}.get(kind, XNYS)

from collections import Counter

import pytest

from flint.market.providers.simulated import SimulatedMarket
from flint.market.providers.types import Instrument, InstrumentType
from flint.market.universe import Universe, load_universe, parse_instruments


def symbols(found: list[Instrument]) -> list[str]:
    return [inst.symbol for inst in found]


def test_universe_has_at_least_500_instruments_of_every_simulated_kind() -> None:
    universe = load_universe()
    kinds = Counter(inst.type for inst in universe)
    assert len(universe) >= 500
    assert kinds[InstrumentType.EQUITY] >= 500
    assert kinds[InstrumentType.ETF] >= 100
    assert kinds[InstrumentType.CRYPTO] >= 90
    assert kinds[InstrumentType.INDEX] == 5
    assert kinds[InstrumentType.FX] == 9


@pytest.mark.parametrize(
    ("symbol", "kind", "currency"),
    [
        ("^GSPC", InstrumentType.INDEX, "USD"),
        ("^IXIC", InstrumentType.INDEX, "USD"),
        ("^DJI", InstrumentType.INDEX, "USD"),
        ("^RUT", InstrumentType.INDEX, "USD"),
        ("^VIX", InstrumentType.INDEX, "USD"),
        ("BTC-USD", InstrumentType.CRYPTO, "USD"),
        ("ETH-USD", InstrumentType.CRYPTO, "USD"),
        ("EURUSD=X", InstrumentType.FX, "USD"),
        ("USDJPY=X", InstrumentType.FX, "JPY"),
        ("EURGBP=X", InstrumentType.FX, "GBP"),
        ("AAPL", InstrumentType.EQUITY, "USD"),
        ("SPY", InstrumentType.ETF, "USD"),
    ],
)
def test_key_instruments_are_present_with_kind_and_currency(
    symbol: str, kind: InstrumentType, currency: str
) -> None:
    inst = load_universe().get(symbol)
    assert inst is not None
    assert (inst.type, inst.currency) == (kind, currency)
    assert inst.name
    assert inst.exchange


def test_instrument_carries_name_exchange_and_sector() -> None:
    market = SimulatedMarket()
    assert market.instrument("aapl") == Instrument(
        "AAPL", "Apple Inc.", InstrumentType.EQUITY, "NASDAQ", "USD", "Information Technology"
    )
    jpm = market.instrument("JPM")
    assert jpm is not None
    assert jpm.exchange == "NYSE"
    gspc = market.instrument("^GSPC")
    assert gspc is not None
    assert (gspc.name, gspc.sector) == ("S&P 500", None)


def test_share_classes_use_yahoo_spelling_and_accept_the_dotted_one() -> None:
    universe = load_universe()
    assert universe.get("BRK.B") == universe.get("brk-b")
    assert universe.get("BRK-B") is not None
    assert universe.get("NOPE") is None


async def test_search_apple_finds_aapl_first() -> None:
    assert symbols(await SimulatedMarket().search("apple"))[0] == "AAPL"


async def test_search_symbol_prefix_msf_puts_msft_first() -> None:
    assert symbols(await SimulatedMarket().search("MSF"))[0] == "MSFT"


async def test_search_bitcoin_finds_btc_usd_first() -> None:
    found = symbols(await SimulatedMarket().search("bitcoin"))
    assert found[0] == "BTC-USD"
    assert "IBIT" in found


async def test_search_s_and_p_500_puts_the_index_and_spy_at_the_top() -> None:
    found = symbols(await SimulatedMarket().search("S&P 500"))
    assert found[0] == "^GSPC"
    assert "SPY" in found[:3]


async def test_search_exact_symbol_beats_prefix_and_name_matches() -> None:
    found = symbols(await SimulatedMarket().search("ba"))
    assert found[0] == "BA"
    assert "BAC" in found


async def test_search_is_case_insensitive_and_understands_symbol_spellings() -> None:
    market = SimulatedMarket()
    assert symbols(await market.search("aapl"))[0] == "AAPL"
    assert symbols(await market.search("btc"))[0] == "BTC-USD"
    assert symbols(await market.search("gspc"))[0] == "^GSPC"
    assert symbols(await market.search("eurusd"))[0] == "EURUSD=X"
    assert symbols(await market.search("brk.b"))[0] == "BRK-B"


async def test_search_needs_every_query_word_to_start_a_name_word() -> None:
    market = SimulatedMarket()
    assert symbols(await market.search("eli lilly"))[0] == "LLY"
    assert symbols(await market.search("coca cola"))[0] == "KO"
    assert symbols(await market.search("mcdonalds"))[0] == "MCD"
    assert await market.search("apple zebra") == []


async def test_search_falls_back_to_substrings_of_names() -> None:
    found = symbols(await SimulatedMarket().search("soft"))
    assert "MSFT" in found


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
async def test_search_with_empty_query_returns_nothing(query: str) -> None:
    assert await SimulatedMarket().search(query) == []


async def test_search_limit_is_clamped_between_1_and_50() -> None:
    market = SimulatedMarket()
    assert len(await market.search("a", limit=0)) == 1
    assert len(await market.search("a", limit=-5)) == 1
    assert len(await market.search("a", limit=1000)) == 50
    assert len(await market.search("a", limit=7)) == 7


def test_parse_instruments_skips_comments_and_maps_empty_sector_to_none() -> None:
    text = (
        "# provenance line\n"
        "symbol,name,type,exchange,currency,sector\n"
        "ZZZ,Zed Corp,equity,NYSE,USD,\n"
        "ZZ-USD,Zed Coin,crypto,CCC,USD,Payments\n"
    )
    parsed = parse_instruments(text)
    assert parsed == [
        Instrument("ZZZ", "Zed Corp", InstrumentType.EQUITY, "NYSE", "USD", None),
        Instrument("ZZ-USD", "Zed Coin", InstrumentType.CRYPTO, "CCC", "USD", "Payments"),
    ]
    assert symbols(Universe(parsed).search("zed")) == ["ZZZ", "ZZ-USD"]


def test_universe_rejects_duplicate_symbols() -> None:
    twice = [Instrument("ZZZ", "Zed", InstrumentType.EQUITY, "NYSE", "USD")] * 2
    with pytest.raises(ValueError, match="unique"):
        Universe(twice)

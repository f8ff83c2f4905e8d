"""The simulated market as a world: real levels, volatility and correlation by asset class and
sector, real splits and dividends, and the same world on every machine."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import combinations, pairwise

import numpy as np
import pytest

from flint.market.providers._simdata import reference_date, splits
from flint.market.providers.simulated import CorporateAction, SimulatedMarket
from flint.market.providers.types import Interval

LATER = datetime(2050, 1, 1, tzinfo=UTC)
TECH = ("AAPL", "MSFT", "ORCL", "ADBE", "CSCO", "INTU")
ENERGY = ("XOM", "CVX", "COP", "EOG", "SLB", "OXY")


def adjusted_returns(symbol: str, start: date, end: date) -> dict[date, float]:
    """Daily log returns of the split- and dividend-adjusted close."""
    bars = asyncio.run(SimulatedMarket().history(symbol, start, end, Interval.D1, now=LATER))
    closes = {bar.timestamp.date(): float(bar.adj_close) for bar in bars}
    days = sorted(closes)
    return {b: float(np.log(closes[b] / closes[a])) for a, b in pairwise(days)}


def correlation(
    a: str, b: str, start: date = date(2010, 1, 1), end: date = date(2024, 12, 31)
) -> float:
    ra, rb = adjusted_returns(a, start, end), adjusted_returns(b, start, end)
    common = sorted(set(ra) & set(rb))
    return float(np.corrcoef([ra[d] for d in common], [rb[d] for d in common])[0, 1])


def yearly_volatility(symbol: str, per_year: int) -> float:
    returns = list(adjusted_returns(symbol, date(2015, 1, 1), date(2024, 12, 31)).values())
    return float(np.std(returns) * np.sqrt(per_year))


def test_the_reference_date_is_the_last_session_of_2024() -> None:
    assert reference_date() == date(2024, 12, 31)


def test_crypto_is_far_more_volatile_than_treasuries() -> None:
    btc, eth = yearly_volatility("BTC-USD", 365), yearly_volatility("ETH-USD", 365)
    tlt, shy = yearly_volatility("TLT", 252), yearly_volatility("SHY", 252)
    spy = yearly_volatility("SPY", 252)
    assert 0.4 < btc < 0.6
    assert btc > 3 * tlt
    assert eth > 3 * tlt
    assert tlt > 3 * shy
    assert shy < spy < btc


def test_stocks_of_one_sector_move_together_more_than_across_sectors() -> None:
    within = [correlation(a, b) for group in (TECH, ENERGY) for a, b in combinations(group, 2)]
    across = [correlation(a, b) for a in TECH[:3] for b in ENERGY[:3]]
    assert min(within) > max(across)
    assert 0.45 < float(np.mean(within)) < 0.75
    assert 0.2 < float(np.mean(across)) < 0.5


def test_index_funds_are_driven_by_the_market_and_sector_funds_by_their_sector() -> None:
    assert correlation("SPY", "VTI") > 0.99  # both follow the market factor
    assert correlation("SPY", "^GSPC") > 0.99
    assert 0.4 < correlation("SPY", "JPM") < 0.8
    assert correlation("XLK", "MSFT") > correlation("XLE", "MSFT") + 0.15
    assert correlation("XLE", "XOM") > correlation("XLK", "XOM") + 0.15
    assert correlation("TQQQ", "QQQ") > 0.99
    assert correlation("SQQQ", "QQQ") < -0.99
    assert abs(correlation("BTC-USD", "TLT")) < 0.1


def test_a_bitcoin_fund_follows_bitcoin_across_calendars() -> None:
    assert correlation("IBIT", "BTC-USD", date(2024, 1, 1), date(2024, 12, 31)) > 0.7


@pytest.mark.parametrize(
    ("symbol", "ex_date", "ratio"),
    [
        ("AAPL", date(2020, 8, 31), 4),
        ("NVDA", date(2021, 7, 20), 4),
        ("NVDA", date(2024, 6, 10), 10),
        ("TSLA", date(2020, 8, 31), 5),
        ("TSLA", date(2022, 8, 25), 3),
        ("GOOGL", date(2022, 7, 18), 20),
        ("AMZN", date(2022, 6, 6), 20),
    ],
)
async def test_splits_happen_on_their_real_dates(symbol: str, ex_date: date, ratio: int) -> None:
    market = SimulatedMarket()
    bars = await market.history(symbol, date(ex_date.year, 1, 1), ex_date, "1d", now=LATER)
    before, on = bars[-2], bars[-1]
    assert on.timestamp.date() == ex_date
    # The price as traded drops by the ratio; the adjusted close moves like any other day.
    assert Decimal("0.8") * ratio < before.close / on.close < Decimal("1.25") * ratio
    assert Decimal("0.8") < before.adj_close / on.adj_close < Decimal("1.25")
    quote = await market.quote(symbol, datetime.combine(ex_date, time(15), UTC))  # in session
    assert abs(quote.previous_close - before.close / ratio) <= Decimal("0.01")
    assert CorporateAction(ex_date, "split", Decimal(ratio)) in market.actions(
        symbol, ex_date, ex_date
    )


async def test_every_split_in_the_calendar_divides_the_price_as_traded() -> None:
    market = SimulatedMarket()
    checked = 0
    for symbol in ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "NFLX", "WMT", "CMG", "AVGO"):
        for split in splits(symbol):
            start = date(split.ex_date.year - 1, 12, 1)
            bars = await market.history(symbol, start, split.ex_date, "1d", now=LATER)
            ratio = bars[-2].close / bars[-1].close
            assert Decimal("0.8") * split.ratio < ratio < Decimal("1.25") * split.ratio, split
            checked += 1
    assert checked >= 30


async def test_adjusted_closes_allow_only_for_what_happened_by_now() -> None:
    market = SimulatedMarket()
    day = date(2020, 8, 27)  # after the ex-date of August 12, before the split of August 31
    then = datetime(2020, 8, 29, tzinfo=UTC)
    (before,) = await market.history("AAPL", day, day, "1d", now=then)
    (later,) = await market.history("AAPL", day, day, "1d", now=datetime(2020, 9, 1, tzinfo=UTC))
    assert before.adj_close == before.close
    assert later.close == before.close
    assert abs(later.adj_close - before.close / 4) <= Decimal("0.01")


async def test_dividends_lower_the_adjusted_close_before_their_ex_date() -> None:
    market = SimulatedMarket()
    ex = date(2024, 3, 14)
    assert CorporateAction(ex, "dividend", Decimal("0.485")) in market.actions("KO", ex, ex)
    now = datetime(2024, 3, 20, tzinfo=UTC)
    bars = await market.history("KO", date(2024, 3, 12), date(2024, 3, 15), "1d", now=now)
    by_day = {bar.timestamp.date(): bar for bar in bars}
    eve = by_day[date(2024, 3, 13)]
    assert abs(eve.adj_close - (eve.close - Decimal("0.485"))) <= Decimal("0.005")
    assert by_day[ex].adj_close == by_day[ex].close
    yearly = market.actions("KO", date(2024, 1, 1), date(2024, 12, 31))
    assert [a.kind for a in yearly] == ["dividend"] * 4
    assert sum(a.value for a in yearly) == Decimal("1.940")
    assert market.actions("TSLA", date(2010, 1, 1), date(2024, 12, 31)) == [
        CorporateAction(date(2020, 8, 31), "split", Decimal(5)),
        CorporateAction(date(2022, 8, 25), "split", Decimal(3)),
    ]


def test_the_same_world_comes_out_of_another_process() -> None:
    symbols = ["AAPL", "IBIT", "EURUSD=X", "TQQQ", "ETH-USD", "KO"]
    script = (
        "import asyncio, json, datetime as d\n"
        "from flint.market.providers.simulated import SimulatedMarket\n"
        "m = SimulatedMarket()\n"
        "now = d.datetime(2030, 1, 1, tzinfo=d.UTC)\n"
        "at = d.datetime(2025, 6, 3, 15, 7, 41, tzinfo=d.UTC)\n"
        f"out = {{s: [[str(b.close), str(b.adj_close), b.volume] for b in asyncio.run(m.history("
        f"s, d.date(2020, 8, 25), d.date(2020, 9, 4), '1d', now=now))] for s in {symbols!r}}}\n"
        f"out['quotes'] = [str(asyncio.run(m.quote(s, at)).price) for s in {symbols!r}]\n"
        "print(json.dumps(out))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "4242")
    ]
    assert runs[0] == runs[1]
    here = json.loads(runs[0])
    assert here["AAPL"][0][0] == GOLDEN_AAPL_2020_08_25
    assert here["quotes"] == GOLDEN_QUOTES


# Recompute these only when the model changes on purpose, and say so in the commit.
GOLDEN_AAPL_2020_08_25 = "291.27"
GOLDEN_QUOTES = ["307.70", "101.74", "1.01254", "143.06", "3811.85", "69.54"]

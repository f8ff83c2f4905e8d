"""The figures beside the metrics (totals, periods, each position's returns, drawdown,
grouped allocation), against Decimal ledgers worked out by hand, pyxirr and quantstats."""

from __future__ import annotations

import datetime as dt
import math
from datetime import date, timedelta
from decimal import Decimal as D

import numpy as np
import pytest
import pyxirr

from flint.market.api import load_universe
from flint.portfolio import allocation, drawdown, holdings, periods
from flint.portfolio.replay import in_currency, replay
from flint.portfolio.symbols import SymbolBook
from flint.portfolio.valuation import Entry, value
from tests.references import GROUP, Deferred

pd = Deferred("pandas")
qs = Deferred("quantstats")

pytestmark = pytest.mark.xdist_group(GROUP)

CLOSES = {
    "AAA": {
        date(2024, 1, 3): 52.0,
        date(2024, 1, 4): 55.0,
        date(2024, 1, 8): 58.0,
        date(2024, 1, 9): 59.0,
        date(2024, 1, 10): 60.0,
    },
    "BBB": {date(2024, 1, 9): 10.5, date(2024, 1, 10): 11.0},
}
LEDGER = [
    Entry(date(2024, 1, 2), "deposit", amount=D(1000)),
    Entry(date(2024, 1, 3), "buy", "AAA", D(10), D(50), fee=D(1)),
    Entry(date(2024, 1, 4), "dividend", "AAA", amount=D(5)),
    Entry(date(2024, 1, 4), "tax", "AAA", amount=D("0.75")),
    Entry(date(2024, 1, 5), "interest", amount=D("0.30")),
    Entry(date(2024, 1, 5), "fee", amount=D(2)),
    Entry(date(2024, 1, 8), "sell", "AAA", D(4), D(60), fee=D(2)),
    Entry(date(2024, 1, 9), "buy", "BBB", D(100), D(10), fee=D("0.5")),
]


def test_totals_come_from_the_decimal_ledger() -> None:
    run = replay(LEDGER, date(2024, 1, 10))
    t = run.totals
    # cash 1000, 499, 503.25 (+5 -0.75), 501.55 (+0.30 -2), 739.55 (+240 -2), then a buy of
    # 1000.50 the cash cannot pay: 260.95 funded from outside, cash 0.
    assert (t.fees, t.taxes, t.interest, t.dividends) == (D("5.5"), D("0.75"), D("0.30"), D(5))
    assert t.realized == D(238) - D(501) * D("0.4")  # 37.6
    assert (t.deposits, t.withdrawals, t.funded) == (D(1000), D(0), D("260.95"))
    assert t.net_contributions == D("1260.95")
    assert run.cash_at_end == 0
    assert run.flows == {date(2024, 1, 2): D(1000), date(2024, 1, 9): D("260.95")}
    aaa, bbb = run.holdings["AAA"], run.holdings["BBB"]
    assert (aaa.quantity, aaa.cost, aaa.cost_ex_fees) == (D(6), D("300.6"), D(300))
    assert (bbb.quantity, bbb.cost, bbb.cost_ex_fees) == (D(100), D("1000.5"), D(1000))
    assert (aaa.dividends, aaa.taxes, aaa.fees, aaa.first_buy) == (
        D(5),
        D("0.75"),
        D(3),
        date(2024, 1, 3),
    )
    # The float series books the same cash, day by day.
    valued = value(LEDGER, CLOSES, date(2024, 1, 10))
    assert [float(run.cash(d)) for d in valued.dates] == pytest.approx(valued.cash.tolist())
    assert valued.flows.sum() == pytest.approx(float(t.net_contributions))


def test_a_window_tallies_only_its_own_days() -> None:
    t = replay(LEDGER, date(2024, 1, 10), since=date(2024, 1, 5)).totals
    assert (t.fees, t.taxes, t.interest, t.dividends) == (D("4.5"), D(0), D("0.30"), D(0))
    assert t.realized == D("37.6")
    assert (t.deposits, t.funded) == (D(0), D("260.95"))


def test_money_takes_its_currency_precision() -> None:
    assert str(in_currency(D("1.005"), "USD")) == "1.00"  # half to even
    assert str(in_currency(D("1234.5"), "JPY")) == "1234"
    assert str(in_currency(D("1.0005"), "KWD")) == "1.000"


# --------------------------------------------------------------------------- periods

START = date(2022, 1, 3)
END = date(2024, 6, 12)  # a Wednesday


def _weekdays(first: date, last: date) -> list[date]:
    return [
        first + timedelta(days=i)
        for i in range((last - first).days + 1)
        if (first + timedelta(days=i)).weekday() < 5
    ]


DAYS = _weekdays(START, END)
SERIES = {d: round(50 + 8 * math.sin(k / 23) + k * 0.02, 2) for k, d in enumerate(DAYS)}
FLOWS = {START: D(10000), date(2023, 3, 1): D(2000), date(2024, 6, 5): D(-500)}


def _ledger() -> list[Entry]:
    return [
        Entry(START, "deposit", amount=D(10000)),
        Entry(START, "buy", "AAA", D(100), D(str(SERIES[START]))),
        Entry(date(2023, 3, 1), "deposit", amount=D(2000)),
        Entry(date(2024, 6, 5), "withdrawal", amount=D(500)),
    ]


def _value(day: date) -> D:
    """By hand: 100 units at the day's close, and the cash."""
    cash = D(10000) - 100 * D(str(SERIES[START]))
    cash += sum((f for d, f in FLOWS.items() if START < d <= day), D(0))
    return 100 * D(str(SERIES[day])) + cash


def _expected(base: date | None) -> tuple[float, float, D]:
    """TWR by chaining each day's return, the period's XIRR (pyxirr), and its net flows."""
    growth, prev = 1.0, 0.0 if base is None else float(_value(base))
    for day in DAYS:
        if base is not None and day <= base:
            continue
        flow = float(FLOWS.get(day, 0))
        now = float(_value(day))
        growth *= now / (prev + flow)
        prev = now
    flows = {d: f for d, f in FLOWS.items() if base is None or d > base}
    when = ([] if base is None else [base]) + list(flows) + [END]
    amounts = ([] if base is None else [-float(_value(base))]) + [-float(f) for f in flows.values()]
    rate = pyxirr.xirr(when, [*amounts, float(_value(END))])
    return growth - 1.0, rate, sum(flows.values(), D(0))


@pytest.mark.parametrize(
    ("key", "base"),
    [
        ("1D", date(2024, 6, 11)),
        ("WTD", date(2024, 6, 7)),  # the Friday before the week
        ("MTD", date(2024, 5, 31)),
        ("YTD", date(2023, 12, 29)),  # the last session of 2023
        ("1Y", date(2023, 6, 12)),
        ("3Y", None),  # reaches before the first day: MAX
        ("5Y", None),
        ("MAX", None),
    ],
)
def test_every_period_at_once(key: str, base: date | None) -> None:
    valued = value(_ledger(), {"AAA": SERIES}, END)
    got = periods.table(valued, replay(_ledger(), END), None, END, "USD")[key]
    twr, rate, net = _expected(base)
    start = base or START
    days = (END - start).days
    assert got.start == start
    assert got.days == days
    assert got.twr == pytest.approx(twr, rel=1e-10)
    assert got.mwr == pytest.approx((1 + rate) ** (days / 365) - 1, rel=1e-7)
    assert got.start_value == (0 if base is None else in_currency(_value(base), "USD"))
    assert got.end_value == in_currency(_value(END), "USD")
    assert got.net_flows == net
    assert got.absolute_gain == got.end_value - got.start_value - net
    if days >= 365:
        assert got.annualized_mwr == pytest.approx(rate, rel=1e-7)  # pyxirr stops near 1e-9
        assert got.annualized_twr == pytest.approx((1 + twr) ** (365 / days) - 1, rel=1e-10)
    else:
        assert got.annualized_mwr is None
        assert got.annualized_twr is None


def test_periods_stay_inside_a_window() -> None:
    valued = value(_ledger(), {"AAA": SERIES}, END)
    window = date(2024, 1, 15)  # a Monday: it opens on Friday's close
    table = periods.table(valued, replay(_ledger(), END, window), window, END, "USD")
    for key in ("YTD", "1Y", "3Y", "MAX"):
        assert table[key].start == date(2024, 1, 12)
        assert table[key].start_value == in_currency(_value(date(2024, 1, 12)), "USD")
        assert table[key].twr == pytest.approx(_expected(date(2024, 1, 12))[0], rel=1e-10)
        assert table[key].annualized_twr is None
    assert table["MTD"].start == date(2024, 5, 31)


# --------------------------------------------------------------------------- positions


def test_a_position_has_its_own_returns() -> None:
    closes = {"AAA": {date(2024, 1, 2): 100.0, date(2024, 1, 3): 110.0, date(2024, 1, 4): 120.0}}
    ledger = [
        Entry(date(2024, 1, 2), "deposit", amount=D(2000)),
        Entry(date(2024, 1, 2), "buy", "AAA", D(10), D(100), fee=D(1)),
        Entry(date(2024, 1, 3), "dividend", "AAA", amount=D(5)),
        Entry(date(2024, 1, 4), "sell", "AAA", D(10), D(120), fee=D(1)),
    ]
    end = date(2024, 1, 4)
    valued = value(ledger, closes, end)
    run = replay(ledger, end)
    got = holdings.returns(valued, run, periods.opening(valued, None))["AAA"]
    # In 1001 at the start of day 0 (worth 1000 at its close); day 1 worth 1100 and pays 5;
    # day 2 sold for 1199 at its close.
    assert got.twr == pytest.approx((1000 / 1001) * (1105 / 1000) * (1199 / 1100) - 1, rel=1e-12)
    rate = pyxirr.xirr([date(2024, 1, 2), date(2024, 1, 3), end], [-1001, 5, 1199])
    assert got.mwr == pytest.approx((1 + rate) ** (2 / 365) - 1, rel=1e-9)
    assert got.irr is None  # two days are not a year
    # A window from the 3rd opens on the 2nd's close: 1000 put in, 5 and 1199 out.
    later = replay(ledger, end, date(2024, 1, 3))
    opened = holdings.returns(valued, later, periods.opening(valued, date(2024, 1, 3)))["AAA"]
    assert opened.twr == pytest.approx((1105 / 1000) * (1199 / 1100) - 1, rel=1e-12)
    rate = pyxirr.xirr([date(2024, 1, 2), date(2024, 1, 3), end], [-1000, 5, 1199])
    assert opened.mwr == pytest.approx((1 + rate) ** (2 / 365) - 1, rel=1e-9)
    book = SymbolBook(load_universe(), {})
    (shut,) = holdings.closed(run, book, {"AAA": got}, "USD")
    assert shut.realized_pnl == D("198.00")  # 1199 less the 1001 cost
    assert (shut.dividends, shut.result, shut.closed_on) == (D("5.00"), D("203.00"), end)


def test_allocation_groups_by_sector_currency_and_asset_class() -> None:
    ledger = [
        Entry(date(2024, 1, 2), "deposit", amount=D(5000)),
        Entry(date(2024, 1, 2), "buy", "AAPL", D(2), D(100)),
        Entry(date(2024, 1, 2), "buy", "MSFT", D(1), D(300)),
        Entry(date(2024, 1, 2), "buy", "SPY", D(1), D(400)),
        Entry(date(2024, 1, 2), "buy", "BTC-USD", D("0.01"), D(40000)),
    ]
    run = replay(ledger, date(2024, 1, 2))
    prices = {"AAPL": 110.0, "MSFT": 310.0, "SPY": 410.0, "BTC-USD": 41000.0}
    book = SymbolBook(load_universe(), {})
    by_sector = {
        g.key: (g.value, g.symbols) for g in allocation.groups(run, prices, book, "sector", "USD")
    }
    assert by_sector == {
        "Information Technology": (D("530.00"), ["AAPL", "MSFT"]),
        "Large Blend": (D("410.00"), ["SPY"]),
        None: (D("410.00"), ["BTC-USD"]),
        "Cash": (D("3700.00"), ["USD"]),
    }
    by_class = allocation.groups(run, prices, book, "assetClass", "USD")
    assert [(g.key, g.value) for g in by_class] == [
        ("cash", D("3700.00")),
        ("equity", D("530.00")),
        ("crypto", D("410.00")),
        ("etf", D("410.00")),
    ]
    assert sum(g.weight or 0 for g in by_class) == pytest.approx(1.0)
    (usd,) = allocation.groups(run, prices, book, "currency", "USD")
    assert (usd.key, usd.value, usd.weight) == ("USD", D("5050.00"), 1.0)


# --------------------------------------------------------------------------- drawdown

DAY = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]


def test_drawdown_recovered_current_and_longest_by_hand() -> None:
    # Index 1 (base), 1 (day 0), 1.1, 0.88, 0.95, 1.11, 1.05: the worst (-20%) from 1.1 on
    # day 1 to day 2, back above 1.1 on day 4; now 1.05 / 1.11 - 1 since day 4.
    flows = [100.0, 0, 0, 0, 0, 0]
    out = drawdown.figures(np.array([100.0, 110, 88, 95, 111, 105]), np.array(flows), DAY[:6])
    assert out.max == pytest.approx(-0.2)
    assert (out.max_start, out.max_end, out.max_recovered_on) == (DAY[1], DAY[2], DAY[4])
    assert out.days_to_recover == 2
    assert out.current == pytest.approx(105 / 111 - 1)
    assert out.current_since == DAY[4]
    assert (out.longest_start, out.longest_end, out.longest_days) == (DAY[1], DAY[4], 3)


def test_an_ongoing_drawdown_can_be_the_longest() -> None:
    values = np.array([100.0, 110, 99, 105, 112, 100, 90, 95, 92])
    out = drawdown.figures(values, np.array([100.0] + [0] * 8), DAY[:9])
    assert out.max == pytest.approx(90 / 112 - 1)
    assert (out.max_start, out.max_end, out.max_recovered_on) == (DAY[4], DAY[6], None)
    assert out.days_to_recover is None
    assert (out.longest_start, out.longest_end, out.longest_days) == (DAY[4], None, 4)


@pytest.mark.parametrize("count", [300, 400])  # the worst recovered; still under water
def test_drawdown_agrees_with_quantstats(count: int) -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.0005, 0.02, count)
    dates = [dt.date(2020, 1, 1) + timedelta(days=i) for i in range(len(r) + 1)]
    values = 100 * np.concatenate([[1.0], np.cumprod(1 + r)])
    out = drawdown.figures(values, np.zeros(len(values)), dates)
    returns = pd.Series(r, index=pd.to_datetime(dates[1:]))
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(returns))
    assert out.max == pytest.approx(qs.stats.max_drawdown(returns), rel=1e-12)
    # quantstats dates a drawdown by its first and last day under water.
    longest = details.sort_values("days").iloc[-1]
    assert out.longest_start == pd.Timestamp(longest["start"]).date() - timedelta(days=1)
    if out.longest_end is not None:  # quantstats counts from its first day to its last
        assert out.longest_end == pd.Timestamp(longest["end"]).date() + timedelta(days=1)
        assert out.longest_days == int(longest["days"]) + 1
    else:  # ... which is the series' last while it lasts
        assert out.longest_days == int(longest["days"])
    worst = details.sort_values("max drawdown").iloc[0]
    last_under = pd.Timestamp(worst["end"]).date()
    recovered = None if last_under == dates[-1] else last_under + timedelta(days=1)
    assert out.max_recovered_on == recovered


@pytest.mark.parametrize("seed", range(5))
def test_the_decimal_replay_books_what_the_float_series_books(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    closes = {s: {d: round(float(rng.uniform(5, 50)), 2) for d in days} for s in ("AAA", "BBB")}
    held = {"AAA": D(0), "BBB": D(0)}
    ledger = []
    for day in sorted(rng.choice(len(days), 40).tolist()):
        kind = str(rng.choice(["deposit", "withdrawal", "buy", "sell", "tax", "fee", "interest"]))
        symbol = str(rng.choice(["AAA", "BBB"]))
        money = D(str(round(float(rng.uniform(1, 500)), 2)))
        units = D(int(rng.integers(1, 20)))
        price, fee = D(str(closes[symbol][days[day]])), D(str(round(float(rng.uniform(0, 2)), 2)))
        if kind == "buy":
            held[symbol] += units
            ledger.append(Entry(days[day], "buy", symbol, units, price, fee=fee))
        elif kind == "sell" and held[symbol] >= units:
            held[symbol] -= units
            ledger.append(Entry(days[day], "sell", symbol, units, price, fee=fee))
        elif kind != "sell":
            ledger.append(Entry(days[day], kind, amount=money))
    valued = value(ledger, closes, days[-1])
    run = replay(ledger, days[-1])
    assert [float(run.cash(d)) for d in valued.dates] == pytest.approx(valued.cash.tolist())
    flows = [float(run.flows.get(d, 0)) for d in valued.dates]
    assert flows == pytest.approx(valued.flows.tolist())
    assert run.totals.realized == valued.realized
    assert {s: h.cost for s, h in run.holdings.items() if h.quantity} == {
        s: p.cost for s, p in valued.positions.items()
    }

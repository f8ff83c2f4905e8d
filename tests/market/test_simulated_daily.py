"""The simulated market's daily bars, made a year of arrays at a time (`_daily_bars`), are the
bars the per-session path makes (`_adjusted` over `_completed_days`): every price, volume,
timestamp and adjusted close, with splits, dividends, 24/7 calendars, prices below 10 and a
``now`` inside a session."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from flint.market.providers import simulated
from flint.market.providers.simulated import SimulatedMarket

MARKET = SimulatedMarket()
# Splits (AAPL, NVDA), dividends (KO, XOM), a price below 10 (F), crypto (BTC-USD), a
# currency pair (EURUSD=X), an index (^VIX), a pinned stablecoin (USDT-USD), a fund (SPY).
SYMBOLS = ["AAPL", "NVDA", "KO", "XOM", "F", "BTC-USD", "EURUSD=X", "^VIX", "USDT-USD", "SPY"]


def both(symbol: str, start: date, end: date, now: datetime) -> tuple[list[object], list[object]]:
    pricing = MARKET._resolve(symbol)[1]
    days = simulated._completed_days(pricing, start, end, now)
    return simulated._daily_bars(pricing, start, end, now), simulated._adjusted(pricing, days, now)


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.sampled_from(SYMBOLS),
    start=st.dates(date(1995, 1, 1), date(2026, 6, 30)),
    days=st.integers(0, 4000),
    now=st.datetimes(datetime(2000, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
)
def test_the_daily_bars_are_the_per_session_bars(
    symbol: str, start: date, days: int, now: datetime
) -> None:
    fast, slow = both(symbol, start, start + timedelta(days=days), now)
    assert fast == slow


def test_a_decade_ending_mid_session_with_splits_and_dividends() -> None:
    now = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # New York's session still open
    for symbol in SYMBOLS:
        fast, slow = both(symbol, date(2016, 12, 3), date(2026, 12, 3), now)
        assert len(fast) > 2_500
        assert fast == slow, symbol
    aapl, _ = both("AAPL", date(2016, 12, 3), date(2026, 12, 3), now)
    assert any(bar.adj_close != bar.close for bar in aapl)  # type: ignore[attr-defined]

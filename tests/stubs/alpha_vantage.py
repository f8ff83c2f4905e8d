"""A local Alpha Vantage: ``GET /query?function=...&apikey=...`` as the vendor answers it.

It checks the API key the way Alpha Vantage does (HTTP 200 with an ``Error Message``) and the
key's plan: :data:`API_KEY` is a free key (the default, as most keys are), which gets the
premium notices for TIME_SERIES_DAILY_ADJUSTED and for ``outputsize=full`` on TIME_SERIES_DAILY;
:data:`PREMIUM_KEY` gets everything; ``demo`` only the IBM examples. Throttling is always HTTP
200 with a ``Note`` or ``Information`` body, never a 429. Daily series honour
``outputsize=compact`` (the latest 100 days). It serves
recorded bodies (``samples/``: MSFT quote, IBM daily adjusted, MSFT 1min intraday, "BA" search)
and a few reconstructed ones in the same shapes (AAPL quote and daily, BTC and ETH in USD, EUR/USD
FX), and answers unknown symbols like the vendor: ``"Global Quote": {}`` for a quote, an
``Error Message`` for a series.

Scenarios (see :class:`tests.stubs.server.StubControl`): ``success``; in-band ``note``
(legacy per-minute throttle), ``burst`` and ``daily_limit`` (``Information``), ``premium``
(premium endpoint), ``premium_full`` (outputsize=full), ``demo_key``, ``error_message``;
transport ``500``, ``slow`` (sleeps ``delay`` first),
``html``, ``truncated``; data ``nan``, ``negative``, ``missing`` (a field dropped),
``inverted`` (high below low) applied to the first bar or the quote.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app

SAMPLES = Path(__file__).parent / "samples"
API_KEY = "test-av-key"
"""A free key: the stub's default, as most keys are."""
PREMIUM_KEY = "test-av-premium-key"
DEMO_KEY = "demo"
KEYS = {API_KEY: "free", PREMIUM_KEY: "premium", DEMO_KEY: "demo"}
COMPACT_SIZE = 100


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


QUOTES: dict[str, dict[str, str]] = {
    "MSFT": sample("alphavantage_global_quote.json")["Global Quote"],
    "AAPL": {
        "01. symbol": "AAPL",
        "02. open": "189.3300",
        "03. high": "191.0500",
        "04. low": "188.6100",
        "05. price": "190.2900",
        "06. volume": "53704400",
        "07. latest trading day": "2024-06-07",
        "08. previous close": "189.8000",
        "09. change": "0.4900",
        "10. change percent": "0.2582%",
    },
}

_IBM = sample("alphavantage_time_series_daily_adjusted.json")
DAILY_ADJUSTED: dict[str, dict[str, Any]] = {
    "IBM": _IBM,
    "AAPL": {
        "Meta Data": {**_IBM["Meta Data"], "2. Symbol": "AAPL"},
        "Time Series (Daily)": {
            "2024-06-07": {
                "1. open": "194.65",
                "2. high": "196.94",
                "3. low": "194.14",
                "4. close": "196.89",
                "5. adjusted close": "196.89",
                "6. volume": "53103912",
                "7. dividend amount": "0.0000",
                "8. split coefficient": "1.0",
            },
            "2024-06-06": {
                "1. open": "195.685",
                "2. high": "196.5",
                "3. low": "194.17",
                "4. close": "194.48",
                "5. adjusted close": "194.48",
                "6. volume": "41181753",
                "7. dividend amount": "0.0000",
                "8. split coefficient": "1.0",
            },
        },
    },
}


def _long_daily(symbol: str, newest: date, sessions: int) -> dict[str, Any]:
    """``sessions`` weekdays of TIME_SERIES_DAILY_ADJUSTED back from ``newest``, in the IBM
    sample's shape (prices drift by a cent a day), for compact-versus-full tests."""
    series: dict[str, dict[str, str]] = {}
    day = newest
    while len(series) < sessions:
        if day.weekday() < 5:
            cents = 15000 + len(series)
            price = f"{cents // 100}.{cents % 100:02d}"
            series[day.isoformat()] = {
                "1. open": price,
                "2. high": price,
                "3. low": price,
                "4. close": price,
                "5. adjusted close": price,
                "6. volume": str(1_000_000 + len(series)),
                "7. dividend amount": "0.0000",
                "8. split coefficient": "1.0",
            }
        day -= timedelta(days=1)
    return {"Meta Data": {**_IBM["Meta Data"], "2. Symbol": symbol}, "Time Series (Daily)": series}


LONG_NEWEST = date(2024, 6, 7)
DAILY_ADJUSTED["SPY"] = _long_daily("SPY", LONG_NEWEST, 300)

INTRADAY: dict[tuple[str, str], dict[str, Any]] = {
    ("MSFT", "1min"): sample("alphavantage_time_series_intraday_1min.json"),
}

CRYPTO: dict[tuple[str, str], dict[str, Any]] = {
    ("BTC", "USD"): {
        "Meta Data": {
            "1. Information": "Daily Prices and Volumes for Digital Currency",
            "2. Digital Currency Code": "BTC",
            "3. Digital Currency Name": "Bitcoin",
            "4. Market Code": "USD",
            "5. Market Name": "United States Dollar",
            "6. Last Refreshed": "2024-05-06 00:00:00",
            "7. Time Zone": "UTC",
        },
        "Time Series (Digital Currency Daily)": {
            "2024-05-06": {
                "1. open": "63890.01000000",
                "2. high": "64500.00000000",
                "3. low": "63100.50000000",
                "4. close": "63344.32000000",
                "5. volume": "1204.51827611",
            },
            "2024-05-05": {
                "1. open": "63984.12000000",
                "2. high": "64590.99000000",
                "3. low": "62950.00000000",
                "4. close": "63890.01000000",
                "5. volume": "1567.09128366",
            },
            "2024-05-04": {
                "1. open": "62890.00000000",
                "2. high": "64450.00000000",
                "3. low": "62600.00000000",
                "4. close": "63984.12000000",
                "5. volume": "2011.75561221",
            },
        },
    },
    # The layout Alpha Vantage used before 2024: prices per market and in USD, market cap.
    ("ETH", "USD"): {
        "Meta Data": {
            "1. Information": "Daily Prices and Volumes for Digital Currency",
            "2. Digital Currency Code": "ETH",
            "3. Digital Currency Name": "Ethereum",
            "4. Market Code": "USD",
            "5. Market Name": "United States Dollar",
            "6. Last Refreshed": "2019-02-19 (end of day)",
            "7. Time Zone": "UTC",
        },
        "Time Series (Digital Currency Daily)": {
            "2019-02-19": {
                "1a. open (USD)": "143.42000000",
                "1b. open (USD)": "143.42000000",
                "2a. high (USD)": "151.48000000",
                "2b. high (USD)": "151.48000000",
                "3a. low (USD)": "142.55000000",
                "3b. low (USD)": "142.55000000",
                "4a. close (USD)": "146.21000000",
                "4b. close (USD)": "146.21000000",
                "5. volume": "1000.00000000",
                "6. market cap (USD)": "146210.00000000",
            },
            "2019-02-18": {
                "1a. open (USD)": "132.88000000",
                "1b. open (USD)": "132.88000000",
                "2a. high (USD)": "143.99000000",
                "2b. high (USD)": "143.99000000",
                "3a. low (USD)": "132.40000000",
                "3b. low (USD)": "132.40000000",
                "4a. close (USD)": "143.42000000",
                "4b. close (USD)": "143.42000000",
                "5. volume": "2000.50000000",
                "6. market cap (USD)": "286907.10000000",
            },
        },
    },
}

FX: dict[tuple[str, str], dict[str, Any]] = {
    ("EUR", "USD"): {
        "Meta Data": {
            "1. Information": "Forex Daily Prices (open, high, low, close)",
            "2. From Symbol": "EUR",
            "3. To Symbol": "USD",
            "4. Output Size": "Compact",
            "5. Last Refreshed": "2024-06-07 21:55:00",
            "6. Time Zone": "UTC",
        },
        "Time Series FX (Daily)": {
            "2024-06-07": {
                "1. open": "1.08950",
                "2. high": "1.09010",
                "3. low": "1.08010",
                "4. close": "1.08020",
            },
            "2024-06-06": {
                "1. open": "1.08670",
                "2. high": "1.09020",
                "3. low": "1.08600",
                "4. close": "1.08950",
            },
        },
    },
}

SEARCH = sample("alphavantage_symbol_search.json")
INVALID_CALL = sample("alphavantage_error_invalid_call.json")
INVALID_KEY = sample("alphavantage_error_invalid_apikey.json")
IN_BAND = {
    "note": sample("alphavantage_note_rate_limit_legacy.json"),
    "burst": sample("alphavantage_information_burst_limit.json"),
    "daily_limit": sample("alphavantage_information_daily_limit.json"),
    "premium": sample("alphavantage_information_premium_endpoint.json"),
    "premium_full": sample("alphavantage_information_premium_outputsize_full.json"),
    "demo_key": sample("alphavantage_information_demo_key.json"),
    "error_message": INVALID_CALL,
}


def _plain_daily(body: dict[str, Any]) -> dict[str, Any]:
    """TIME_SERIES_DAILY: the adjusted series without the adjustment columns."""
    series = {
        day: {
            "1. open": row["1. open"],
            "2. high": row["2. high"],
            "3. low": row["3. low"],
            "4. close": row["4. close"],
            "5. volume": row["6. volume"],
        }
        for day, row in body["Time Series (Daily)"].items()
    }
    meta = {
        **body["Meta Data"],
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
    }
    return {"Meta Data": meta, "Time Series (Daily)": series}


def _intraday(params: dict[str, str]) -> dict[str, Any] | None:
    found = INTRADAY.get((params.get("symbol", ""), params.get("interval", "")))
    if found is None:
        return None
    body = copy.deepcopy(found)
    key = f"Time Series ({params['interval']})"
    month = params.get("month")
    if month:
        body[key] = {t: row for t, row in body[key].items() if t.startswith(month)}
    return body


def _compact(body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """``outputsize=compact`` (the default): the latest 100 days of a daily series."""
    if params.get("outputsize", "compact") != "compact":
        return body
    for key, series in body.items():
        if key.startswith("Time Series") and isinstance(series, dict):
            body[key] = dict(sorted(series.items(), reverse=True)[:COMPACT_SIZE])
    return body


def refusal(params: dict[str, str], plan: str) -> dict[str, Any] | None:
    """What Alpha Vantage answers a key of ``plan`` instead of data, if anything: the demo key
    only serves the documentation's IBM examples; a free key gets the premium notices for
    TIME_SERIES_DAILY_ADJUSTED and for TIME_SERIES_DAILY with ``outputsize=full``."""
    function = params.get("function", "")
    if plan == "demo" and params.get("symbol") != "IBM":
        return IN_BAND["demo_key"]
    if plan == "premium":
        return None
    if function == "TIME_SERIES_DAILY_ADJUSTED":
        return IN_BAND["premium"]
    if function == "TIME_SERIES_DAILY" and params.get("outputsize") == "full":
        return IN_BAND["premium_full"]
    return None


def answer(params: dict[str, str]) -> dict[str, Any]:
    """The body Alpha Vantage gives for ``params`` with a premium key."""
    function, symbol = params.get("function", ""), params.get("symbol", "")
    found: dict[str, Any] | None = None
    if function == "GLOBAL_QUOTE":
        quote = QUOTES.get(symbol)
        return {"Global Quote": copy.deepcopy(quote) if quote else {}}
    if function == "TIME_SERIES_DAILY_ADJUSTED":
        found = DAILY_ADJUSTED.get(symbol)
    elif function == "TIME_SERIES_DAILY":
        found = _plain_daily(DAILY_ADJUSTED[symbol]) if symbol in DAILY_ADJUSTED else None
    elif function == "TIME_SERIES_INTRADAY":
        found = _intraday(params)
    elif function == "DIGITAL_CURRENCY_DAILY":
        found = CRYPTO.get((symbol, params.get("market", "")))
    elif function == "FX_DAILY":
        found = FX.get((params.get("from_symbol", ""), params.get("to_symbol", "")))
    elif function == "SYMBOL_SEARCH":
        keywords = params.get("keywords", "").lower()
        matches = [m for m in SEARCH["bestMatches"] if keywords in m["2. name"].lower()]
        if keywords == "ba":
            matches = SEARCH["bestMatches"]
        return {"bestMatches": copy.deepcopy(matches)}
    if found is None:
        return copy.deepcopy(INVALID_CALL)
    if function in ("TIME_SERIES_DAILY_ADJUSTED", "TIME_SERIES_DAILY", "FX_DAILY"):
        return _compact(copy.deepcopy(found), params)
    return copy.deepcopy(found)


def spoil(body: dict[str, Any], scenario: str) -> dict[str, Any]:
    """Damage the quote or the newest bar of ``body`` as ``scenario`` says."""
    if body.get("Global Quote"):
        row: dict[str, str] = body["Global Quote"]
        price, high, low = "05. price", "03. high", "04. low"
    else:
        series = next((v for k, v in body.items() if k.startswith("Time Series")), None)
        if not series:
            return body
        row = series[max(series)]
        price = next(k for k in row if k.split(". ", 1)[1].startswith("close"))
        high = next(k for k in row if k.split(". ", 1)[1].startswith("high"))
        low = next(k for k in row if k.split(". ", 1)[1].startswith("low"))
    if scenario == "nan":
        row[price] = "NaN"
    elif scenario == "negative":
        row[price] = "-1.0000"
    elif scenario == "missing":
        del row[price]
    elif scenario == "inverted":
        row[high], row[low] = row[low], row[high]
    return body


def create_app(keys: dict[str, str] | None = None) -> Starlette:
    """``keys``: API key -> plan (``free``, ``premium``, ``demo``); default :data:`KEYS`."""
    control = StubControl()
    plans = KEYS if keys is None else keys

    async def query(request: Request) -> Response:
        scenario = control.record(request)
        params = dict(request.query_params)
        if scenario == "500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if scenario == "slow":
            await control.pause()
        if scenario == "html":
            return HTMLResponse("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>")
        plan = plans.get(params.get("apikey", ""))
        if plan is None:
            return JSONResponse(INVALID_KEY)
        if scenario in IN_BAND:
            return JSONResponse(IN_BAND[scenario])
        refused = refusal(params, plan)
        if refused is not None:
            return JSONResponse(refused)
        body = spoil(answer(params), scenario)
        if scenario == "truncated":
            text = json.dumps(body, indent=4)
            return Response(text[: len(text) // 2], media_type="application/json")
        return JSONResponse(body)

    return stub_app([Route("/query", query)], control)

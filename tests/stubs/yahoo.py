"""A local Yahoo Finance: the v8 chart and v1 search endpoints as the vendor answers them.

Charts honour ``period1``/``period2``/``interval`` (or ``range=1d`` for the quote), answer
an empty window with Yahoo's empty shape (no ``timestamp``, ``quote: [{}]``), and an unknown
symbol with Yahoo's recorded 404 ``chart.error``. Like Yahoo, a request without a browser's
User-Agent gets a plain-text 429 (see :func:`_browser`). On demand it asks for Yahoo's cookie
and crumb (:class:`YahooControl`): ``GET /`` stands for fc.yahoo.com, which sets the ``A3``
cookie, ``GET /v1/test/getcrumb`` answers the crumb for that cookie in plain text, and a chart
or search without both is a 401 "Invalid Crumb". Data: recorded AAPL daily (split and
dividend) and 1m, OCDO.L (pence); synthetic float32 series in Yahoo's shape for MSFT, BTC-USD
and EURUSD=X.

Scenarios (see :class:`tests.stubs.server.StubControl`): ``success``; transport ``500``,
``429`` (plain text "Too Many Requests"), ``slow`` (sleeps ``delay`` first), ``html``,
``truncated``, ``unprocessable`` (422 chart.error); data ``nan``, ``negative``, ``nulls`` (a
bar of nulls), ``missing`` (no close array), ``inverted`` (high below low) on the first bar,
and ``no_price`` (no ``regularMarketPrice`` in meta).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from flint.kit.calendar import session_open, trading_days
from tests.stubs.server import StubControl, stub_app

SAMPLES = Path(__file__).parent / "samples"
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


@dataclass
class Series:
    """One symbol's bars at one interval, in Yahoo's column layout."""

    meta: dict[str, Any]
    timestamp: list[int]
    quote: dict[str, list[Any]]
    adjclose: list[Any] | None

    @classmethod
    def recorded(cls, name: str) -> Series:
        result = sample(name)["chart"]["result"][0]
        adj = result["indicators"].get("adjclose")
        return cls(
            result["meta"],
            result["timestamp"],
            result["indicators"]["quote"][0],
            adj[0]["adjclose"] if adj else None,
        )


def _f32(value: float) -> float:
    """What Yahoo prints: a float32 widened to float64."""
    return float(np.float32(value))


def _synthetic(symbol: str, kind: str, base: float) -> Series:
    """A year (2024) of daily bars shaped like Yahoo's for ``symbol``."""
    if kind == "EQUITY":
        days = trading_days(date(2024, 1, 1), date(2024, 12, 31))
        stamps = [int(session_open(d).timestamp()) for d in days]
        zone, exchange, regular = "America/New_York", "NMS", (time(9, 30), time(16), NEW_YORK)
    elif kind == "CRYPTOCURRENCY":
        days = [date(2024, 1, 1) + timedelta(days=i) for i in range(366)]
        stamps = [int(datetime.combine(d, time(), UTC).timestamp()) for d in days]
        zone, exchange, regular = "UTC", "CCC", (time(), time(23, 59), ZoneInfo("UTC"))
    else:  # CURRENCY: Yahoo stamps FX days at midnight London time
        days = [
            d for d in (date(2024, 1, 1) + timedelta(days=i) for i in range(366)) if d.weekday() < 5
        ]
        stamps = [int(datetime.combine(d, time(), LONDON).timestamp()) for d in days]
        zone, exchange, regular = "Europe/London", "CCY", (time(), time(23, 59), LONDON)
    quote: dict[str, list[Any]] = {"open": [], "high": [], "low": [], "close": [], "volume": []}
    for i in range(len(days)):
        o = base * (1 + 0.05 * math.sin(i / 9))
        c = o * (1 + 0.004 * math.cos(i))
        quote["open"].append(_f32(o))
        quote["close"].append(_f32(c))
        quote["high"].append(_f32(max(o, c) * 1.003))
        quote["low"].append(_f32(min(o, c) * 0.997))
        quote["volume"].append(0 if kind == "CURRENCY" else 1_000_000 + 7919 * i)
    opens, closes, tz = regular
    sample_day = date(2024, 12, 31)
    meta = {
        "currency": "USD",
        "symbol": symbol,
        "exchangeName": exchange,
        "instrumentType": kind,
        "exchangeTimezoneName": zone,
        "regularMarketPrice": quote["close"][-1],
        "chartPreviousClose": quote["close"][0],
        "priceHint": 2,
        "currentTradingPeriod": {
            "regular": {
                "start": int(datetime.combine(sample_day, opens, tz).timestamp()),
                "end": int(datetime.combine(sample_day, closes, tz).timestamp()),
            }
        },
        "dataGranularity": "1d",
    }
    return Series(meta, stamps, quote, list(quote["close"]))


CHARTS: dict[tuple[str, str], Series] = {
    ("AAPL", "1d"): Series.recorded("yahoo_chart_daily_AAPL_split_dividend.json"),
    ("AAPL", "1m"): Series.recorded("yahoo_chart_intraday_1m_AAPL.json"),
    ("OCDO.L", "1d"): Series.recorded("yahoo_chart_daily_OCDO.L_GBp.json"),
    ("MSFT", "1d"): _synthetic("MSFT", "EQUITY", 400.0),
    ("BTC-USD", "1d"): _synthetic("BTC-USD", "CRYPTOCURRENCY", 60000.0),
    ("EURUSD=X", "1d"): _synthetic("EURUSD=X", "CURRENCY", 1.08),
}
NOT_FOUND = sample("yahoo_chart_error_404_not_found.json")
UNPROCESSABLE = {
    "chart": {
        "result": None,
        "error": {
            "code": "Unprocessable Entity",
            "description": "1m data not available for startTime=1. Only 7 days worth of 1m "
            "granularity data are allowed to be fetched per request.",
        },
    }
}
SEARCH_QUOTES: list[dict[str, Any]] = [
    {
        "exchange": "NMS",
        "shortname": "Apple Inc.",
        "quoteType": "EQUITY",
        "symbol": "AAPL",
        "index": "quotes",
        "score": 44177.0,
        "typeDisp": "Equity",
        "longname": "Apple Inc.",
        "exchDisp": "NASDAQ",
        "sector": "Technology",
        "industry": "Consumer Electronics",
        "isYahooFinance": True,
    },
    {
        "exchange": "OPR",
        "shortname": "AAPL Jun 2024 190.000 call",
        "quoteType": "OPTION",
        "symbol": "AAPL240621C00190000",
        "index": "quotes",
        "score": 20000.0,
        "typeDisp": "Option",
        "exchDisp": "OPR",
        "isYahooFinance": True,
    },
    {
        "exchange": "NMS",
        "shortname": "Microsoft Corporation",
        "quoteType": "EQUITY",
        "symbol": "MSFT",
        "index": "quotes",
        "score": 30000.0,
        "typeDisp": "Equity",
        "longname": "Microsoft Corporation",
        "exchDisp": "NASDAQ",
        "sector": "Technology",
        "isYahooFinance": True,
    },
    {
        "exchange": "CCC",
        "shortname": "Bitcoin USD",
        "quoteType": "CRYPTOCURRENCY",
        "symbol": "BTC-USD",
        "index": "quotes",
        "score": 29000.0,
        "typeDisp": "Cryptocurrency",
        "exchDisp": "CCC",
        "isYahooFinance": True,
    },
    {
        "exchange": "CCY",
        "shortname": "EUR/USD",
        "quoteType": "CURRENCY",
        "symbol": "EURUSD=X",
        "index": "quotes",
        "score": 25000.0,
        "typeDisp": "Currency",
        "exchDisp": "CCY",
        "isYahooFinance": True,
    },
    {
        "exchange": "SNP",
        "shortname": "S&P 500",
        "quoteType": "INDEX",
        "symbol": "^GSPC",
        "index": "quotes",
        "score": 24000.0,
        "typeDisp": "Index",
        "exchDisp": "SNP",
        "isYahooFinance": True,
    },
    {
        "exchange": "NAS",
        "shortname": "Vanguard 500 Index Admiral",
        "quoteType": "MUTUALFUND",
        "symbol": "VFIAX",
        "index": "quotes",
        "score": 21000.0,
        "typeDisp": "Fund",
        "longname": "Vanguard 500 Index Fund Admiral Shares",
        "exchDisp": "Nasdaq",
        "isYahooFinance": True,
    },
    {
        "exchange": "PCX",
        "shortname": "SPDR S&P 500",
        "quoteType": "ETF",
        "symbol": "SPY",
        "index": "quotes",
        "score": 23000.0,
        "typeDisp": "ETF",
        "longname": "SPDR S&P 500 ETF Trust",
        "exchDisp": "NYSEArca",
        "isYahooFinance": True,
    },
]


def chart(symbol: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """(status, body) of ``/v8/finance/chart/{symbol}`` for ``params``."""
    interval = params.get("interval", "1d")
    series = CHARTS.get((symbol, interval))
    if series is None:
        if not any(key[0] == symbol for key in CHARTS):
            return 404, copy.deepcopy(NOT_FOUND)
        picked: list[int] = []
        series = next(s for key, s in CHARTS.items() if key[0] == symbol)
    elif params.get("range") == "1d":
        picked = [len(series.timestamp) - 1]
    else:
        low, high = int(params.get("period1", 0)), int(params.get("period2", 2**40))
        picked = [i for i, t in enumerate(series.timestamp) if low <= t < high]
    meta = copy.deepcopy(series.meta)
    meta["dataGranularity"] = interval
    if params.get("range") == "1d":
        last = picked[-1]
        meta.update(
            regularMarketPrice=series.quote["close"][last],
            regularMarketDayHigh=series.quote["high"][last],
            regularMarketDayLow=series.quote["low"][last],
            regularMarketVolume=series.quote["volume"][last],
            regularMarketTime=series.timestamp[last] + 23400,
            chartPreviousClose=series.quote["close"][last - 1],
            previousClose=series.quote["close"][last - 1],
        )
    indicators: dict[str, Any] = {"quote": [{}]}
    result: dict[str, Any] = {"meta": meta, "indicators": indicators}
    if picked:
        result["timestamp"] = [series.timestamp[i] for i in picked]
        indicators["quote"] = [{k: [v[i] for i in picked] for k, v in series.quote.items()}]
        if series.adjclose is not None:
            indicators["adjclose"] = [{"adjclose": [series.adjclose[i] for i in picked]}]
    return 200, {"chart": {"result": [result], "error": None}}


def spoil(body: dict[str, Any], scenario: str) -> dict[str, Any]:
    """Damage the first bar (or the meta) of a chart body as ``scenario`` says."""
    result = body["chart"]["result"]
    if not result:
        return body
    columns = result[0]["indicators"]["quote"][0]
    if scenario == "no_price":
        result[0]["meta"].pop("regularMarketPrice", None)
    if not columns:
        return body
    if scenario == "nan":
        columns["close"][0] = math.nan
    elif scenario == "negative":
        columns["close"][0] = -1.5
    elif scenario == "nulls":
        for name in columns:
            columns[name][0] = None
    elif scenario == "missing":
        del columns["close"]
    elif scenario == "inverted":
        columns["high"][0], columns["low"][0] = columns["low"][0], columns["high"][0]
    return body


_ENGINES = ("applewebkit/", "gecko/", "firefox/")
_TOOLS = ("python", "httpx", "aiohttp", "curl/", "wget/", "bot", "spider", "compatible;")


def _browser(request: Request) -> bool:
    """Yahoo answers clients it takes for scripts with a plain-text 429. The stub's rule: a
    User-Agent that reads like a browser's (``Mozilla/5.0 (...)`` with a rendering engine),
    naming no HTTP library, tool or bot (``compatible; ...`` is how bots announce themselves)."""
    agent = request.headers.get("user-agent", "").lower()
    if not agent.startswith("mozilla/5.0 (") or not any(e in agent for e in _ENGINES):
        return False
    return not any(tool in agent for tool in _TOOLS)


INVALID_CRUMB = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}
"""Yahoo's 401 body for a missing or stale crumb (quoted verbatim in many client projects'
issues and fixtures, e.g. yfinance's "HTTP Error 401: {...Invalid Crumb...}")."""
INVALID_COOKIE = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Cookie"}}
}
"""The stub's own wording for ``getcrumb`` without the cookie (not a recorded body)."""
COOKIE = "A3"


@dataclass
class YahooControl(StubControl):
    """:class:`StubControl` plus Yahoo's cookie-and-crumb handshake: with ``crumb_required``,
    chart and search requests need the ``A3`` cookie (``GET /``, as fc.yahoo.com sets it) and
    the crumb ``GET /v1/test/getcrumb`` issued for that cookie, else 401 "Invalid Crumb".
    :meth:`expire_crumbs` forgets every crumb issued, as Yahoo does now and then;
    ``crumb_broken`` makes ``getcrumb`` itself fail (401), so no crumb can be had."""

    crumb_required: bool = False
    crumb_broken: bool = False
    crumbs: dict[str, str] = field(default_factory=dict)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.crumb_required = self.crumb_broken = False
            self.crumbs.clear()

    def expire_crumbs(self) -> None:
        with self._lock:
            self.crumbs.clear()

    def issue(self, cookie: str) -> str:
        with self._lock:
            crumb = self.crumbs.setdefault(cookie, f"crumb{len(self.crumbs) + 1}.x/Y")
            return crumb

    def crumb_ok(self, request: Request) -> bool:
        if not self.crumb_required:
            return True
        cookie = request.cookies.get(COOKIE)
        with self._lock:
            issued = self.crumbs.get(cookie) if cookie else None
        return issued is not None and request.query_params.get("crumb") == issued


def create_app() -> Starlette:
    control = YahooControl()
    cookies = itertools.count(1)

    async def transport(request: Request) -> tuple[str, Response | None]:
        scenario = control.record(request)
        if scenario == "500":
            return scenario, PlainTextResponse("Internal Server Error", status_code=500)
        if scenario == "429" or not _browser(request):
            return scenario, PlainTextResponse("Too Many Requests", status_code=429)
        if scenario == "slow":
            await control.pause()
        if scenario == "html":
            page = "<!DOCTYPE html><html><body>Will be right back...</body></html>"
            return scenario, HTMLResponse(page)
        if scenario == "unprocessable":
            return scenario, JSONResponse(UNPROCESSABLE, status_code=422)
        return scenario, None

    def respond(status: int, body: dict[str, Any], scenario: str) -> Response:
        text = json.dumps(body)  # allow_nan: Yahoo's NaNs are what the "nan" scenario tests
        if scenario == "truncated":
            text = text[: len(text) // 2]
        return Response(text, status_code=status, media_type="application/json")

    async def chart_route(request: Request) -> Response:
        scenario, early = await transport(request)
        if early is not None:
            return early
        if not control.crumb_ok(request):
            return JSONResponse(INVALID_CRUMB, status_code=401)
        status, body = chart(request.path_params["symbol"], dict(request.query_params))
        return respond(status, spoil(body, scenario), scenario)

    async def search_route(request: Request) -> Response:
        scenario, early = await transport(request)
        if early is not None:
            return early
        if not control.crumb_ok(request):
            return JSONResponse(INVALID_CRUMB, status_code=401)
        q = request.query_params.get("q", "").lower()
        count = int(request.query_params.get("quotesCount", "6"))
        quotes = [
            item
            for item in SEARCH_QUOTES
            if q in item["symbol"].lower()
            or q in str(item.get("longname", "")).lower()
            or q in item["shortname"].lower()
        ][:count]
        body = {"explains": [], "count": len(quotes), "quotes": quotes, "news": [], "nav": []}
        return respond(200, body, scenario)

    async def cookie_route(request: Request) -> Response:
        """fc.yahoo.com: a 404 page that sets the session cookie."""
        control.record(request)
        response = PlainTextResponse("Not Found", status_code=404)
        response.set_cookie(COOKIE, f"d=stub{next(cookies)}", httponly=True, secure=False)
        return response

    async def crumb_route(request: Request) -> Response:
        _, early = await transport(request)
        if early is not None:
            return early
        cookie = request.cookies.get(COOKIE)
        if cookie is None or control.crumb_broken:
            return JSONResponse(INVALID_COOKIE, status_code=401)
        return PlainTextResponse(control.issue(cookie))

    return stub_app(
        [
            Route("/", cookie_route),
            Route("/v1/test/getcrumb", crumb_route),
            Route("/v8/finance/chart/{symbol}", chart_route),
            Route("/v1/finance/search", search_route),
        ],
        control,
    )

"""`flint demo`: a demo user with something in every corner, made through the API itself.

The user is built by calling Flint's own HTTP API in-process (the app on an ASGI transport, so
every rule, limit and hook applies as for any client), while a Celery worker runs in this
process on the configured broker, so the jobs the requests start (the report, the quote refresh
that fires an alert, the emails) are done before the command ends. A `flint run` worker on the
same broker may take some of them instead; either way the demo waits for their results.

Running it again changes nothing that is already there: each step first reads what the user has
(the sign-in, linked accounts, watchlist, alerts, portfolios, reports) and adds only what is
missing. Prices are never assumed: alert thresholds are set from the current quote, and the
imported ledger's buys are priced at the market's own closes of their days.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx

from flint.config import Settings
from flint.kit.files import write_private
from flint.kit.time import utcnow

API = "/api/v1"
EMAIL = "demo@example.com"
CREDENTIALS_FILE = "demo.json"
SANDBOX_CODE = "demo"
WATCHLIST = ("AAPL", "MSFT", "NVDA", "VTI", "BTC-USD", "EURUSD=X")
FOLLOWING = "Sandbox brokerage"
IMPORTED = "Three-year plan (imported)"
MONTHLY_BUYS = {
    "VTI": Decimal(500),
    "BND": Decimal(200),
    "AAPL": Decimal(150),
    "MSFT": Decimal(150),
}
QUARTERLY_YIELD = {"VTI": Decimal("0.0035"), "BND": Decimal("0.0085")}
YEARS = 3
WAIT_SECONDS = 180.0


class DemoFailed(Exception):
    """The demo could not be set up; the message says why."""


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    user_id: str
    summary: dict[str, int]


def credentials(settings: Settings) -> tuple[str, str]:
    """The demo user's email and password: made once, kept owner-only in the data dir, so a
    second run signs in as the same user (the password is never a well-known one)."""
    path = settings.data_dir / CREDENTIALS_FILE
    if not path.exists():
        chosen = {"email": EMAIL, "password": secrets.token_urlsafe(12)}
        write_private(path, json.dumps(chosen).encode())
    stored = json.loads(path.read_text())
    return str(stored["email"]), str(stored["password"])


def run_demo(settings: Settings) -> DemoUser:
    """Make (or complete) the demo user with a worker running in this process."""
    with _worker(settings):
        return asyncio.run(_seed(settings))


@contextmanager
def _worker(settings: Settings) -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    from flint import jobs
    from flint.app.worker import configure

    celery_app = configure(settings)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            loglevel=settings.log_level,
            perform_ping_check=False,
            shutdown_timeout=WAIT_SECONDS,
        ):
            yield
    finally:
        jobs.process.close()


async def _seed(settings: Settings) -> DemoUser:
    email, password = credentials(settings)
    async with _client(settings) as http:
        demo = Demo(http)
        user_id = await demo.sign_in(email, password)
        accounts = await demo.link_sandbox()
        brokerage = next(a for a in accounts if a["type"] == "brokerage")
        await demo.watch(user_id, WATCHLIST)
        await demo.alerts()
        await demo.portfolio_following(brokerage["accountId"])
        imported = await demo.imported_portfolio()
        await demo.finished_report(user_id, imported)
        summary = await demo.summary(user_id)
        await demo.sign_out()
    return DemoUser(email, password, user_id, summary)


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from flint.app.main import create_app

    # Performance in this process: the demo is one short-lived client, not a server.
    app = create_app(settings.model_copy(update={"performance_workers": 0}))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", timeout=WAIT_SECONDS
        ) as http:
            yield http
    finally:
        await app.state.runtime.aclose()


class Demo:
    """The steps, each adding only what the user lacks (as a careful client would)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.refresh_token = ""

    async def call(self, method: str, path: str, *, ok: tuple[int, ...], **kw: Any) -> Any:
        response = await self.http.request(method, API + path, **kw)
        if response.status_code not in ok:
            raise DemoFailed(f"{method} {API}{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def sign_in(self, email: str, password: str) -> str:
        body = {"email": email, "password": password}
        response = await self.http.post(f"{API}/auth/login", json=body)
        if response.status_code == 401:
            await self.call("POST", "/auth/register", json=body, ok=(201, 409))
            response = await self.http.post(f"{API}/auth/login", json=body)
        if response.status_code != 200:
            raise DemoFailed(
                f"cannot sign in as {email} ({response.status_code}): the user exists with "
                f"another password than the one in {CREDENTIALS_FILE}"
            )
        self.http.headers["Authorization"] = f"Bearer {response.json()['token']}"
        self.refresh_token = str(response.json()["refreshToken"])
        me = await self.call("GET", "/auth/me", ok=(200,))
        return str(me["userId"])

    async def sign_out(self) -> None:
        """End the demo's own sign-in: the user's signed-in devices are theirs alone."""
        body = {"refreshToken": self.refresh_token}
        await self.call("POST", "/auth/logout", json=body, ok=(204,))

    async def link_sandbox(self) -> list[dict[str, Any]]:
        """The sandbox's brokerage, checking and savings accounts (linking the same code again
        would find the same accounts; the demo does not even ask)."""
        linked = (await self.call("GET", "/accounts", ok=(200,)))["accounts"]
        sandbox = [a for a in linked if a["provider"] == "sandbox"]
        if {a["type"] for a in sandbox} >= {"brokerage", "checking", "savings"}:
            return sandbox
        body = {"provider": "sandbox", "authCode": SANDBOX_CODE}
        made: list[dict[str, Any]] = (
            await self.call("POST", "/accounts/link", json=body, ok=(201,))
        )["accounts"]
        return made

    async def watch(self, user_id: str, symbols: tuple[str, ...]) -> None:
        watched = await self.call("GET", f"/watchlist/{user_id}", ok=(200,))
        have = {entry["asset"] for entry in watched["watchlist"]}
        for symbol in symbols:
            if symbol not in have:
                body = {"userId": user_id, "asset": symbol}
                await self.call("POST", "/watchlist/add", json=body, ok=(200, 201))

    async def quote(self, symbol: str) -> Decimal:
        quoted = await self.call("GET", f"/market/real-time/{symbol}", ok=(200,))
        return Decimal(str(quoted["price"]))

    async def alerts(self) -> None:
        """Three alerts set from today's quotes: one that holds already (so it fires at the next
        quote refresh, which this run asks for and waits on), two that wait for a move."""
        have = {(a["symbol"], a["condition"]) for a in (await self._alerts())}
        wanted = [
            ("AAPL", "above", Decimal("0.97")),
            ("MSFT", "below", Decimal("0.90")),
            ("BTC-USD", "percent_change", None),
        ]
        for symbol, condition, factor in wanted:
            if (symbol, condition) in have:
                continue
            if factor is None:
                threshold = Decimal(5)
            else:
                threshold = (await self.quote(symbol) * factor).quantize(Decimal("0.01"))
            body = {"symbol": symbol, "condition": condition, "threshold": format(threshold, "f")}
            await self.call("POST", "/alerts", json=body, ok=(201,))
        await self._refresh_quotes_until_checked()

    async def _alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = (await self.call("GET", "/alerts", ok=(200,)))["alerts"]
        return alerts

    async def _refresh_quotes_until_checked(self) -> None:
        from flint.jobs import send_async

        if all(a["lastCheckedAt"] for a in await self._alerts()):
            return
        await send_async("flint.market.refresh_quotes")
        await _until(
            "the alerts checked against fresh quotes",
            lambda: self._alerts(),
            lambda alerts: all(a["lastCheckedAt"] for a in alerts),
        )

    async def portfolio_following(self, account_id: str) -> str:
        for portfolio in await self._portfolios():
            if portfolio["accountId"] == account_id:
                return str(portfolio["portfolioId"])
        body = {"name": FOLLOWING, "accountId": account_id}
        made = await self.call("POST", "/portfolio/", json=body, ok=(201,))
        return str(made["portfolioId"])

    async def _portfolios(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await self.call("GET", "/portfolio/", ok=(200,)))[
            "portfolios"
        ]
        return listed

    async def imported_portfolio(self) -> str:
        """A portfolio of three years of monthly savings, imported as CSV (all rows or none,
        so a ledger that is there is complete)."""
        found = [p for p in await self._portfolios() if p["name"] == IMPORTED]
        if found:
            portfolio_id = str(found[0]["portfolioId"])
        else:
            made = await self.call("POST", "/portfolio/", json={"name": IMPORTED}, ok=(201,))
            portfolio_id = str(made["portfolioId"])
        rows = await self.call("GET", f"/portfolio/{portfolio_id}/transactions", ok=(200,))
        if not rows["transactions"]:
            end = utcnow().date()
            closes = {s: await self._closes(s, end) for s in MONTHLY_BUYS}
            await self.call(
                "POST",
                f"/portfolio/{portfolio_id}/import",
                content=ledger_csv(closes).encode(),
                headers={"Content-Type": "text/csv"},
                ok=(201,),
            )
        return portfolio_id

    async def _closes(self, symbol: str, end: date) -> dict[date, Decimal]:
        start = end.replace(year=end.year - YEARS)
        params = {"start": start.isoformat(), "end": end.isoformat()}
        history = await self.call("GET", f"/market/historical/{symbol}", params=params, ok=(200,))
        return {
            date.fromisoformat(bar["timestamp"][:10]): Decimal(str(bar["close"]))
            for bar in history["bars"]
        }

    async def finished_report(self, user_id: str, portfolio_id: str) -> dict[str, Any]:
        """A completed PDF summary of the imported portfolio: one already made (or on its way)
        is kept; a failed one is left as it is and another requested."""
        listed = (await self.call("GET", f"/reports/user/{user_id}", ok=(200,)))["reports"]
        pending = [
            r
            for r in listed
            if r["portfolioId"] == portfolio_id
            and r["format"] == "pdf"
            and r["status"] in ("queued", "running", "completed")
        ]
        if pending:
            report = pending[0]
        else:
            body = {"type": "portfolio_summary", "portfolioId": portfolio_id, "format": "pdf"}
            report = await self.call("POST", "/reports/", json=body, ok=(202,))
        path = f"/reports/{report['reportId']}"
        done: dict[str, Any] = await _until(
            "the report rendered",
            lambda: self.call("GET", path, ok=(200,)),
            lambda r: r["status"] in ("completed", "failed"),
        )
        if done["status"] != "completed":
            raise DemoFailed(f"the demo report failed: {done['reason']}")
        return done

    async def summary(self, user_id: str) -> dict[str, int]:
        async def count(path: str, key: str) -> int:
            return len((await self.call("GET", path, ok=(200,)))[key])

        notifications = await self.call("GET", "/notifications", ok=(200,))
        return {
            "accounts": await count("/accounts", "accounts"),
            "watched symbols": await count(f"/watchlist/{user_id}", "watchlist"),
            "alerts": await count("/alerts", "alerts"),
            "portfolios": await count("/portfolio/", "portfolios"),
            "reports": await count(f"/reports/user/{user_id}", "reports"),
            "notifications": len(notifications["notifications"]),
        }


async def _until(what: str, read: Any, done: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise DemoFailed(f"gave up waiting for {what} after {WAIT_SECONDS:.0f} s")
        await asyncio.sleep(0.5)


def ledger_csv(closes: dict[str, dict[date, Decimal]]) -> str:
    """The imported ledger: on each month's first session a deposit and the month's buys at
    that day's close; each quarter's last session a dividend on the funds that pay one; a
    quarter of the AAPL position sold once, a year before the end. Quantities are rounded
    down to 4 decimals, so the deposits always cover the buys."""
    sessions = sorted(set.intersection(*(set(c) for c in closes.values())))
    if not sessions:
        raise DemoFailed("the market has no common sessions for the demo's symbols")
    firsts = [d for i, d in enumerate(sessions) if i == 0 or d.month != sessions[i - 1].month]
    quarter_ends = [
        d
        for i, d in enumerate(sessions[:-1])
        if d.month in (3, 6, 9, 12) and sessions[i + 1].month != d.month
    ]
    sale_day = next(d for d in sessions if d >= sessions[-1] - timedelta(days=365))
    lines = ["date,symbol,type,quantity,price,fee,amount,currency"]
    held = dict.fromkeys(closes, Decimal(0))
    events = sorted(
        [(d, 0, "month") for d in firsts]
        + [(d, 1, "dividends") for d in quarter_ends]
        + [(sale_day, 2, "sale")]
    )
    for day, _, kind in events:
        if kind == "month":
            lines.append(f"{day},,deposit,,,0,{sum(MONTHLY_BUYS.values())},USD")
            for symbol, budget in MONTHLY_BUYS.items():
                price = closes[symbol][day]
                quantity = (budget / price).quantize(Decimal("0.0001"), ROUND_DOWN)
                held[symbol] += quantity
                lines.append(f"{day},{symbol},buy,{quantity},{price},0,,USD")
        elif kind == "dividends":
            for symbol, rate in QUARTERLY_YIELD.items():
                amount = (held[symbol] * closes[symbol][day] * rate).quantize(Decimal("0.01"))
                if amount > 0:
                    lines.append(f"{day},{symbol},dividend,,,0,{amount},USD")
        else:
            quantity = (held["AAPL"] / 4).quantize(Decimal("0.0001"), ROUND_DOWN)
            held["AAPL"] -= quantity
            lines.append(f"{day},AAPL,sell,{quantity},{closes['AAPL'][day]},0,,USD")
    return "\n".join(lines) + "\n"


def credentials_banner(user: DemoUser, docs_url: str) -> str:
    counts = ", ".join(
        f"{n} {what if n != 1 else what.removesuffix('s')}" for what, n in user.summary.items()
    )
    return (
        f"Demo user ready: {user.email} / {user.password}\n"
        f"  ({counts})\n"
        f"  Open {docs_url}, press Authorize, and sign in with that email and password."
    )

"""The user the schema fuzzing signs in as, with a row behind every kind of path parameter:
a linked sandbox brokerage, a ledger portfolio with transactions, a portfolio following the
brokerage, a trade, a watchlist item, an alert, a custom asset with prices, a report, an API
key and notifications. Made through the API, on the client schemathesis sends its requests
with (the app's event loop is that client's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from tests.conftest import DEFAULT_PASSWORD

V1 = "http://testserver/api/v1"

LEDGER_CSV = """Date,Ticker,Action,Shares,Price,Commission,Currency
2024-01-02,,deposit,,10000,,USD
2024-01-03,AAPL,BUY,10,185.50,1.00,USD
2024-03-01,AAPL,dividend,10,0.24,,USD
"""


@dataclass(frozen=True)
class Seeded:
    """The signed-in user and the ids of their rows, by the path parameter that names each."""

    token: str
    refresh_token: str
    ids: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _call(client: requests.Session, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, f"{V1}{path}", **kwargs)
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json() if response.content else None


def seed(client: requests.Session, email: str = "fuzz@example.com") -> Seeded:
    """Register and sign in a user, and give them one of everything."""
    password = DEFAULT_PASSWORD
    user = _call(client, "POST", "/auth/register", json={"email": email, "password": password})
    pair = _call(client, "POST", "/auth/login", json={"email": email, "password": password})
    auth = {"Authorization": f"Bearer {pair['token']}"}

    def call(method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        kwargs["headers"] = auth | kwargs.get("headers", {})
        return _call(client, method, path, **kwargs)

    user_id = user["userId"]
    linked = call("POST", "/accounts/link", {"provider": "sandbox", "authCode": "fuzz"})
    brokerage = next(a["accountId"] for a in linked["accounts"] if a["type"] == "brokerage")
    call("POST", "/watchlist/add", {"userId": user_id, "asset": "AAPL"})
    ledger = call("POST", "/portfolio/", {"name": "Ledger"})["portfolioId"]
    call(
        "POST",
        f"/portfolio/{ledger}/import",
        data=LEDGER_CSV,
        headers={"Content-Type": "text/csv"},
    )
    call(
        "POST",
        f"/portfolio/{ledger}/transactions",
        {"date": "2024-06-03", "type": "buy", "symbol": "MSFT", "quantity": "2", "price": "410"},
    )
    call("POST", "/portfolio/", {"name": "Brokerage", "accountId": brokerage})
    trade = call(
        "POST",
        "/trades/execute",
        {"accountId": brokerage, "asset": "AAPL", "action": "buy", "quantity": "1"},
    )
    alert = call("POST", "/alerts", {"symbol": "AAPL", "condition": "above", "threshold": "9999"})
    call("POST", "/assets", {"symbol": "MY:HOUSE", "name": "Our house"})
    call("PUT", "/assets/MY:HOUSE/prices", [{"date": "2024-01-02", "price": "350000"}])
    report = call(
        "POST", "/reports/", {"type": "portfolio_summary", "portfolioId": ledger, "format": "csv"}
    )
    call("POST", "/api-keys", {"name": "script", "scopes": ["read"]})
    notifications = call("GET", "/notifications")["notifications"]
    ids = {
        "userId": user_id,
        "accountId": brokerage,
        "portfolioId": ledger,
        "tradeId": trade["tradeId"],
        "alertId": alert["alertId"],
        "symbol": "MY:HOUSE",
        "reportId": report["reportId"],
    }
    if notifications:
        ids["notificationId"] = notifications[0]["notificationId"]
    return Seeded(token=pair["token"], refresh_token=pair["refreshToken"], ids=ids)

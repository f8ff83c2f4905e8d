"""A trader of the system tests: a new user of a running API, signed in, with a brokerage
account linked through the SnapTrade stub and funded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from tests.conftest import DEFAULT_PASSWORD
from tests.shared_queues import own_task_queue
from tests.stubs import snaptrade as snaptrade_stub
from tests.system.processes import Process, Processes, flint_env, fresh_databases, running


@dataclass
class Trader:
    http: httpx.Client
    headers: dict[str, str]
    user_id: str
    account_id: str

    def trade(self, asset: str = "AAPL", quantity: str = "2") -> dict[str, Any]:
        """A market buy, accepted (202) and pending."""
        order = {"accountId": self.account_id, "asset": asset, "action": "buy"}
        order["quantity"] = quantity
        placed = self.http.post("/api/v1/trades/execute", json=order, headers=self.headers)
        assert placed.status_code == 202, placed.text
        body: dict[str, Any] = placed.json()
        assert body["status"] == "pending", body
        return body

    def status(self, trade_id: str) -> str:
        trade = self.http.get(f"/api/v1/trades/{trade_id}", headers=self.headers)
        assert trade.status_code == 200, trade.text
        status: str = trade.json()["status"]
        return status

    def events(self, trade_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.http.get(
            f"/api/v1/trades/{trade_id}/events", headers=self.headers
        ).json()["events"]
        return events


def snaptrade_trader(
    base: str,
    state: snaptrade_stub.SnapTradeState,
    prefix: str,
    funds: Decimal = Decimal("10000"),  # two AAPL at real price levels
) -> Trader:
    http = httpx.Client(base_url=base, timeout=30)
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": DEFAULT_PASSWORD}
    registered = http.post("/api/v1/auth/register", json=credentials)
    assert registered.status_code == 201, registered.text
    token = http.post("/api/v1/auth/login", json=credentials).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    user_id = http.get("/api/v1/auth/me", headers=headers).json()["userId"]
    portal = http.post("/api/v1/accounts/connect", json={"provider": "snaptrade"}, headers=headers)
    assert portal.is_success, portal.text
    authorization = state.connect(user_id)
    state.fund(funds)
    linked = http.post(
        "/api/v1/accounts/link",
        json={"provider": "snaptrade", "authCode": authorization},
        headers=headers,
    )
    assert linked.status_code == 201, linked.text
    return Trader(http, headers, user_id, linked.json()["accountId"])


@contextmanager
def trading_api(tmp_path: Path, stub_url: str, broker: str) -> Iterator[tuple[Processes, Process]]:
    """A fresh PostgreSQL database, migrated, and the API serving on it (not yet ready), its
    processes' settings trading through the SnapTrade stub at ``stub_url`` on ``broker`` (a
    queue of their own); every process the test starts is stopped at the end."""
    with fresh_databases("flint") as (database,), own_task_queue() as queue:
        env = flint_env(
            FLINT_DATA_DIR=str(tmp_path / "data"),
            FLINT_DATABASE_URL=database,
            FLINT_BROKER_URL=broker,
            FLINT_TASK_QUEUE=queue,
            FLINT_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
            FLINT_PERFORMANCE_WORKERS="0",
            FLINT_SNAPTRADE_CLIENT_ID=snaptrade_stub.CLIENT_ID,
            FLINT_SNAPTRADE_CONSUMER_KEY=snaptrade_stub.CONSUMER_KEY,
            FLINT_SNAPTRADE_BASE_URL=f"{stub_url}/api/v1",
            FLINT_TRADE_WAIT_SECONDS="0",
            FLINT_VENDOR_READ_TIMEOUT="60",
        )
        with running(tmp_path, env) as processes:
            processes.run("migrate", "migrate")
            yield processes, processes.start("api", "serve", api=True)

"""A local SnapTrade: a stateful fake of the partner API under ``/api/v1``, signatures checked.

Partner auth is verified the way SnapTrade documents it and its SDKs compute it (independently of
the adapter): ``clientId`` must be :data:`CLIENT_ID`; ``timestamp`` within five minutes of now;
``Signature`` = base64(HMAC-SHA256(:data:`CONSUMER_KEY`, canonical)), canonical being the
compact, key-sorted JSON of ``{"content": <parsed body, null when empty or {}>, "path": <raw
path, with /api/v1>, "query": <raw query string as received>}``. Any failure gets SnapTrade's
401 ``{"detail": "Unable to verify signature sent", "status_code": 401, "code": "1076"}``
(the text and code are SnapTrade's, from passiv/snaptrade-sdks issue #497 and its FAQ; that
SnapTrade answers a bad clientId or a stale timestamp with the same body is the stub's
simplification). User-scoped calls also need ``userId``/``userSecret``; a wrong pair gets
``{"detail": "Invalid userID or userSecret provided", "status_code": 401, "code": "1083"}``
(as seen in public SnapTrade client code, not in SnapTrade's own docs).

Flow: ``POST /snapTrade/registerUser {userId}`` gives a random ``userSecret`` (a second time:
400 code 1010). ``POST /snapTrade/login`` answers ``{redirectURI, sessionId}``; the redirect URI
points at ``GET /_portal?sessionId=...`` on this stub, which "connects" a brokerage (a new
brokerage authorization, type ``trade`` unless the login asked for ``read``) and redirects to
the login's ``customRedirect`` with ``?status=SUCCESS&authorizationId=<id>`` (the stub's
convention; it mirrors the ``{status, authorizationId}`` message SnapTrade's portal posts), or
answers ``{"authorizationId": ...}`` without one; a login with ``reconnect`` (a connection id of
the user) makes the portal repair that connection (enabled again, same id) instead. Tests may
skip the portal:
``POST /_connect {"userId", "broker": "ROBINHOOD"|"COINBASE", "type": "trade"|"read",
"disabled": false}`` -> ``{"authorizationId"}``.

Each ROBINHOOD connection gets one account copied from the samples (fresh id, its
``brokerage_authorization`` the connection's id): the account, balances (cash 300.71, buying
power 410.71), positions in both shapes, the sample's executed VAB.TO order (placed two days
ago, as the orders listing honours ``days``) and seven synthetic activities in SnapTrade's
UniversalActivity shape (no sample exists; a WITHDRAWAL of +50.00 is there on purpose, the way
some brokerages report it unsigned). COINBASE gives an empty crypto account (raw type
``Crypto``). Orders: ``POST /trade/place`` executes Market orders at once at :data:`QUOTES`,
leaves Limit/Stop/StopLimit orders PENDING, refuses an unknown symbol (400), a BUY costing more
than the buying power (400 "Insufficient buying power ...") and trading on a read-only
connection (the sample 403). Order records carry ``client_order_id``: an extension, as
SnapTrade's documented AccountOrderRecord has no such field. Cancel turns a PENDING order
CANCELED and refuses (400) one that is no longer open. ``DELETE /authorizations/{id}`` removes
the connection and its accounts.

Scenarios (:class:`tests.stubs.server.StubControl`): ``success``; transport ``500`` (the sample
500 body), ``429`` (``Retry-After: 0``), ``slow`` (sleeps ``delay`` first), ``html``,
``truncated``; ``revoked`` (every user-scoped call gets the 1083 401); ``missing`` (a 200 whose
objects lack their ids); ``insufficient_funds`` (the place call is refused); ``lost_response``
(the order is recorded, then a 500 is returned) and ``lost_response_timeout`` (recorded, then
the answer waits ``delay``); ``no_client_ids`` (order records without ``client_order_id``, as
SnapTrade documents them); ``no_positions_all`` (``/positions/all`` answers 404, as before it
existed). The state is ``app.state.snaptrade`` (:class:`SnapTradeState`).

Samples (tests/stubs/samples), provenance as recorded in the shared reference SOURCES.md. All
are reconstructed from passiv/snaptrade-sdks api.yaml (OpenAPI 3.0; MIT, Konfig Inc.): each
operation's 200 (or error) schema resolved and filled with the spec's own ``example`` values;
none is a captured response. Most use api.yaml at
passiv/snaptrade-sdks@e75ad55f42b353002a9c7508db1faac676c3cf07.

- snaptrade_accounts.json: GET /accounts 200 (array of Account). ``cash_restrictions`` was left
  empty (the spec gives no example).
- snaptrade_balances.json: GET /accounts/{accountId}/balances 200 (array of Balance).
- snaptrade_positions.json: GET /accounts/{accountId}/positions 200 (array of Position), from
  api.yaml at passiv/snaptrade-sdks@107e62bcbaaabdfc9f796b413ed15cbd1acb719e. The endpoint was
  already marked deprecated there and was removed from the spec in
  864575a873f25596fa4021331732c16db88305a5. The holdings endpoint still uses the Position schema.
- snaptrade_positions_all.json: GET /accounts/{accountId}/positions/all 200
  (AllAccountPositionsResponse), the new endpoint that replaces /positions. Its values are
  strings and it has an ``instrument.kind`` discriminator.
- snaptrade_place_order.json: POST /trade/place 200 (AccountOrderRecord). Edited so that it
  reads as one consistent executed market BUY: action "BUY" and time_in_force "Day" (the spec
  gives no example for either); status "EXECUTED" (the generator had picked the first enum
  value, NONE); quantities 100/0/0/100; the options, complex-order, trailing, crypto-quote,
  limit/stop and expiry fields set to null.
- snaptrade_orders.json: GET /accounts/{accountId}/orders 200: the same AccountOrderRecord as
  snaptrade_place_order.json, with the same edits, wrapped in an array.
- snaptrade_cancel_order.json: POST /accounts/{accountId}/trading/cancel 200
  (CancelOrderResponse).
- snaptrade_errors.json: error bodies keyed by HTTP status: 400, 403, 404
  (``{default_detail, default_code}``), 500 and 503 (``{detail, status_code, code}``), 501
  (``{error}``). Each comes from the matching response schema's examples.

The bodies of the stub's own refusals (unknown symbol, insufficient buying power, order not
open, duplicate user) are in SnapTrade's ``{detail, status_code, code?}`` shape with the stub's
wording.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app

SAMPLES = Path(__file__).parent / "samples"
API = "/api/v1"
CLIENT_ID = "FLINT-STUB"
CONSUMER_KEY = "stub-consumer-key-5f0c2b7e"
MAX_SKEW = 300
"""Seconds a request's timestamp may be away from the stub's clock."""
QUOTES = {"AAPL": Decimal("123.45"), "VAB.TO": Decimal("113.15")}
"""What Market orders execute at (the positions samples' prices)."""


@functools.cache
def _sample_text(name: str) -> str:
    return (SAMPLES / name).read_text()


def sample(name: str) -> Any:
    """A fresh copy of a sample, numbers as the exact Decimals of their text."""
    return json.loads(_sample_text(name), parse_float=Decimal)


ERRORS = sample("snaptrade_errors.json")
SIGNATURE_REFUSED = {
    "detail": "Unable to verify signature sent",
    "status_code": 401,
    "code": "1076",
}
USER_REFUSED = {
    "detail": "Invalid userID or userSecret provided",
    "status_code": 401,
    "code": "1083",
}


def _jsonable(value: Any) -> Any:
    """Decimals (exact from the samples) back to JSON numbers with the same text."""
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_jsonable(value))


def _fmt(value: Decimal) -> str:
    """A quantity as SnapTrade's order records write it (a decimal string)."""
    return format(value.normalize(), "f")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _refusal(status: int, detail: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "status_code": status}
    if code is not None:
        body["code"] = code
    return JSONResponse(body, status_code=status)


def _sample_error(status: int) -> Response:
    return Response(_dumps(ERRORS[str(status)]), status, media_type="application/json")


def canonical_signature(consumer_key: str, path: str, query: str, body: bytes) -> str:
    """The stub's own computation of what ``Signature`` must be."""
    content: Any = json.loads(body) if body else None
    if content == {}:
        content = None
    text = json.dumps(
        {"content": content, "path": path, "query": query}, separators=(",", ":"), sort_keys=True
    )
    digest = hmac.new(consumer_key.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _universal_symbol(symbol: str) -> dict[str, Any]:
    """The order records' ``universal_symbol`` for a symbol the stub trades."""
    if symbol == "VAB.TO":
        return copy.deepcopy(sample("snaptrade_place_order.json")["universal_symbol"])
    instrument = sample("snaptrade_positions_all.json")["results"][0]["instrument"]
    usd = {"id": "87b24961-b51e-4db8-9226-f198f6518a89", "code": "USD", "name": "US Dollar"}
    return {
        "id": instrument["id"],
        "symbol": instrument["symbol"],
        "raw_symbol": instrument["raw_symbol"],
        "description": instrument["description"],
        "currency": usd,
        "exchange": {"code": "NASDAQ", "mic_code": instrument["exchange"], "name": "NASDAQ"},
        "type": {"code": "cs", "description": "Common Stock", "is_supported": True},
        "figi_code": instrument["figi_instrument"]["figi_code"],
        "figi_instrument": instrument["figi_instrument"],
        "currencies": [usd],
    }


def _activities(account_id: str) -> list[dict[str, Any]]:
    """Synthetic activities in SnapTrade's UniversalActivity shape (no sample exists)."""
    usd = {"id": "87b24961-b51e-4db8-9226-f198f6518a89", "code": "USD", "name": "US Dollar"}
    rows = [
        ("CONTRIBUTION", "2024-07-25", None, None, None, "1000.00", "Deposit from bank"),
        ("BUY", "2024-07-26", "VAB.TO", "2", "113.15", "-226.30", "Bought 2 VAB.TO"),
        ("DIVIDEND", "2024-08-01", "VAB.TO", None, None, "1.44", "VAB.TO dividend"),
        ("FEE", "2024-08-02", None, None, None, "-4.99", "Gold subscription"),
        ("SELL", "2024-08-05", "AAPL", "-1", "123.45", "123.45", "Sold 1 AAPL"),
        ("WITHDRAWAL", "2024-08-10", None, None, None, "50.00", "Transfer to bank"),
        ("INTEREST", "2024-08-20", None, None, None, "0.07", "Cash interest"),
    ]
    out = []
    for n, (kind, day, symbol, units, price, amount, text) in enumerate(rows, start=1):
        out.append(
            {
                "id": f"act-{account_id[:8]}-{n}",
                "account": {"id": account_id, "name": "Robinhood Individual"},
                "symbol": _universal_symbol(symbol) if symbol else None,
                "option_symbol": None,
                "price": Decimal(price) if price else None,
                "units": Decimal(units) if units else None,
                "amount": Decimal(amount),
                "currency": usd,
                "type": kind,
                "option_type": "",
                "description": text,
                "trade_date": f"{day}T00:00:00Z",
                "settlement_date": f"{day}T00:00:00Z",
                "fee": Decimal(0),
                "fx_rate": None,
                "institution": "Robinhood",
                "external_reference_id": None,
            }
        )
    return out


@dataclass
class Account:
    raw: dict[str, Any]
    connection_id: str
    balances: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    positions_all: dict[str, Any]
    activities: list[dict[str, Any]]
    orders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.raw["id"])


@dataclass
class Connection:
    id: str
    user_id: str
    broker: str
    type: str
    disabled: bool = False
    created: str = field(default_factory=lambda: _iso(datetime.now(UTC)))


@dataclass
class User:
    user_id: str
    secret: str


@dataclass
class PortalSession:
    user_id: str
    connection_type: str
    redirect: str | None
    reconnect: str | None = None
    """The connection the portal repairs (the login's ``reconnect``), rather than adding one."""


@dataclass
class SnapTradeState:
    users: dict[str, User] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    sessions: dict[str, PortalSession] = field(default_factory=dict)

    def connect(
        self, user_id: str, broker: str = "ROBINHOOD", kind: str = "trade", disabled: bool = False
    ) -> str:
        """A new brokerage authorization for ``user_id`` with its account; returns its id."""
        connection = Connection(str(uuid.uuid4()), user_id, broker, kind, disabled)
        self.connections[connection.id] = connection
        raw = copy.deepcopy(sample("snaptrade_accounts.json")[0])
        raw["id"] = str(uuid.uuid4())
        raw["brokerage_authorization"] = connection.id
        if broker == "COINBASE":
            raw.update(
                name="Coinbase",
                number="CB00004217",
                institution_name="Coinbase",
                raw_type="Crypto",
                meta={"type": "Crypto", "status": "ACTIVE", "institution_name": "Coinbase"},
                balance={"total": {"amount": Decimal("2500.50"), "currency": "USD"}},
            )
            balances = [
                {
                    "currency": {"code": "USD", "name": "US Dollar"},
                    "cash": Decimal("2500.50"),
                    "buying_power": Decimal("2500.50"),
                }
            ]
            account = Account(raw, connection.id, balances, [], {"results": []}, [])
        else:
            historical = copy.deepcopy(sample("snaptrade_orders.json")[0])
            two_days_ago = _iso(datetime.now(UTC) - timedelta(days=2))
            historical.update(
                time_placed=two_days_ago, time_updated=two_days_ago, time_executed=two_days_ago
            )
            account = Account(
                raw,
                connection.id,
                sample("snaptrade_balances.json"),
                sample("snaptrade_positions.json"),
                sample("snaptrade_positions_all.json"),
                _activities(raw["id"]),
                [historical],
            )
        self.accounts[account.id] = account
        return connection.id

    def user_accounts(self, user_id: str) -> list[Account]:
        return [
            a
            for a in self.accounts.values()
            if self.connections[a.connection_id].user_id == user_id
        ]

    def account_of(self, user_id: str, account_id: str) -> Account | None:
        account = self.accounts.get(account_id)
        if account is None or self.connections[account.connection_id].user_id != user_id:
            return None
        return account

    def orders_placed(self) -> list[dict[str, Any]]:
        """Every order placed through ``/trade/place`` (the seeded ones left out)."""
        return [o for a in self.accounts.values() for o in a.orders if "client_order_id" in o]


@dataclass
class Call:
    """What a handler gets: the request, its parsed body and the signed-in user."""

    request: Request
    body: Any
    user: User | None
    scenario: str
    account: Account | None = None


def create_app() -> Starlette:
    control = StubControl()
    state = SnapTradeState()

    def authenticate(request: Request, raw_body: bytes) -> Response | None:
        params = request.query_params
        if params.get("clientId") != CLIENT_ID:
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        try:
            stamp = int(params.get("timestamp", ""))
        except ValueError:
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        if abs(time.time() - stamp) > MAX_SKEW:
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.split(b"?", 1)[0].decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        try:
            expected = canonical_signature(CONSUMER_KEY, path, query, raw_body)
        except ValueError:
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        sent = request.headers.get("signature", "")
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        return None

    def signed_in(request: Request) -> User | None:
        user = state.users.get(request.query_params.get("userId", ""))
        secret = request.query_params.get("userSecret", "")
        if user is None or not hmac.compare_digest(user.secret.encode(), secret.encode()):
            return None
        return user

    def endpoint(handler: Any, *, user_scoped: bool = True, account: bool = False) -> Any:
        async def route(request: Request) -> Response:
            scenario = control.record(request)
            raw_body = await request.body()
            if scenario == "500":
                return _sample_error(500)
            if scenario == "429":
                detail = "Request was throttled. Expected available in 1 second."
                return JSONResponse({"detail": detail}, 429, headers={"Retry-After": "0"})
            if scenario == "slow":
                await asyncio.sleep(control.delay)
            if scenario == "html":
                return HTMLResponse("<!DOCTYPE html><html><body>Maintenance</body></html>")
            refused = authenticate(request, raw_body)
            if refused is not None:
                return refused
            user = None
            if user_scoped:
                user = signed_in(request)
                if user is None or scenario == "revoked":
                    return JSONResponse(USER_REFUSED, status_code=401)
            try:
                body = json.loads(raw_body, parse_float=Decimal) if raw_body else None
            except ValueError:
                return _refusal(400, "The request body is not valid JSON")
            call = Call(request, body, user, scenario)
            if account:
                assert user is not None
                found = state.account_of(user.user_id, request.path_params["account_id"])
                if found is None:
                    return _sample_error(404)
                call.account = found
            result = await handler(call)
            if isinstance(result, Response):
                return result
            status, payload = result
            text = _dumps(payload)
            if scenario == "truncated":
                text = text[: len(text) // 2]
            return Response(text, status, media_type="application/json")

        return route

    # --- users and connections ----------------------------------------------------------------

    async def register(call: Call) -> Any:
        user_id = call.body.get("userId") if isinstance(call.body, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return _refusal(400, "userId is required")
        if user_id in state.users:
            detail = f"User with the following userId already exist: '{user_id}'"
            return _refusal(400, detail, "1010")
        user = User(user_id, str(uuid.uuid4()))
        state.users[user_id] = user
        return 200, {"userId": user.user_id, "userSecret": user.secret}

    async def login(call: Call) -> Any:
        assert call.user is not None
        body = call.body if isinstance(call.body, dict) else {}
        session_id = str(uuid.uuid4())
        redirect, reconnect = body.get("customRedirect"), body.get("reconnect")
        state.sessions[session_id] = PortalSession(
            call.user.user_id,
            str(body.get("connectionType") or "read"),
            redirect if isinstance(redirect, str) else None,
            reconnect if isinstance(reconnect, str) else None,
        )
        token = secrets.token_urlsafe(24)
        portal = f"{call.request.base_url}_portal?" + urlencode(
            {"token": token, "clientId": CLIENT_ID, "sessionId": session_id}
        )
        return 200, {"redirectURI": portal, "sessionId": session_id}

    async def portal(request: Request) -> Response:
        session = state.sessions.pop(request.query_params.get("sessionId", ""), None)
        if session is None:
            return HTMLResponse("<p>This link has expired.</p>", status_code=404)
        kind = "read" if session.connection_type == "read" else "trade"
        repaired = state.connections.get(session.reconnect or "")
        if repaired is not None and repaired.user_id == session.user_id:
            repaired.disabled = False
            authorization_id = repaired.id
        else:
            authorization_id = state.connect(session.user_id, kind=kind)
        if session.redirect:
            joiner = "&" if "?" in session.redirect else "?"
            query = urlencode({"status": "SUCCESS", "authorizationId": authorization_id})
            return RedirectResponse(f"{session.redirect}{joiner}{query}", status_code=302)
        return JSONResponse({"authorizationId": authorization_id})

    async def connect(request: Request) -> Response:
        body = await request.json()
        user_id = body.get("userId")
        if user_id not in state.users:
            return JSONResponse({"detail": "unknown user"}, status_code=404)
        authorization_id = state.connect(
            user_id,
            str(body.get("broker", "ROBINHOOD")),
            str(body.get("type", "trade")),
            bool(body.get("disabled", False)),
        )
        return JSONResponse({"authorizationId": authorization_id})

    def _connection(call: Call) -> Connection | None:
        assert call.user is not None
        found = state.connections.get(call.request.path_params["authorization_id"])
        return found if found is not None and found.user_id == call.user.user_id else None

    async def authorization(call: Call) -> Any:
        found = _connection(call)
        if found is None:
            return _sample_error(404)
        name = "Coinbase" if found.broker == "COINBASE" else "Robinhood"
        return 200, {
            "id": found.id,
            "created_date": found.created,
            "brokerage": {
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, found.broker)),
                "slug": found.broker,
                "name": name,
                "display_name": name,
                "allows_trading": True,
                "enabled": True,
                "maintenance_mode": False,
            },
            "name": f"Connection-{found.id[:4]}",
            "type": found.type,
            "disabled": found.disabled,
            "disabled_date": _iso(datetime.now(UTC)) if found.disabled else None,
            "meta": {},
        }

    async def remove_authorization(call: Call) -> Any:
        found = _connection(call)
        if found is None:
            return _sample_error(404)
        del state.connections[found.id]
        for account_id in [a.id for a in state.accounts.values() if a.connection_id == found.id]:
            del state.accounts[account_id]
        return Response(status_code=204)

    # --- account data -------------------------------------------------------------------------

    def _without_ids(items: list[dict[str, Any]], key: str, scenario: str) -> list[Any]:
        if scenario != "missing":
            return items
        return [{k: v for k, v in item.items() if k != key} for item in items]

    async def accounts(call: Call) -> Any:
        assert call.user is not None
        raws = [a.raw for a in state.user_accounts(call.user.user_id)]
        return 200, _without_ids(raws, "id", call.scenario)

    async def account_detail(call: Call) -> Any:
        assert call.account is not None
        return 200, call.account.raw

    async def balances(call: Call) -> Any:
        assert call.account is not None
        return 200, call.account.balances

    async def positions(call: Call) -> Any:
        assert call.account is not None
        return 200, call.account.positions

    async def positions_all(call: Call) -> Any:
        assert call.account is not None
        if call.scenario == "no_positions_all":
            return _sample_error(404)
        return 200, call.account.positions_all

    async def activities(call: Call) -> Any:
        assert call.account is not None
        params = call.request.query_params
        start, end = params.get("startDate"), params.get("endDate")
        rows = [
            a
            for a in call.account.activities
            if (not start or a["trade_date"][:10] >= start)
            and (not end or a["trade_date"][:10] <= end)
        ]
        offset, limit = int(params.get("offset", "0")), int(params.get("limit", "1000"))
        page = _without_ids(rows[offset : offset + limit], "id", call.scenario)
        pagination = {"offset": offset, "limit": limit, "total": len(rows)}
        return 200, {"data": page, "pagination": pagination}

    def _record(order: dict[str, Any], scenario: str) -> dict[str, Any]:
        if scenario == "no_client_ids":
            return {k: v for k, v in order.items() if k != "client_order_id"}
        return order

    async def orders(call: Call) -> Any:
        assert call.account is not None
        params = call.request.query_params
        state_filter = params.get("state", "all")
        days = int(params.get("days", "30"))
        since = datetime.now(UTC) - timedelta(days=days)
        listed = []
        for order in call.account.orders:
            if datetime.fromisoformat(order["time_placed"]) < since:
                continue
            if state_filter == "open" and order["status"] != "PENDING":
                continue
            if state_filter == "executed" and order["status"] != "EXECUTED":
                continue
            listed.append(_record(order, call.scenario))
        return 200, _without_ids(listed, "brokerage_order_id", call.scenario)

    # --- trading ------------------------------------------------------------------------------

    async def place(call: Call) -> Any:
        assert call.user is not None
        body = call.body if isinstance(call.body, dict) else {}
        account = state.account_of(call.user.user_id, str(body.get("account_id", "")))
        if account is None:
            return _sample_error(404)
        if state.connections[account.connection_id].type != "trade":
            return _sample_error(403)
        symbol = str(body.get("symbol", ""))
        if symbol not in QUOTES:
            return _refusal(400, f"Symbol {symbol} could not be found at this brokerage")
        action, kind = body.get("action"), body.get("order_type")
        units, limit, stop = body.get("units"), body.get("price"), body.get("stop")
        if action not in ("BUY", "SELL") or kind not in ("Market", "Limit", "Stop", "StopLimit"):
            return _refusal(400, "action or order_type is not valid")
        if not isinstance(units, Decimal | int) or units <= 0:
            return _refusal(400, "units must be a positive number")
        if kind in ("Limit", "StopLimit") and limit is None:
            return _refusal(400, "price is required for Limit and StopLimit orders")
        if kind in ("Stop", "StopLimit") and stop is None:
            return _refusal(400, "stop is required for Stop and StopLimit orders")
        units = Decimal(units)
        price = QUOTES[symbol] if kind == "Market" else Decimal(limit or stop)
        buying_power = Decimal(account.balances[0]["buying_power"])
        if call.scenario == "insufficient_funds" or (
            action == "BUY" and units * price > buying_power
        ):
            detail = f"Insufficient buying power to place this order ({buying_power} available)"
            return _refusal(400, detail)
        now = _iso(datetime.now(UTC))
        executed = kind == "Market"
        order = copy.deepcopy(sample("snaptrade_place_order.json"))
        order.update(
            brokerage_order_id=str(uuid.uuid4()),
            status="EXECUTED" if executed else "PENDING",
            universal_symbol=_universal_symbol(symbol),
            action=action,
            total_quantity=_fmt(units),
            open_quantity="0" if executed else _fmt(units),
            canceled_quantity="0",
            filled_quantity=_fmt(units) if executed else "0",
            execution_price=QUOTES[symbol] if executed else None,
            limit_price=Decimal(limit) if limit is not None else None,
            stop_price=Decimal(stop) if stop is not None else None,
            order_type=kind,
            time_in_force=str(body.get("time_in_force", "Day")),
            time_placed=now,
            time_updated=now,
            time_executed=now if executed else None,
            symbol=str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
            client_order_id=body.get("client_order_id"),
        )
        account.orders.append(order)
        if call.scenario == "lost_response":
            return _sample_error(500)
        if call.scenario == "lost_response_timeout":
            await asyncio.sleep(control.delay)
        return 200, _record(order, call.scenario)

    async def cancel(call: Call) -> Any:
        assert call.account is not None
        wanted = call.body.get("brokerage_order_id") if isinstance(call.body, dict) else None
        order = next((o for o in call.account.orders if o["brokerage_order_id"] == wanted), None)
        if order is None:
            return _sample_error(404)
        if order["status"] != "PENDING":
            return _refusal(400, f"Order {wanted} is {order['status']} and cannot be cancelled")
        order.update(
            status="CANCELED",
            canceled_quantity=order["open_quantity"],
            open_quantity="0",
            time_updated=_iso(datetime.now(UTC)),
        )
        answer = sample("snaptrade_cancel_order.json")
        answer["brokerage_order_id"] = wanted
        return 200, answer

    account_path = API + "/accounts/{account_id}"
    app = stub_app(
        [
            Route("/_portal", portal, methods=["GET"]),
            Route("/_connect", connect, methods=["POST"]),
            Route(
                API + "/snapTrade/registerUser",
                endpoint(register, user_scoped=False),
                methods=["POST"],
            ),
            Route(API + "/snapTrade/login", endpoint(login), methods=["POST"]),
            Route(
                API + "/authorizations/{authorization_id}",
                endpoint(authorization),
                methods=["GET"],
            ),
            Route(
                API + "/authorizations/{authorization_id}",
                endpoint(remove_authorization),
                methods=["DELETE"],
            ),
            Route(API + "/accounts", endpoint(accounts), methods=["GET"]),
            Route(account_path, endpoint(account_detail, account=True), methods=["GET"]),
            Route(account_path + "/balances", endpoint(balances, account=True), methods=["GET"]),
            Route(account_path + "/positions", endpoint(positions, account=True), methods=["GET"]),
            Route(
                account_path + "/positions/all",
                endpoint(positions_all, account=True),
                methods=["GET"],
            ),
            Route(
                account_path + "/activities", endpoint(activities, account=True), methods=["GET"]
            ),
            Route(account_path + "/orders", endpoint(orders, account=True), methods=["GET"]),
            Route(
                account_path + "/trading/cancel", endpoint(cancel, account=True), methods=["POST"]
            ),
            Route(API + "/trade/place", endpoint(place), methods=["POST"]),
        ],
        control,
    )
    app.state.snaptrade = state
    return app

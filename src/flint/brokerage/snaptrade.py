"""``snaptrade``: brokerage accounts, holdings, activities and trading through SnapTrade.

Identity and links. A Flint user is one SnapTrade user: `register` creates it with
``userId`` = Flint's user key and keeps SnapTrade's ``userSecret`` (``{"userId", "userSecret"}``
is the `Identity`). `connect_url` asks for a Connection Portal link (``connectionType``
``trade-if-available``, ``customRedirect`` = the redirect URL, with ``immediateRedirect``). The
portal hands back the connection's id (SnapTrade's "brokerage authorization"); `link` takes it
as the auth code, checks it with ``GET /authorizations/{id}`` (unknown: `LinkRefused`) and keeps
the accounts whose ``brokerage_authorization`` is that id. The link's `Credentials` are
``{"authorizationId": id}``; `unlink` deletes that connection (``DELETE /authorizations/{id}``;
one SnapTrade no longer knows counts as removed).

Partner auth (every request): ``clientId`` and ``timestamp`` (Unix seconds, fresh on every
attempt) lead the query string, user-scoped calls add ``userId`` and ``userSecret``, and the
``Signature`` header is :func:`signature` of the request exactly as sent: base64 of
HMAC-SHA256, keyed by the consumer key, over the compact, key-sorted JSON
``{"content": <JSON body, or null when there is none or it is {}>, "path": "/api/v1/...",
"query": "<the raw query string>"}``. That is what SnapTrade's own Python SDK computes
(passiv/snaptrade-sdks ``sdks/python/snaptrade_client/request_after_hook.py``) and its
"Request Signatures" page documents. The consumer key, the user secret and signatures are never
logged or put in an error.

Mapping:

* Accounts: ``id``, ``name`` (else the institution's), ``institution_name``, ``mask`` = the last
  four characters of ``number``, ``currency`` = ``balance.total.currency`` (USD when SnapTrade
  gives no total). CRYPTO when the account's raw type, meta type or category says "crypto" or
  the institution is a known crypto exchange, else BROKERAGE. ``can_trade`` when the connection
  is trade-enabled (``type`` ``trade``), not disabled, its brokerage allows trading, and the
  account is not closed.
* Balances: ``current`` = ``balance.total.amount`` (cash plus positions; summed from the cash
  balance and the holdings when SnapTrade gives no total), ``cash`` and ``buying_power`` from
  the balance in the account's currency, ``available`` = that cash.
* Holdings: ``GET /accounts/{id}/positions/all`` (string values, ``instrument``); on a 404 the
  deprecated ``/positions`` (numbers, nested ``symbol.symbol``). ``cost_basis`` is the total:
  the per-unit ``cost_basis`` (new) or ``average_purchase_price`` (old) times the units.
* Transactions: ``GET /accounts/{id}/activities`` (``startDate`` = ``since``), paged with
  ``offset``/``limit`` until ``pagination.total``. SnapTrade signs ``amount`` from the holder's
  side, but brokerages are not all consistent, so for the kinds whose direction is certain the
  sign is forced (BUY, WITHDRAWAL, FEE, TAX out; SELL, DIVIDEND, CONTRIBUTION, INTEREST, ...
  in). ``date`` is ``trade_date`` (else ``settlement_date``); newest first.
* Money is Decimal from the JSON text (numbers and numeric strings alike), never via float.

Orders. `place_order` is ``POST /trade/place`` (Market/Limit/Stop/StopLimit, Day/GTC/FOK/IOC,
``units``, ``price``/``stop``, ``client_order_id``), sent once (``retry=False``): a timeout,
5xx or 429 raises and the caller asks `find_order` before trying again. A 4xx is
`OrderRejected` with SnapTrade's message (insufficient funds, unknown symbol, read-only
connection), except a 401, which is the link or Flint's API key (below). SnapTrade wants a UUID
as ``client_order_id``; a Flint id that is not one is sent as a UUIDv5 of it (the same in
`find_order`). SnapTrade passes ``client_order_id`` on to the broker but does not enforce that
it is unique, and its documented order record (AccountOrderRecord) has no such field:

* `find_order` lists the account's orders (``/accounts/{id}/orders?state=all``) and matches
  ``client_order_id`` when the records carry it; several matches give the oldest (and a
  warning). When no record carries the field, it falls back to what this process sent (symbol,
  side, quantity, placed after sending); when it has no such memory either it raises
  ProviderError rather than answer "not placed", which could place the order twice.
* `place_order` first asks `find_order` when this process has sent that ``client_order_id``
  before, and returns the existing order instead of placing a second one.
* Statuses: EXECUTED filled; PARTIALLY_EXECUTED/PARTIAL partially filled; REJECTED and FAILED
  rejected; CANCELED and PARTIAL_CANCELED canceled; EXPIRED expired; every other known status
  (PENDING, ACCEPTED, QUEUED, TRIGGERED, ACTIVATED, CANCEL_PENDING, REPLACE_PENDING, REPLACED,
  STOPPED, SUSPENDED, PENDING_RISK_REVIEW, CONTINGENT_ORDER, NONE) submitted; an unknown one
  submitted too (logged), as it is not known to be final.
* `get_order` finds the order in the same list; `cancel_order` is
  ``POST /accounts/{id}/trading/cancel`` and returns the order as it then stands (a cancel
  SnapTrade refuses with a 400, say for an order already filled, still returns the order).

Failures: 5xx, 429 and timeouts are `ProviderUnavailable`/`ProviderThrottled` after
`VendorClient`'s retries (GETs, DELETEs and the other safe POSTs). A 401/403 that is about
Flint's partner credentials (code 1076 "Unable to verify signature sent", or a clientId or
timestamp complaint) is a plain ProviderError naming the consumer key and the clock: the links
are fine and must not be dropped. Any other 401/403, or a 404 for an account or connection, is
`AccountGone` (`LinkRefused` in `link`), with SnapTrade's ``detail`` as the reason. Bodies that
are not JSON or lack required fields are `ProviderGarbage`. `register` for a user SnapTrade
already has, and `get_order` for an order not in the last :data:`ORDER_HISTORY_DAYS` days, raise
the plain AccountProviderError.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import httpx
import structlog
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.brokerage.types import (
    AccountGone,
    AccountProviderError,
    AccountType,
    Balances,
    Capability,
    Credentials,
    Holding,
    Identity,
    Link,
    LinkRefused,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProviderAccount,
    TimeInForce,
    Transaction,
)
from flint.kit.http import VendorClient, VendorPolicy
from flint.kit.vendor_errors import ProviderError, ProviderGarbage

log = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://api.snaptrade.com/api/v1"
USER_ID = "userId"
USER_SECRET = "userSecret"  # noqa: S105 (the identity key, not a secret)
AUTHORIZATION_ID = "authorizationId"

ACTIVITY_PAGE_SIZE = 1000
"""Activities asked for per page (SnapTrade's maximum)."""
MAX_PAGES = 1000
"""A guard against a listing that never ends."""
ORDER_HISTORY_DAYS = 30
"""How far back `find_order` and `get_order` look (``days`` of the orders listing)."""
PLACED_SKEW = timedelta(minutes=2)
"""Clock difference allowed between Flint and the broker when matching an order by what was
sent (see `find_order`)."""
_MEMORY = 1000
"""Orders this process remembers having sent."""

_PARTNER_AUTH_CODES = frozenset({"1076"})
_PARTNER_AUTH_WORDS = ("signature", "clientid", "client id", "timestamp")
_CLIENT_ORDER_NAMESPACE = uuid.UUID("5d2c4f8e-6a0b-4c1e-9a57-3f1b2e8d7c60")

_ORDER_TYPES = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "StopLimit",
}
_TIME_IN_FORCE = {
    TimeInForce.DAY: "Day",
    TimeInForce.GTC: "GTC",
    TimeInForce.FOK: "FOK",
    TimeInForce.IOC: "IOC",
}
_STATUSES = {
    "EXECUTED": OrderStatus.FILLED,
    "PARTIALLY_EXECUTED": OrderStatus.PARTIALLY_FILLED,
    "PARTIAL": OrderStatus.PARTIALLY_FILLED,
    "REJECTED": OrderStatus.REJECTED,
    "FAILED": OrderStatus.REJECTED,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "PARTIAL_CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    **dict.fromkeys(
        (
            "NONE",
            "PENDING",
            "ACCEPTED",
            "QUEUED",
            "TRIGGERED",
            "ACTIVATED",
            "CANCEL_PENDING",
            "REPLACE_PENDING",
            "REPLACED",
            "STOPPED",
            "SUSPENDED",
            "PENDING_RISK_REVIEW",
            "CONTINGENT_ORDER",
        ),
        OrderStatus.SUBMITTED,
    ),
}
_INFLOWS = frozenset(
    {"SELL", "DIVIDEND", "CONTRIBUTION", "DEPOSIT", "INTEREST", "REBATE", "GOV_GRANT"}
)
_OUTFLOWS = frozenset({"BUY", "WITHDRAWAL", "FEE", "TAX"})
_KINDS = {
    "BUY": "buy",
    "SELL": "sell",
    "DIVIDEND": "dividend",
    "CONTRIBUTION": "deposit",
    "DEPOSIT": "deposit",
    "WITHDRAWAL": "withdrawal",
    "INTEREST": "interest",
    "FEE": "fee",
    "TAX": "tax",
    "REI": "reinvestment",
    "STOCK_DIVIDEND": "stock_dividend",
    "TRANSFER": "transfer",
}
_CRYPTO_INSTITUTIONS = frozenset(
    {
        "binance",
        "binance.us",
        "bitfinex",
        "bitstamp",
        "bybit",
        "coinbase",
        "crypto.com",
        "gemini",
        "kraken",
        "kucoin",
        "okx",
        "uphold",
    }
)


def _unix_time() -> float:
    """The clock the ``timestamp`` parameter is read from (tests move it)."""
    return time.time()


def signature(consumer_key: str, path: str, query: str, content: bytes | None) -> str:
    """SnapTrade's ``Signature`` header for a request to ``path`` (with ``/api/v1``) with the raw
    query string ``query`` (no ``?``) and body ``content`` (JSON bytes, or None)."""
    body: Any = json.loads(content) if content else None
    if body == {}:
        body = None
    canonical = json.dumps(
        {"content": body, "path": path, "query": query}, separators=(",", ":"), sort_keys=True
    )
    digest = hmac.new(consumer_key.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Signer(httpx.Auth):
    """Puts ``clientId`` and a fresh ``timestamp`` first in the query and signs the request as it
    will be sent (so every retry is signed anew)."""

    def __init__(self, client_id: str, consumer_key: str) -> None:
        self._client_id = client_id
        self._consumer_key = consumer_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        rest = [
            (key, value)
            for key, value in request.url.params.multi_items()
            if key not in ("clientId", "timestamp")
        ]
        stamp = str(int(_unix_time()))
        request.url = request.url.copy_with(
            params=[("clientId", self._client_id), ("timestamp", stamp), *rest]
        )
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        request.headers["Signature"] = signature(
            self._consumer_key, path, query, request.content or None
        )
        yield request


@dataclass(frozen=True)
class _Sent:
    """An order this process sent, to recognise it when SnapTrade does not echo its id."""

    account_id: str
    symbol: str
    action: OrderAction
    quantity: Decimal
    at: datetime


class SnapTradeProvider:
    """SnapTrade adapter; see the module docstring for auth, mapping and conventions.

    ``client_id`` and ``consumer_key`` are the partner API key pair from SnapTrade's dashboard.
    ``base_url`` includes ``/api/v1`` (its path is part of what is signed).
    """

    name = "snaptrade"
    capabilities = frozenset(
        {
            Capability.BALANCES,
            Capability.HOLDINGS,
            Capability.TRANSACTIONS,
            Capability.TRADING,
            Capability.PORTAL,
        }
    )
    activities_page_size = ACTIVITY_PAGE_SIZE

    def __init__(
        self,
        client_id: str,
        consumer_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        policy: VendorPolicy | None = None,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not client_id or not consumer_key:
            raise ValueError("snaptrade needs a client id and a consumer key")
        self._base_path = urlsplit(base_url).path.rstrip("/")
        self._signer = _Signer(client_id, consumer_key)
        self._sent: dict[str, _Sent] = {}
        self._http = VendorClient(
            self.name,
            base_url.rstrip("/"),
            policy,
            headers={"Accept": "application/json"},
            storage=storage,
            breakers=breakers,
            transport=transport,
        )

    def __repr__(self) -> str:  # keep the consumer key out of any repr
        return f"SnapTradeProvider(base_path={self._base_path!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- users and links ----------------------------------------------------------------------

    async def register(self, user_key: str) -> Identity:
        """``POST /snapTrade/registerUser``. SnapTrade gives a user's secret only once, so a
        user that already exists (its secret lost) is an AccountProviderError."""
        if not user_key:
            raise ValueError("user_key must not be empty")
        response = await self._call(
            "POST", "/snapTrade/registerUser", body={"userId": user_key}, retry=True
        )
        if response.status_code == httpx.codes.BAD_REQUEST:
            detail, _ = self._error(response)
            raise AccountProviderError(
                self.name, f"SnapTrade refused to register the user: {detail}"
            )
        body = self._ok(response, "the registered user", gone=AccountProviderError)
        if not isinstance(body, dict):
            raise ProviderGarbage(self.name, "the registered user is not an object")
        return {
            USER_ID: self._str(body, "userId", "the registered user"),
            USER_SECRET: self._str(body, "userSecret", "the registered user"),
        }

    async def connect_url(self, identity: Identity, *, redirect_url: str | None) -> str:
        """``POST /snapTrade/login``: the Connection Portal link (valid for five minutes)."""
        user = self._identity(identity)
        body: dict[str, Any] = {"connectionType": "trade-if-available"}
        if redirect_url:
            body["customRedirect"] = redirect_url
            body["immediateRedirect"] = True
        response = await self._call("POST", "/snapTrade/login", user=user, body=body, retry=True)
        data = self._ok(response, "the portal link")
        if not isinstance(data, dict):
            raise ProviderGarbage(self.name, "the portal link is not an object")
        url = self._str(data, "redirectURI", "the portal link")
        if not url.startswith(("https://", "http://")):
            raise ProviderGarbage(self.name, "the portal link is not a URL")
        return url

    async def link(self, identity: Identity, auth_code: str) -> Link:
        """``auth_code`` is the connection (brokerage authorization) id the portal gave back."""
        user = self._identity(identity)
        authorization_id = auth_code.strip()
        if not _is_uuid(authorization_id):
            raise LinkRefused(self.name, "that is not a SnapTrade connection id")
        tradable = await self._authorization(user, authorization_id, gone=LinkRefused)
        accounts = await self._accounts_of(user, authorization_id, tradable, gone=LinkRefused)
        if not accounts:
            raise LinkRefused(self.name, "the connection has no accounts")
        return Link(credentials={AUTHORIZATION_ID: authorization_id}, accounts=accounts)

    async def unlink(self, identity: Identity, credentials: Credentials) -> None:
        """``DELETE /authorizations/{id}``; a connection or user SnapTrade no longer knows is
        already unlinked."""
        authorization_id = credentials.get(AUTHORIZATION_ID)
        if not authorization_id or not _is_uuid(authorization_id):
            return
        try:
            user = self._identity(identity)
        except AccountGone:
            return
        response = await self._call(
            "DELETE", f"/authorizations/{_seg(authorization_id)}", user=user
        )
        if response.is_success:
            return
        try:
            self._refused(response)
        except AccountGone:
            return

    # --- data ---------------------------------------------------------------------------------

    async def accounts(self, identity: Identity, credentials: Credentials) -> list[ProviderAccount]:
        user = self._identity(identity)
        authorization_id = self._authorization_id(credentials)
        tradable = await self._authorization(user, authorization_id, gone=AccountGone)
        return await self._accounts_of(user, authorization_id, tradable, gone=AccountGone)

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances:
        user = self._identity(identity)
        account = await self._get(user, f"/accounts/{_seg(account_id)}", "the account")
        if not isinstance(account, dict):
            raise ProviderGarbage(self.name, "the account is not an object")
        currency, total = self._account_total(account)
        rows = self._list(
            await self._get(user, f"/accounts/{_seg(account_id)}/balances", "the balances"),
            "the balances",
        )
        row = self._balance_row(rows, currency)
        cash = self._opt_dec(row.get("cash"), "the cash balance") if row else None
        buying_power = self._opt_dec(row.get("buying_power"), "the buying power") if row else None
        if total is None:
            held = await self.holdings(identity, credentials, account_id)
            total = (cash or Decimal(0)) + sum(
                (h.quantity * h.price for h in held if h.price is not None),
                Decimal(0),
            )
        return Balances(
            currency=currency, current=total, available=cash, cash=cash, buying_power=buying_power
        )

    async def holdings(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> list[Holding]:
        user = self._identity(identity)
        base = f"/accounts/{_seg(account_id)}"
        response = await self._call("GET", f"{base}/positions/all", user=user)
        if response.status_code == httpx.codes.NOT_FOUND:
            legacy = self._list(await self._get(user, f"{base}/positions", "the positions"), "")
            return [self._legacy_position(raw) for raw in legacy]
        body = self._ok(response, "the positions")
        if not isinstance(body, dict):
            raise ProviderGarbage(self.name, "the positions are not an object")
        results = self._list(body.get("results"), "the positions")
        return [self._position(raw) for raw in results]

    async def transactions(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        *,
        since: date | None = None,
    ) -> list[Transaction]:
        user = self._identity(identity)
        path = f"/accounts/{_seg(account_id)}/activities"
        size = self.activities_page_size
        seen: set[str] = set()
        out: list[Transaction] = []
        offset = 0
        for _ in range(MAX_PAGES):
            params = {"offset": str(offset), "limit": str(size)}
            if since is not None:
                params["startDate"] = since.isoformat()
            body = await self._get(user, path, "the activities", params)
            total: int | None = None
            if isinstance(body, dict):
                items = self._list(body.get("data"), "the activities")
                pagination = body.get("pagination")
                if isinstance(pagination, dict) and type(pagination.get("total")) is int:
                    total = pagination["total"]
            else:
                items = self._list(body, "the activities")
            for raw in items:
                txn = self._transaction(raw)
                if txn.id in seen or (since is not None and txn.date < since):
                    continue
                seen.add(txn.id)
                out.append(txn)
            offset += len(items)
            finished = total is not None and offset >= total
            if not items or finished or (total is None and len(items) < size):
                break
        else:
            raise ProviderGarbage(self.name, f"the activities did not end in {MAX_PAGES} pages")
        out.sort(key=lambda t: t.date, reverse=True)
        return out

    # --- trading ------------------------------------------------------------------------------

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        user = self._identity(identity)
        body = self._order_body(order)
        if order.client_order_id in self._sent:
            existing = await self.find_order(
                identity, credentials, order.account_id, order.client_order_id
            )
            if existing is not None:
                log.info(
                    "snaptrade_order_already_placed",
                    account_id=order.account_id,
                    client_order_id=order.client_order_id,
                    provider_order_id=existing.provider_order_id,
                )
                return existing
        self._remember(order)
        response = await self._call("POST", "/trade/place", user=user, body=body, retry=False)
        if not response.is_success:
            if response.status_code == httpx.codes.UNAUTHORIZED:
                self._refused(response)
            detail, _ = self._error(response)
            raise OrderRejected(self.name, detail)
        raw = self._json(response, "the placed order")
        if not isinstance(raw, dict):
            raise ProviderGarbage(self.name, "the placed order is not an object")
        return self._order(raw, order.client_order_id)

    async def find_order(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        client_order_id: str,
        *,
        request: OrderRequest | None = None,
    ) -> Order | None:
        user = self._identity(identity)
        records = await self._orders(user, account_id)
        wanted = _vendor_client_id(client_order_id)
        if any("client_order_id" in raw for raw in records):
            matches = [
                raw for raw in records if raw.get("client_order_id") in (wanted, client_order_id)
            ]
        elif not records:
            return None
        else:
            sent = self._sent.get(client_order_id)
            if sent is None and request is not None and request.not_before is not None:
                # Another process sent it (a worker that died): Flint's own record says what.
                sent = _Sent(
                    request.account_id,
                    request.symbol.upper(),
                    request.action,
                    request.quantity,
                    request.not_before - PLACED_SKEW,
                )
            if sent is None or sent.account_id != account_id:
                raise ProviderError(
                    self.name,
                    "SnapTrade does not say which order has this client order id; "
                    "check the brokerage before placing it again",
                )
            matches = [raw for raw in records if self._looks_sent(raw, sent)]
        if not matches:
            return None
        orders = [self._order(raw, client_order_id) for raw in matches]
        orders.sort(key=lambda o: o.placed_at or datetime.min.replace(tzinfo=UTC))
        if len(orders) > 1:
            log.warning(
                "snaptrade_client_order_id_repeated",
                account_id=account_id,
                client_order_id=client_order_id,
                provider_order_ids=[o.provider_order_id for o in orders],
            )
        return orders[0]

    async def get_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        user = self._identity(identity)
        for raw in await self._orders(user, account_id):
            if raw.get("brokerage_order_id") == provider_order_id:
                return self._order(raw, None)
        raise AccountProviderError(
            self.name,
            f"SnapTrade lists no order {provider_order_id} in the last {ORDER_HISTORY_DAYS} days",
        )

    async def cancel_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        user = self._identity(identity)
        response = await self._call(
            "POST",
            f"/accounts/{_seg(account_id)}/trading/cancel",
            user=user,
            body={"brokerage_order_id": provider_order_id},
            retry=True,
        )
        if not response.is_success:
            status = response.status_code
            if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
                self._refused(response)
            detail, _ = self._error(response)
            log.info(
                "snaptrade_cancel_refused",
                account_id=account_id,
                provider_order_id=provider_order_id,
                status=status,
                detail=detail,
            )
        return await self.get_order(identity, credentials, account_id, provider_order_id)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        user: tuple[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        query: dict[str, str] = {}
        if user is not None:
            query[USER_ID], query[USER_SECRET] = user
        query.update(params or {})
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if content is not None else None
        return await self._http.request(
            method,
            path,
            params=query,
            content=content,
            headers=headers,
            retry=retry,
            auth=self._signer,
        )

    async def _get(
        self, user: tuple[str, str], path: str, what: str, params: dict[str, str] | None = None
    ) -> Any:
        return self._ok(await self._call("GET", path, user=user, params=params), what)

    def _ok(
        self,
        response: httpx.Response,
        what: str,
        *,
        gone: type[AccountProviderError] = AccountGone,
    ) -> Any:
        """The JSON body of a 2xx answer; otherwise the error the status means."""
        if not response.is_success:
            self._refused(response, gone=gone)
        return self._json(response, what)

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return json.loads(response.text, parse_float=Decimal, parse_constant=Decimal)
        except ValueError:
            raise ProviderGarbage(self.name, f"{what} is not valid JSON") from None

    def _refused(
        self, response: httpx.Response, *, gone: type[AccountProviderError] = AccountGone
    ) -> NoReturn:
        """Raise what a non-2xx answer (other than the transient ones) means."""
        status = response.status_code
        detail, code = self._error(response)
        if status in (401, 403) and (
            code in _PARTNER_AUTH_CODES or any(w in detail.lower() for w in _PARTNER_AUTH_WORDS)
        ):
            raise ProviderError(
                self.name,
                f"SnapTrade refused Flint's API credentials ({detail}); check the client id, "
                "the consumer key and this server's clock",
            )
        if status in (401, 403, 404, 410):
            raise gone(self.name, detail)
        raise ProviderError(self.name, f"unexpected answer (HTTP {status}): {detail}")

    def _error(self, response: httpx.Response) -> tuple[str, str]:
        """SnapTrade's message (``detail``, or the spec's ``default_detail``, ``error``) and
        code, or the HTTP status when there is none."""
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
        detail, code = "", ""
        if isinstance(body, dict):
            for key in ("detail", "default_detail", "error", "message"):
                value = body.get(key)
                if isinstance(value, str) and value.strip():
                    detail = value.strip()[:300]
                    break
            raw_code = body.get("code", body.get("default_code"))
            if isinstance(raw_code, str | int) and not isinstance(raw_code, bool):
                code = str(raw_code)
        return detail or f"HTTP {response.status_code}", code

    # --- helpers ------------------------------------------------------------------------------

    def _identity(self, identity: Identity) -> tuple[str, str]:
        user_id, secret = identity.get(USER_ID), identity.get(USER_SECRET)
        if not user_id or not secret:
            raise AccountGone(self.name, "the SnapTrade user is missing its id or secret")
        return user_id, secret

    def _authorization_id(self, credentials: Credentials) -> str:
        authorization_id = credentials.get(AUTHORIZATION_ID)
        if not authorization_id or not _is_uuid(authorization_id):
            raise AccountGone(self.name, "the link has no SnapTrade connection id")
        return authorization_id

    async def _authorization(
        self, user: tuple[str, str], authorization_id: str, *, gone: type[AccountProviderError]
    ) -> bool:
        """Whether the connection can trade; ``gone`` when SnapTrade does not know it."""
        response = await self._call("GET", f"/authorizations/{_seg(authorization_id)}", user=user)
        if response.status_code == httpx.codes.BAD_REQUEST:
            raise gone(self.name, self._error(response)[0])
        raw = self._ok(response, "the connection", gone=gone)
        if not isinstance(raw, dict):
            raise ProviderGarbage(self.name, "the connection is not an object")
        brokerage = raw.get("brokerage")
        allows = brokerage.get("allows_trading") if isinstance(brokerage, dict) else None
        return (
            raw.get("type") == "trade" and raw.get("disabled") is not True and allows is not False
        )

    async def _accounts_of(
        self,
        user: tuple[str, str],
        authorization_id: str,
        tradable: bool,
        *,
        gone: type[AccountProviderError],
    ) -> list[ProviderAccount]:
        raw = self._list(
            self._ok(await self._call("GET", "/accounts", user=user), "the accounts", gone=gone),
            "the accounts",
        )
        return [
            self._account(item, tradable)
            for item in raw
            if item.get("brokerage_authorization") == authorization_id
        ]

    async def _orders(self, user: tuple[str, str], account_id: str) -> list[dict[str, Any]]:
        params = {"state": "all", "days": str(ORDER_HISTORY_DAYS)}
        body = await self._get(user, f"/accounts/{_seg(account_id)}/orders", "the orders", params)
        records = self._list(body, "the orders")
        for raw in records:
            self._str(raw, "brokerage_order_id", "an order")
        return records

    def _remember(self, order: OrderRequest) -> None:
        if len(self._sent) >= _MEMORY:
            del self._sent[next(iter(self._sent))]
        self._sent[order.client_order_id] = _Sent(
            order.account_id,
            order.symbol.upper(),
            order.action,
            order.quantity,
            datetime.now(UTC) - PLACED_SKEW,
        )

    def _looks_sent(self, raw: dict[str, Any], sent: _Sent) -> bool:
        try:
            order = self._order(raw, None)
        except ProviderGarbage:
            return False
        return (
            order.symbol.upper() == sent.symbol
            and order.action is sent.action
            and order.quantity == sent.quantity
            and order.placed_at is not None
            and order.placed_at >= sent.at
        )

    def _order_body(self, order: OrderRequest) -> dict[str, Any]:
        if order.quantity <= 0:
            raise ValueError("an order's quantity must be positive")
        needs_limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (order.limit_price is not None):
            raise ValueError("a limit price goes with (and only with) limit orders")
        if needs_stop != (order.stop_price is not None):
            raise ValueError("a stop price goes with (and only with) stop orders")
        body: dict[str, Any] = {
            "account_id": order.account_id,
            "action": "BUY" if order.action is OrderAction.BUY else "SELL",
            "order_type": _ORDER_TYPES[order.order_type],
            "time_in_force": _TIME_IN_FORCE[order.time_in_force],
            "symbol": order.symbol,
            "units": _wire(order.quantity),
            "client_order_id": _vendor_client_id(order.client_order_id),
        }
        if order.limit_price is not None:
            body["price"] = _wire(order.limit_price)
        if order.stop_price is not None:
            body["stop"] = _wire(order.stop_price)
        return body

    def _list(self, body: Any, what: str) -> list[dict[str, Any]]:
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise ProviderGarbage(self.name, f"{what or 'the answer'} is not a list of objects")
        return body

    def _str(self, obj: dict[str, Any], key: str, what: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ProviderGarbage(self.name, f"{what} has no {key}")
        return value.strip()

    def _dec(self, value: object, what: str) -> Decimal:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int) and not isinstance(value, bool):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise ProviderGarbage(self.name, f"{what} is not a number") from None
        else:
            raise ProviderGarbage(self.name, f"{what} is missing or not a number")
        if not number.is_finite():
            raise ProviderGarbage(self.name, f"{what} is not a finite number")
        return number

    def _opt_dec(self, value: object, what: str) -> Decimal | None:
        return None if value is None else self._dec(value, what)

    def _timestamp(self, value: object, what: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ProviderGarbage(self.name, f"{what} is not a timestamp")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ProviderGarbage(self.name, f"{what} is not a timestamp") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    # --- mapping ------------------------------------------------------------------------------

    def _account(self, raw: dict[str, Any], tradable: bool) -> ProviderAccount:
        account_id = self._str(raw, "id", "an account")
        meta_raw = raw.get("meta")
        meta: dict[str, Any] = meta_raw if isinstance(meta_raw, dict) else {}
        institution = _text(raw.get("institution_name")) or _text(meta.get("institution_name"))
        institution = institution or "SnapTrade"
        number = _text(raw.get("number"))
        currency, _ = self._account_total(raw)
        kinds = " ".join(
            _text(v) or ""
            for v in (raw.get("raw_type"), meta.get("type"), raw.get("account_category"))
        ).lower()
        crypto = "crypto" in kinds or institution.lower() in _CRYPTO_INSTITUTIONS
        return ProviderAccount(
            id=account_id,
            name=_text(raw.get("name")) or institution,
            type=AccountType.CRYPTO if crypto else AccountType.BROKERAGE,
            currency=currency,
            institution=institution,
            mask=number[-4:] if number and len(number) >= 4 else None,
            can_trade=tradable and raw.get("status") not in ("closed", "archived"),
        )

    def _account_total(self, raw: dict[str, Any]) -> tuple[str, Decimal | None]:
        """The account's currency (USD when SnapTrade gives none) and its total value."""
        balance = raw.get("balance")
        total = balance.get("total") if isinstance(balance, dict) else None
        if not isinstance(total, dict):
            return "USD", None
        currency = _text(total.get("currency"))
        return (currency or "USD").upper(), self._opt_dec(total.get("amount"), "the total")

    def _balance_row(self, rows: list[dict[str, Any]], currency: str) -> dict[str, Any] | None:
        for row in rows:
            code = row.get("currency")
            code = code.get("code") if isinstance(code, dict) else code
            if isinstance(code, str) and code.upper() == currency:
                return row
        return rows[0] if len(rows) == 1 else None

    def _position(self, raw: dict[str, Any]) -> Holding:
        """One result of ``/positions/all``."""
        instrument = raw.get("instrument")
        if not isinstance(instrument, dict):
            raise ProviderGarbage(self.name, "a position has no instrument")
        symbol = self._str(instrument, "symbol", "a position's instrument")
        quantity = self._dec(raw.get("units"), f"the units of {symbol}")
        unit_cost = self._opt_dec(raw.get("cost_basis"), f"the cost basis of {symbol}")
        currency = _text(raw.get("currency")) or _text(instrument.get("currency")) or "USD"
        return Holding(
            symbol=symbol,
            quantity=quantity,
            price=self._opt_dec(raw.get("price"), f"the price of {symbol}"),
            cost_basis=None if unit_cost is None else unit_cost * quantity,
            currency=currency.upper(),
            name=_text(instrument.get("description")),
        )

    def _legacy_position(self, raw: dict[str, Any]) -> Holding:
        """One item of the deprecated ``/positions``."""
        outer = raw.get("symbol")
        inner = outer.get("symbol") if isinstance(outer, dict) else None
        if not isinstance(inner, dict) or not isinstance(outer, dict):
            raise ProviderGarbage(self.name, "a position has no symbol")
        symbol = self._str(inner, "symbol", "a position's symbol")
        units = raw.get("units")
        if units is None:
            units = raw.get("fractional_units")
        quantity = self._dec(units, f"the units of {symbol}")
        average = self._opt_dec(raw.get("average_purchase_price"), f"the cost of {symbol}")
        currency = _code(raw.get("currency")) or _code(inner.get("currency")) or "USD"
        return Holding(
            symbol=symbol,
            quantity=quantity,
            price=self._opt_dec(raw.get("price"), f"the price of {symbol}"),
            cost_basis=None if average is None else average * quantity,
            currency=currency.upper(),
            name=_text(inner.get("description")) or _text(outer.get("description")),
        )

    def _transaction(self, raw: dict[str, Any]) -> Transaction:
        what = "an activity"
        activity_id = self._str(raw, "id", what)
        moment = raw.get("trade_date") or raw.get("settlement_date")
        if not isinstance(moment, str):
            raise ProviderGarbage(self.name, "an activity has no date")
        try:
            day = (
                date.fromisoformat(moment)
                if len(moment) == 10
                else datetime.fromisoformat(moment).date()
            )
        except ValueError:
            raise ProviderGarbage(self.name, "an activity has a malformed date") from None
        kind = (_text(raw.get("type")) or "").upper()
        units = self._opt_dec(raw.get("units"), "an activity's units")
        price = self._opt_dec(raw.get("price"), "an activity's price")
        amount = self._opt_dec(raw.get("amount"), "an activity's amount")
        if amount is None:
            amount = units * price if units is not None and price is not None else Decimal(0)
        if kind in _INFLOWS:
            amount = amount.copy_abs()
        elif kind in _OUTFLOWS:
            amount = -amount.copy_abs()
        symbol_obj = raw.get("symbol")
        option = raw.get("option_symbol")
        symbol = _text(symbol_obj.get("symbol")) if isinstance(symbol_obj, dict) else None
        if symbol is None and isinstance(option, dict):
            symbol = _text(option.get("ticker"))
        return Transaction(
            id=activity_id,
            date=day,
            amount=amount,
            description=_text(raw.get("description")) or kind.replace("_", " ").title(),
            type=_KINDS.get(kind, kind.lower() or None),
            symbol=symbol,
            quantity=units,
            price=price,
            currency=(_code(raw.get("currency")) or "USD").upper(),
        )

    def _order(self, raw: dict[str, Any], client_order_id: str | None) -> Order:
        what = "an order"
        order_id = self._str(raw, "brokerage_order_id", what)
        raw_status = self._str(raw, "status", what).upper()
        status = _STATUSES.get(raw_status)
        if status is None:
            log.warning("snaptrade_order_status_unknown", order_id=order_id, status=raw_status)
            status = OrderStatus.SUBMITTED
        symbol = None
        for key in ("universal_symbol", "quote_universal_symbol"):
            holder = raw.get(key)
            if isinstance(holder, dict):
                symbol = _text(holder.get("symbol")) or _text(holder.get("raw_symbol"))
                if symbol:
                    break
        option = raw.get("option_symbol")
        if symbol is None and isinstance(option, dict):
            symbol = _text(option.get("ticker"))
        if symbol is None:
            raise ProviderGarbage(self.name, f"order {order_id} has no symbol")
        side = self._str(raw, "action", what).upper()
        if side.startswith("BUY"):
            action = OrderAction.BUY
        elif side.startswith("SELL"):
            action = OrderAction.SELL
        else:
            raise ProviderGarbage(self.name, f"order {order_id} has an unknown action")
        quantity = self._dec(raw.get("total_quantity"), f"the quantity of order {order_id}")
        filled = self._opt_dec(raw.get("filled_quantity"), f"the fill of order {order_id}")
        price = self._opt_dec(raw.get("execution_price"), f"the price of order {order_id}")
        echoed = raw.get("client_order_id")
        extra = {
            key: str(raw[key])
            for key in ("order_type", "time_in_force", "limit_price", "stop_price")
            if raw.get(key) is not None
        }
        return Order(
            provider_order_id=order_id,
            client_order_id=client_order_id or (echoed if isinstance(echoed, str) else None),
            status=status,
            symbol=symbol,
            action=action,
            quantity=quantity,
            filled_quantity=filled or Decimal(0),
            average_price=price if filled else None,
            placed_at=self._timestamp(raw.get("time_placed"), f"order {order_id}'s time"),
            updated_at=self._timestamp(raw.get("time_updated"), f"order {order_id}'s time"),
            filled_at=self._timestamp(raw.get("time_executed"), f"order {order_id}'s time"),
            raw_status=raw_status,
            extra=extra,
        )


def _seg(value: str) -> str:
    """A path segment, escaped (ids come from callers and vendors)."""
    return quote(value, safe="")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _vendor_client_id(client_order_id: str) -> str:
    """SnapTrade's ``client_order_id`` is a UUID: Flint's own when it is one, else a UUIDv5."""
    if _is_uuid(client_order_id):
        return client_order_id
    return str(uuid.uuid5(_CLIENT_ORDER_NAMESPACE, client_order_id))


def _wire(value: Decimal) -> float:
    """A Decimal as the JSON number SnapTrade takes, refusing any that a double would change."""
    number = float(value)
    if not value.is_finite() or Decimal(repr(number)) != value:
        raise ValueError(f"{value} cannot be sent exactly as a JSON number")
    return number


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _code(value: object) -> str | None:
    """A currency given as ``{"code": ...}`` or as the code itself."""
    if isinstance(value, dict):
        value = value.get("code")
    return _text(value)


__all__ = [
    "AUTHORIZATION_ID",
    "DEFAULT_BASE_URL",
    "USER_ID",
    "USER_SECRET",
    "SnapTradeProvider",
    "signature",
]

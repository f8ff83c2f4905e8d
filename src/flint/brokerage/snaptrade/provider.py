"""`SnapTradeProvider`, the `AccountProvider` for SnapTrade: users, links, data and trading.

Identity and links. A Flint user is one SnapTrade user: `register` creates it with
``userId`` = Flint's user key and keeps SnapTrade's ``userSecret`` (``{"userId", "userSecret"}``
is the `Identity`); registering is sent once, and a registration whose answer was lost is
recovered as :mod:`.users` says.
`connect_url` asks for a Connection Portal link (``connectionType`` ``trade-if-available``,
``customRedirect`` = the redirect URL, with ``immediateRedirect``). The portal hands back the
connection's id (SnapTrade's "brokerage authorization"); `link` takes it as the auth code,
checks it with ``GET /authorizations/{id}`` (unknown: `LinkRefused`) and keeps the accounts
whose ``brokerage_authorization`` is that id. The link's `Credentials` are
``{"authorizationId": id}``; `unlink` deletes that connection with ``DELETE
/connection/{id}`` (200, carried out asynchronously by SnapTrade, which then sends
``CONNECTION_DELETED``); a 404 there means SnapTrade no longer has it. Any other failure
raises, so the caller knows the connection may still be alive at SnapTrade.

Signing and errors are the client's (:mod:`.client`), the JSON is read by :mod:`.mapping`, and
the order rules are :mod:`.orders`'.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.brokerage.snaptrade import mapping, users
from flint.brokerage.snaptrade.client import (
    DEFAULT_BASE_URL,
    NAME,
    USER_ID,
    USER_SECRET,
    SnapTradeClient,
    seg,
)
from flint.brokerage.snaptrade.impact import ImpactDesk
from flint.brokerage.snaptrade.orders import OrderDesk
from flint.brokerage.types import (
    AccountGone,
    AccountProviderError,
    Balances,
    Capability,
    Credentials,
    Holding,
    Identity,
    Link,
    LinkRefused,
    Order,
    OrderPreview,
    OrderRequest,
    ProviderAccount,
    Transaction,
)
from flint.kit.http import VendorPolicy
from flint.kit.vendor_errors import ProviderGarbage

log = structlog.get_logger(__name__)

AUTHORIZATION_ID = "authorizationId"

ACTIVITY_PAGE_SIZE = 1000
"""Activities asked for per page (SnapTrade's maximum)."""
MAX_PAGES = 1000
"""A guard against a listing that never ends."""


class SnapTradeProvider:
    """SnapTrade adapter; see this package's module docstrings for auth, mapping and orders.

    ``client_id`` and ``consumer_key`` are the partner API key pair from SnapTrade's dashboard.
    ``base_url`` is SnapTrade's root (``https://api.snaptrade.com``, the spec's server).
    """

    name = NAME
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
        self._http = SnapTradeClient(
            client_id,
            consumer_key,
            base_url,
            policy=policy,
            storage=storage,
            breakers=breakers,
            transport=transport,
        )
        self._orders = OrderDesk(self._http)
        self._impact = ImpactDesk(self._http)

    def __repr__(self) -> str:  # keep the consumer key out of any repr
        return f"SnapTradeProvider(base_path={self._base_path!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- users and links ----------------------------------------------------------------------

    async def register(self, user_key: str) -> Identity:
        """``POST /snapTrade/registerUser``, once; see :mod:`.users` for the recovery."""
        return await users.register(self._http, user_key)

    async def deregister(self, identity: Identity) -> None:
        """``DELETE /snapTrade/deleteUser``: SnapTrade queues the user's deletion, its
        connections with it (a ``USER_DELETED`` webhook follows); see :mod:`.users`."""
        user_id = identity.get(USER_ID)
        if user_id:
            await users.delete_user(self._http, user_id)

    async def connect_url(
        self, identity: Identity, *, redirect_url: str | None, reconnect: str | None = None
    ) -> str:
        """``POST /snapTrade/login``: the Connection Portal link (valid for five minutes);
        with ``reconnect`` (a connection id) the portal repairs that connection."""
        user = _identity(identity)
        body: dict[str, Any] = {"connectionType": "trade-if-available"}
        if reconnect:
            body["reconnect"] = reconnect
        if redirect_url:
            body["customRedirect"] = redirect_url
            body["immediateRedirect"] = True
        response = await self._http.call(
            "POST", "/snapTrade/login", user=user, body=body, retry=True
        )
        data = self._http.ok(response, "the portal link")
        if not isinstance(data, dict):
            raise ProviderGarbage(self.name, "the portal link is not an object")
        url = mapping.required_str(data, "redirectURI", "the portal link")
        if not url.startswith(("https://", "http://")):
            raise ProviderGarbage(self.name, "the portal link is not a URL")
        return url

    async def reconnect_url(
        self, identity: Identity, credentials: Credentials, *, redirect_url: str | None
    ) -> str:
        """The portal link that repairs the link's (broken) connection."""
        connection = _authorization_id(credentials)
        return await self.connect_url(identity, redirect_url=redirect_url, reconnect=connection)

    async def link(self, identity: Identity, auth_code: str) -> Link:
        """``auth_code`` is the connection (brokerage authorization) id the portal gave back."""
        user = _identity(identity)
        authorization_id = auth_code.strip()
        if not mapping.is_uuid(authorization_id):
            raise LinkRefused(self.name, "that is not a SnapTrade connection id")
        tradable = await self._authorization(user, authorization_id, gone=LinkRefused)
        accounts = await self._accounts_of(user, authorization_id, tradable, gone=LinkRefused)
        if not accounts:
            raise LinkRefused(self.name, "the connection has no accounts")
        return Link(credentials={AUTHORIZATION_ID: authorization_id}, accounts=accounts)

    async def unlink(self, identity: Identity, credentials: Credentials) -> None:
        """``DELETE /connection/{id}``; a connection (or user) SnapTrade no longer knows is
        already unlinked, any other failure raises."""
        authorization_id = credentials.get(AUTHORIZATION_ID)
        if not authorization_id or not mapping.is_uuid(authorization_id):
            return
        try:
            user = _identity(identity)
        except AccountGone:
            return
        response = await self._http.call(
            "DELETE", f"/connection/{seg(authorization_id)}", user=user
        )
        if response.is_success or response.status_code == httpx.codes.NOT_FOUND:
            return
        if response.status_code == httpx.codes.UNAUTHORIZED and not self._http.partner_refused(
            response
        ):
            return  # the user itself is gone at SnapTrade, and its connections with it
        self._http.refused(response, gone=AccountProviderError)

    # --- data ---------------------------------------------------------------------------------

    async def accounts(self, identity: Identity, credentials: Credentials) -> list[ProviderAccount]:
        user = _identity(identity)
        authorization_id = _authorization_id(credentials)
        tradable = await self._authorization(user, authorization_id, gone=AccountGone)
        return await self._accounts_of(user, authorization_id, tradable, gone=AccountGone)

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances:
        user = _identity(identity)
        account = await self._http.get(user, f"/accounts/{seg(account_id)}", "the account")
        if not isinstance(account, dict):
            raise ProviderGarbage(self.name, "the account is not an object")
        currency, total = mapping.account_total(account)
        rows = mapping.objects(
            await self._http.get(user, f"/accounts/{seg(account_id)}/balances", "the balances"),
            "the balances",
        )
        row = mapping.balance_row(rows, currency)
        cash = mapping.opt_dec(row.get("cash"), "the cash balance") if row else None
        buying_power = mapping.opt_dec(row.get("buying_power"), "the buying power") if row else None
        if total is None:
            held = await self.holdings(identity, credentials, account_id)
            total = (cash or Decimal(0)) + sum(
                (h.quantity * h.price for h in held if h.price is not None),
                Decimal(0),
            )
            total = mapping.plausible(total, "the account's value")
        return Balances(
            currency=currency, current=total, available=cash, cash=cash, buying_power=buying_power
        )

    async def holdings(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> list[Holding]:
        user = _identity(identity)
        body = await self._http.get(
            user, f"/accounts/{seg(account_id)}/positions/all", "the positions"
        )
        if not isinstance(body, dict):
            raise ProviderGarbage(self.name, "the positions are not an object")
        results = mapping.objects(body.get("results"), "the positions")
        return [held for raw in results if (held := mapping.position(raw)) is not None]

    async def transactions(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        *,
        since: date | None = None,
    ) -> list[Transaction]:
        user = _identity(identity)
        path = f"/accounts/{seg(account_id)}/activities"
        size = self.activities_page_size
        seen: set[str] = set()
        out: list[Transaction] = []
        offset = 0
        for _ in range(MAX_PAGES):
            params = {"offset": str(offset), "limit": str(size)}
            if since is not None:
                params["startDate"] = since.isoformat()
            body = await self._http.get(user, path, "the activities", params)
            total: int | None = None
            if isinstance(body, dict):
                items = mapping.objects(body.get("data"), "the activities")
                pagination = body.get("pagination")
                if isinstance(pagination, dict) and type(pagination.get("total")) is int:
                    total = pagination["total"]
            else:
                items = mapping.objects(body, "the activities")
            for raw in items:
                txn = mapping.transaction(raw)
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

    # --- trading (the rules are in orders.py) -------------------------------------------------

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        if order.preview_id is not None:  # a checked trade: place exactly that (impact.py)
            return await self._impact.place(_identity(identity), order)
        return await self._orders.place(_identity(identity), order)

    async def preview_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> OrderPreview:
        return await self._impact.preview(_identity(identity), order)

    async def find_order(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        client_order_id: str,
        *,
        request: OrderRequest | None = None,
    ) -> Order | None:
        user = _identity(identity)
        return await self._orders.find(user, account_id, client_order_id, request)

    async def get_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        return await self._orders.get(_identity(identity), account_id, provider_order_id)

    async def cancel_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        return await self._orders.cancel(_identity(identity), account_id, provider_order_id)

    # --- helpers ------------------------------------------------------------------------------

    async def _authorization(
        self, user: tuple[str, str], authorization_id: str, *, gone: type[AccountProviderError]
    ) -> bool:
        """Whether the connection can trade; ``gone`` when SnapTrade does not know it."""
        response = await self._http.call(
            "GET", f"/authorizations/{seg(authorization_id)}", user=user
        )
        if response.status_code == httpx.codes.BAD_REQUEST:
            raise gone(self.name, self._http.error(response)[0])
        raw = self._http.ok(response, "the connection", gone=gone)
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
        raw = mapping.objects(
            self._http.ok(
                await self._http.call("GET", "/accounts", user=user), "the accounts", gone=gone
            ),
            "the accounts",
        )
        return [
            mapping.account(item, tradable)
            for item in raw
            if item.get("brokerage_authorization") == authorization_id
        ]


def _identity(identity: Identity) -> tuple[str, str]:
    user_id, secret = identity.get(USER_ID), identity.get(USER_SECRET)
    if not user_id or not secret:
        raise AccountGone(NAME, "the SnapTrade user is missing its id or secret")
    return user_id, secret


def _authorization_id(credentials: Credentials) -> str:
    authorization_id = credentials.get(AUTHORIZATION_ID)
    if not authorization_id or not mapping.is_uuid(authorization_id):
        raise AccountGone(NAME, "the link has no SnapTrade connection id")
    return authorization_id

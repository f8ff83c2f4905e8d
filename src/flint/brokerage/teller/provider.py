"""`TellerProvider`: the `AccountProvider` flow over Teller (linking, unlinking, paging through
transactions, what is not offered); the wire is ``client``, the JSON ``mapping``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NoReturn

from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.brokerage.teller import mapping
from flint.brokerage.teller.client import (
    DEFAULT_BASE_URL,
    DEFAULT_VERSION,
    GONE,
    NAME,
    TellerClient,
)
from flint.brokerage.types import (
    AccountGone,
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
    Unsupported,
)
from flint.kit.http import VendorPolicy
from flint.kit.vendor_errors import ProviderGarbage

PAGE_SIZE = 250
"""Transactions asked for per page; Teller may answer fewer, so pages go on until an empty one."""
MAX_PAGES = 1000
"""A guard against a vendor that never ends a listing (250,000 transactions)."""

ACCESS_TOKEN = "accessToken"  # noqa: S105 (the credentials key, not a secret)
ENROLLMENT_ID = "enrollmentId"


class TellerProvider:
    """Teller adapter; see the package docstring for auth, mapping and conventions.

    ``certificate`` and ``private_key`` are the application's PEM files for mutual TLS; they are
    loaded here, so a missing or mismatched pair fails at construction (OSError or
    ssl.SSLError). ``ca_bundle`` replaces the public CAs the server is checked against (tests
    serve a local stub with their own CA). A ``policy`` with a single attempt is given a second
    one: the first transactions call may time out.
    """

    name = NAME
    capabilities = frozenset({Capability.BALANCES, Capability.TRANSACTIONS})

    def __init__(
        self,
        *,
        certificate: Path,
        private_key: Path,
        base_url: str = DEFAULT_BASE_URL,
        version: str = DEFAULT_VERSION,
        ca_bundle: Path | None = None,
        policy: VendorPolicy | None = None,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
    ) -> None:
        self._client = TellerClient(
            certificate=certificate,
            private_key=private_key,
            base_url=base_url,
            version=version,
            ca_bundle=ca_bundle,
            policy=policy,
            storage=storage,
            breakers=breakers,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- linking ------------------------------------------------------------------------------

    async def register(self, user_key: str) -> Identity:
        return {}

    async def deregister(self, identity: Identity) -> None:
        return None  # no users here: `register` made none

    async def connect_url(self, identity: Identity, *, redirect_url: str | None) -> str:
        raise Unsupported(
            self.name, "Teller Connect runs in the browser; link with its access token"
        )

    async def link(self, identity: Identity, auth_code: str) -> Link:
        """``auth_code`` is the access token Teller Connect returned for the enrollment."""
        if not auth_code:
            raise LinkRefused(self.name, "no access token was given")
        response = await self._client.get("/accounts", auth_code)
        if response.status_code in GONE:
            raise LinkRefused(self.name, self._client.error_message(response))
        raw = mapping.objects(self._client.body(response, "the account list"), "the account list")
        enrollments = {mapping.text(a, "enrollment_id", "an account") for a in raw}
        accounts = mapping.accounts(raw)
        if not accounts:
            raise LinkRefused(self.name, "the enrollment has no open accounts")
        if len(enrollments) != 1:
            raise ProviderGarbage(self.name, "the accounts belong to several enrollments")
        return Link(
            credentials={ACCESS_TOKEN: auth_code, ENROLLMENT_ID: enrollments.pop()},
            accounts=accounts,
        )

    async def unlink(self, identity: Identity, credentials: Credentials) -> None:
        """Delete every account of the enrollment at Teller, which ends the application's
        access. An enrollment or account Teller no longer knows is taken as already removed."""
        token = credentials.get(ACCESS_TOKEN)
        if not token:
            return
        response = await self._client.get("/accounts", token)
        if response.status_code in GONE:
            return
        raw = mapping.objects(self._client.body(response, "the account list"), "the account list")
        for account_id in [mapping.text(a, "id", "an account") for a in raw]:
            deleted = await self._client.delete(f"/accounts/{account_id}", token)
            if deleted.status_code in GONE:
                continue
            if not deleted.is_success:
                self._client.unexpected(deleted)

    # --- data ---------------------------------------------------------------------------------

    async def accounts(self, identity: Identity, credentials: Credentials) -> list[ProviderAccount]:
        token = self._token(credentials)
        response = await self._client.get("/accounts", token)
        if response.status_code in GONE:
            raise AccountGone(self.name, self._client.error_message(response))
        body = self._client.body(response, "the account list")
        return mapping.accounts(mapping.objects(body, "accounts"))

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances:
        token = self._token(credentials)
        account = await self._account(token, account_id)
        body = await self._client.data(f"/accounts/{account_id}/balances", token, "the balances")
        return mapping.balances(body, account)

    async def holdings(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> list[Holding]:
        raise Unsupported(self.name, "Teller has bank accounts only, no holdings")

    async def transactions(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        *,
        since: date | None = None,
    ) -> list[Transaction]:
        token = self._token(credentials)
        account = await self._account(token, account_id)
        credit = account["type"] == "credit"
        path = f"/accounts/{account_id}/transactions"
        seen: set[str] = set()
        out: list[Transaction] = []
        from_id: str | None = None
        for _ in range(MAX_PAGES):
            params = {"count": str(PAGE_SIZE)}
            if from_id is not None:
                params["from_id"] = from_id
            body = await self._client.data(path, token, "the transactions", params)
            page = mapping.objects(body, "page")
            fresh = 0
            reached_since = False
            for raw in page:
                txn = mapping.transaction(raw, credit, account["currency"])
                if txn.id in seen:
                    continue
                seen.add(txn.id)
                fresh += 1
                if since is not None and txn.date < since:
                    reached_since = True
                    continue
                out.append(txn)
            # Only an empty page (or one with nothing new) ends the listing: Teller may answer
            # fewer than ``count``, and a short page is not the last one.
            if reached_since or not page or not fresh:
                break
            from_id = mapping.text(page[-1], "id", "a transaction")
        else:
            raise ProviderGarbage(self.name, f"the transactions did not end in {MAX_PAGES} pages")
        out.sort(key=lambda t: t.date, reverse=True)  # stable: Teller's order within a day
        return out

    # --- trading: not offered -----------------------------------------------------------------

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        self._no_trading()

    async def preview_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> OrderPreview:
        self._no_trading()

    async def find_order(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        client_order_id: str,
        *,
        request: OrderRequest | None = None,
    ) -> Order | None:
        self._no_trading()

    async def get_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        self._no_trading()

    async def cancel_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        self._no_trading()

    def _no_trading(self) -> NoReturn:
        raise Unsupported(self.name, "Teller has bank accounts only, no trading")

    # --- credentials and the account ----------------------------------------------------------

    def _token(self, credentials: Credentials) -> str:
        token = credentials.get(ACCESS_TOKEN)
        if not token:
            raise AccountGone(self.name, "the link has no access token")
        return token

    async def _account(self, token: str, account_id: str) -> dict[str, str]:
        """The account's ``type`` and upper-cased ``currency`` (balances and transactions
        carry neither)."""
        raw = await self._client.data(f"/accounts/{account_id}", token, "the account")
        return mapping.account_facts(raw)

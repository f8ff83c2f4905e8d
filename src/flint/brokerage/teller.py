"""``teller``: bank accounts (checking, savings, credit cards) through Teller's API.

Auth is two-part: every connection uses mutual TLS with the application's client certificate
and key (from Teller's dashboard), and every request carries the enrollment's access token (what
Teller Connect hands the user's browser) as the HTTP Basic username with an empty password. The
API version is pinned with the ``Teller-Version`` header. The access token is a secret: it lives
only in the link's credentials and the ``Authorization`` header, never in a log, an error or a
URL.

Mapping and conventions:

* Accounts: ``depository``/``checking`` is CHECKING, every other depository subtype (savings,
  money_market, certificate_of_deposit, treasury, sweep) SAVINGS, ``credit`` CREDIT; an
  account of a type Teller may add later is left out (and logged, by id). ``mask`` is
  ``last_four``, ``institution`` the institution's name, ``currency`` upper-cased. Only
  ``open`` accounts are returned (by `link` and `accounts`): a ``closed`` one has nothing left
  to sync. `link` refuses an enrollment without any open account.
* Balances: ``current`` is Teller's ``ledger``, ``available`` its ``available``, both Decimals
  of Teller's decimal strings. Either may be null (Teller promises at least one); a depository
  account without a ledger reports ``available`` as ``current``. For a credit card Teller's
  ledger is the outstanding balance, positive when money is owed, which is already Flint's
  convention ("what is owed, positive"), so it is passed through; ``available`` is the credit
  still available. A credit card without a ledger is garbage (what is owed is unknown).
* Transactions: Teller's ``amount`` is a signed decimal string. For depository accounts it is
  already from the holder's side (spend negative, deposits positive) and is kept. For credit
  accounts Teller signs from the card issuer's side (a purchase is positive, a payment to the
  card negative), so the sign is flipped to Flint's convention (spend negative). ``status`` is
  ``posted``/``pending``, ``category`` is Teller's enrichment category (``details.category``,
  may be null), ``type`` Teller's kind (card_payment, atm, transfer, deposit, ...).
  `transactions` pages with ``count`` (:data:`PAGE_SIZE`) and ``from_id`` (the oldest id of
  the previous page) until a short page, and stops early once a page reaches dates before
  ``since``; the result is newest first. A page that repeats ids (should ``from_id`` ever be
  inclusive) is de-duplicated.
* Slow first calls: Teller warns that the first transactions call after enrollment can time
  out while the bank's data loads, and to retry after a few seconds. Every GET goes through
  `VendorClient`'s retries (timeouts, 5xx, 429); the default policy waits seconds between
  attempts, and a policy of one attempt is given a second.
* Failures: a 401/403 (no, invalid or revoked token) or 404 (unknown account, or a
  disconnected enrollment such as ``enrollment.disconnected.user_action.mfa_required``) is
  `LinkRefused` from `link` and `AccountGone` elsewhere, with Teller's error message as the
  reason; 410 (account closed) is `AccountGone` too. Bodies that are not JSON or miss required
  fields are `ProviderGarbage`. A connection the TLS handshake refuses (no or wrong client
  certificate) is `ProviderUnavailable` after the retries.
* Not offered: holdings, trading and a hosted portal (Teller Connect runs in the user's
  browser and hands back the access token, which is what `link` takes); those raise
  `Unsupported`. `register` returns ``{}``.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import httpx
import structlog
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.brokerage.types import (
    AccountGone,
    AccountType,
    Balances,
    Capability,
    Credentials,
    Holding,
    Identity,
    Link,
    LinkRefused,
    Order,
    OrderRequest,
    ProviderAccount,
    Transaction,
    Unsupported,
)
from flint.kit.http import VendorClient, VendorPolicy
from flint.kit.vendor_errors import ProviderError, ProviderGarbage

log = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://api.teller.io"
DEFAULT_VERSION = "2020-10-12"
DEFAULT_POLICY = VendorPolicy(
    connect_timeout=10.0,
    read_timeout=30.0,
    attempts=3,
    backoff_initial=2.0,
    backoff_max=10.0,
)
"""Patient: Teller's first transactions call may time out while the bank's data loads, and its
docs say to wait a few seconds and try again."""
PAGE_SIZE = 250
"""Transactions asked for per page."""
MAX_PAGES = 1000
"""A guard against a vendor that never ends a listing (250,000 transactions)."""

ACCESS_TOKEN = "accessToken"  # noqa: S105 (the credentials key, not a secret)
ENROLLMENT_ID = "enrollmentId"

_GONE = frozenset({401, 403, 404, 410})


class TellerProvider:
    """Teller adapter; see the module docstring for auth, mapping and conventions.

    ``certificate`` and ``private_key`` are the application's PEM files for mutual TLS; they are
    loaded here, so a missing or mismatched pair fails at construction (OSError or
    ssl.SSLError). ``ca_bundle`` replaces the public CAs the server is checked against (tests
    serve a local stub with their own CA). A ``policy`` with a single attempt is given a second
    one: the first transactions call may time out.
    """

    name = "teller"
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
        policy = policy or DEFAULT_POLICY
        if policy.attempts < 2:
            # Teller's first transactions call may time out while the bank's data loads.
            policy = replace(policy, attempts=2)
        self._http = VendorClient(
            self.name,
            base_url,
            policy,
            headers={"Teller-Version": version, "Accept": "application/json"},
            storage=storage,
            breakers=breakers,
            verify=_tls_context(certificate, private_key, ca_bundle),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- linking ------------------------------------------------------------------------------

    async def register(self, user_key: str) -> Identity:
        return {}

    async def connect_url(self, identity: Identity, *, redirect_url: str | None) -> str:
        raise Unsupported(
            self.name, "Teller Connect runs in the browser; link with its access token"
        )

    async def link(self, identity: Identity, auth_code: str) -> Link:
        """``auth_code`` is the access token Teller Connect returned for the enrollment."""
        if not auth_code:
            raise LinkRefused(self.name, "no access token was given")
        response = await self._get("/accounts", auth_code)
        if response.status_code in _GONE:
            raise LinkRefused(self.name, self._error_message(response))
        raw = self._list(self._body(response, "the account list"), "the account list")
        enrollments = {self._str(a, "enrollment_id", "an account") for a in raw}
        accounts = self._accounts(raw)
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
        response = await self._get("/accounts", token)
        if response.status_code in _GONE:
            return
        raw = self._list(self._body(response, "the account list"), "the account list")
        for account_id in [self._str(a, "id", "an account") for a in raw]:
            deleted = await self._http.request(
                "DELETE", f"/accounts/{account_id}", auth=(token, "")
            )
            if deleted.status_code in _GONE:
                continue
            if not deleted.is_success:
                self._unexpected(deleted)

    # --- data ---------------------------------------------------------------------------------

    async def accounts(self, identity: Identity, credentials: Credentials) -> list[ProviderAccount]:
        token = self._token(credentials)
        response = await self._get("/accounts", token)
        if response.status_code in _GONE:
            raise AccountGone(self.name, self._error_message(response))
        return self._accounts(self._list(self._body(response, "the account list"), "accounts"))

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances:
        token = self._token(credentials)
        account = await self._account(token, account_id)
        body = await self._data(f"/accounts/{account_id}/balances", token, "the balances")
        if not isinstance(body, dict):
            raise ProviderGarbage(self.name, "the balances are not an object")
        ledger = self._decimal(body.get("ledger"), "the ledger balance", optional=True)
        available = self._decimal(body.get("available"), "the available balance", optional=True)
        current = ledger
        if current is None and account["type"] != "credit":
            current = available
        if current is None:
            raise ProviderGarbage(self.name, "the balances have no ledger balance")
        return Balances(currency=account["currency"], current=current, available=available)

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
            page = self._list(await self._data(path, token, "the transactions", params), "page")
            fresh = 0
            reached_since = False
            for raw in page:
                txn = self._transaction(raw, credit, account["currency"])
                if txn.id in seen:
                    continue
                seen.add(txn.id)
                fresh += 1
                if since is not None and txn.date < since:
                    reached_since = True
                    continue
                out.append(txn)
            if reached_since or len(page) < PAGE_SIZE or not fresh:
                break
            from_id = self._str(page[-1], "id", "a transaction")
        else:
            raise ProviderGarbage(self.name, f"the transactions did not end in {MAX_PAGES} pages")
        out.sort(key=lambda t: t.date, reverse=True)  # stable: Teller's order within a day
        return out

    # --- trading: not offered -----------------------------------------------------------------

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
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

    # --- HTTP and parsing ---------------------------------------------------------------------

    def _token(self, credentials: Credentials) -> str:
        token = credentials.get(ACCESS_TOKEN)
        if not token:
            raise AccountGone(self.name, "the link has no access token")
        return token

    async def _get(
        self, path: str, token: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self._http.request("GET", path, params=params, auth=(token, ""))

    async def _data(
        self, path: str, token: str, what: str, params: dict[str, str] | None = None
    ) -> Any:
        """GET a resource of a linked account: the JSON body, or AccountGone."""
        response = await self._get(path, token, params)
        if response.status_code in _GONE:
            raise AccountGone(self.name, self._error_message(response))
        return self._body(response, what)

    async def _account(self, token: str, account_id: str) -> dict[str, str]:
        """The account's ``type`` and upper-cased ``currency`` (balances and transactions
        carry neither)."""
        raw = await self._data(f"/accounts/{account_id}", token, "the account")
        if not isinstance(raw, dict):
            raise ProviderGarbage(self.name, "the account is not an object")
        return {
            "type": self._str(raw, "type", "the account"),
            "currency": self._str(raw, "currency", "the account").upper(),
        }

    def _body(self, response: httpx.Response, what: str) -> Any:
        if response.status_code != httpx.codes.OK:
            self._unexpected(response)
        try:
            return json.loads(response.text)
        except ValueError:
            raise ProviderGarbage(self.name, f"{what} is not valid JSON") from None

    def _unexpected(self, response: httpx.Response) -> NoReturn:
        status = response.status_code
        raise ProviderError(
            self.name, f"unexpected answer (HTTP {status}): {self._error_message(response)}"
        )

    def _error_message(self, response: httpx.Response) -> str:
        """Teller's ``error.message`` (safe to show), or the status when there is none."""
        try:
            error = json.loads(response.text).get("error")
            message = error.get("message") if isinstance(error, dict) else None
        except (ValueError, AttributeError):
            message = None
        if isinstance(message, str) and message.strip():
            return message.strip()[:200]
        return f"HTTP {response.status_code}"

    def _list(self, body: Any, what: str) -> list[dict[str, Any]]:
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise ProviderGarbage(self.name, f"{what} is not a list of objects")
        return body

    def _str(self, obj: dict[str, Any], key: str, what: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            raise ProviderGarbage(self.name, f"{what} has no {key}")
        return value

    def _decimal(self, value: Any, what: str, *, optional: bool = False) -> Decimal | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise ProviderGarbage(self.name, f"{what} is missing or not a decimal string")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ProviderGarbage(self.name, f"{what} is not a number") from None
        if not number.is_finite():
            raise ProviderGarbage(self.name, f"{what} is not a finite number")
        return number

    def _accounts(self, raw: list[dict[str, Any]]) -> list[ProviderAccount]:
        accounts = []
        for item in raw:
            account = self._account_of(item)
            if account is not None and item.get("status") == "open":
                accounts.append(account)
        return accounts

    def _account_of(self, raw: dict[str, Any]) -> ProviderAccount | None:
        account_id = self._str(raw, "id", "an account")
        kind = self._str(raw, "type", "an account")
        subtype = raw.get("subtype")
        self._str(raw, "status", "an account")
        if kind == "depository":
            account_type = AccountType.CHECKING if subtype == "checking" else AccountType.SAVINGS
        elif kind == "credit":
            account_type = AccountType.CREDIT
        else:
            log.warning("teller_account_type_unknown", account_id=account_id, type=kind[:40])
            return None
        institution = raw.get("institution")
        if not isinstance(institution, dict):
            raise ProviderGarbage(self.name, "an account has no institution")
        last_four = raw.get("last_four")
        return ProviderAccount(
            id=account_id,
            name=self._str(raw, "name", "an account"),
            type=account_type,
            currency=self._str(raw, "currency", "an account").upper(),
            institution=self._str(institution, "name", "an account's institution"),
            mask=last_four if isinstance(last_four, str) and last_four else None,
        )

    def _transaction(self, raw: dict[str, Any], credit: bool, currency: str) -> Transaction:
        what = "a transaction"
        txn_id = self._str(raw, "id", what)
        try:
            day = date.fromisoformat(self._str(raw, "date", what))
        except ValueError:
            raise ProviderGarbage(self.name, "a transaction has a malformed date") from None
        amount = self._decimal(raw.get("amount"), "a transaction amount")
        assert amount is not None  # not optional
        status = raw.get("status")
        if status not in ("posted", "pending"):
            raise ProviderGarbage(self.name, "a transaction has no posted/pending status")
        description = raw.get("description")
        if not isinstance(description, str):
            raise ProviderGarbage(self.name, "a transaction has no description")
        details = raw.get("details")
        category = details.get("category") if isinstance(details, dict) else None
        kind = raw.get("type")
        return Transaction(
            id=txn_id,
            date=day,
            amount=-amount if credit and amount else amount,
            description=description,
            status=status,
            category=category if isinstance(category, str) else None,
            type=kind if isinstance(kind, str) else None,
            currency=currency,
        )


def _tls_context(certificate: Path, private_key: Path, ca_bundle: Path | None) -> ssl.SSLContext:
    """A client context presenting the application's certificate, trusting the public CAs
    (httpx's bundle) or only ``ca_bundle``."""
    if ca_bundle is not None:
        context = ssl.create_default_context(cafile=str(ca_bundle))
    else:
        context = httpx.create_ssl_context()
    context.load_cert_chain(str(certificate), str(private_key))
    return context


__all__ = ["DEFAULT_POLICY", "PAGE_SIZE", "TellerProvider"]

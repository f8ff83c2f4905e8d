"""A local Teller: accounts, balances, paged transactions and account deletion, as the vendor
answers them. Serve it with ``run_stub(create_app(), tls=ServerTLS(..., client_ca=...,
client_cert_optional=True))``: like Teller it then answers a client that presents no certificate
with HTTP 400 ``bad_request`` "Missing certificate: Retry request using your Teller client
certificate." (the sampled error of Teller's docs), not with a failed handshake; a certificate
the (test) CA did not sign still fails the handshake.

Samples (``samples/``), reconstructed from the JSON examples in Teller's public API docs
(sandbox ids, no licence stated), per /work/shared/reference/samples/SOURCES.md:

* teller_accounts.json: two accounts. The first is the "List Accounts" example at
  https://teller.io/docs/api/accounts (credit card, no ``details`` link). The second is the
  account object from the "Get Identity" example at https://teller.io/docs/api/identity
  (savings, with a ``details`` link). Docs' "..." dropped.
* teller_balances.json: "Get Account Balances" example at
  https://teller.io/docs/api/account/balances. Verbatim.
* teller_transactions.json: the "List Transactions" example (pending transfer) and the "Get
  Transaction" example (posted ATM withdrawal) at https://teller.io/docs/api/account/transactions,
  combined into one list. Docs' "..." dropped.
* teller_errors.json: the two error-object examples at https://teller.io/docs/api/errors:
  ``bad_request`` (missing client certificate, HTTP 400) and
  ``enrollment.disconnected.user_action.mfa_required`` (HTTP 404).

Enrollments: :data:`TOKEN` reaches the sample enrollment: the sample credit card (its two sample
transactions; Teller signs a card's amounts from the issuer's side, spend positive), the sample
savings account (the sample balances), a synthetic checking account in the samples' shape with
:data:`CHECKING_TRANSACTIONS` deterministic transactions (newest first, four a day) and a closed
account. :data:`UNLINK_TOKEN` reaches a second enrollment of two accounts, for deletion tests.

Behaviour: HTTP Basic with the access token as username; no ``Authorization`` is a 401, an
unknown token a 403 (Teller's docs: "401 ... without an access token", "403 ... invalid or
revoked access token"), both with an ``{"error": {"code", "message"}}`` body. A request without
a ``Teller-Version`` header is a 400 here (the real API would fall back to the application's
pinned version; the stub insists so tests can see the header is sent). Transactions page with
``count`` and ``from_id``: a page starts with the transaction just older than ``from_id``; the
listing ends with an empty page (Teller documents no other end marker). ``control.page_cap``
caps every page (e.g. at 100, below the ``count`` asked for), as a vendor may.
``DELETE /accounts/{id}`` answers 204, then 404 once the account is gone. The 401/403/404 error
codes and messages other than the sampled ones are the stub's own wording.

Scenarios (see :class:`tests.stubs.server.StubControl`): ``success``; transport ``500``,
``429``, ``slow`` (waits ``delay`` first; :data:`~tests.stubs.server.HOLD`: until released),
``html``, ``truncated``; auth ``revoked`` (403) and
``401``; ``disconnected`` (404, the sampled MFA-required body); ``gone`` (404 not found); data
``missing`` (a required field dropped from every object) and ``bad_amount`` (amounts and
balances that are not numbers); ``missing_certificate`` answers as if no client certificate
had arrived (e.g. stripped by a TLS-terminating proxy in front of the adapter). A scenario
written ``name@kind`` applies (and counts ``times``)
only on one kind of request: ``accounts``, ``account``, ``balances``, ``transactions``,
``delete``; e.g. ``slow@transactions`` with ``times=1`` makes only the first transactions call
slow.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.stubs.server import SUCCESS, Seen, StubControl, stub_app

SAMPLES = Path(__file__).parent / "samples"
BASE = "https://api.teller.io"
VERSION = "2020-10-12"

TOKEN = "test_token_ky6igyqi3qxa4"
"""The sandbox token of Teller's docs; reaches :data:`ENROLLMENT`."""
UNLINK_TOKEN = "test_token_unlink7q2m4x"
ENROLLMENT = "enr_oiin624rqaojse22oe000"
UNLINK_ENROLLMENT = "enr_stub0unlink0000000000"

CREDIT_ID = "acc_oiin624kqjrg2mp2ea000"
SAVINGS_ID = "acc_oiin624jqjrg2mp2ea000"
CHECKING_ID = "acc_stub0checking00000000"
CLOSED_ID = "acc_stub0closed0000000000"
UNLINK_IDS = ("acc_stub0unlink1000000000", "acc_stub0unlink2000000000")

CHECKING_TRANSACTIONS = 600
CHECKING_NEWEST = date(2024, 6, 28)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


ERRORS = sample("teller_errors.json")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _links(account_id: str, *, details: bool = True) -> dict[str, str]:
    links = {
        "self": f"{BASE}/accounts/{account_id}",
        "balances": f"{BASE}/accounts/{account_id}/balances",
        "transactions": f"{BASE}/accounts/{account_id}/transactions",
    }
    if details:
        links["details"] = f"{BASE}/accounts/{account_id}/details"
    return links


def _account_like(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A synthetic account in the shape of a sampled one."""
    account = copy.deepcopy(template)
    account.update(changes)
    account["links"] = _links(account["id"])
    return account


_CREDIT, _SAVINGS = sample("teller_accounts.json")
CHECKING = _account_like(
    _SAVINGS, id=CHECKING_ID, name="Everyday Checking", subtype="checking", last_four="0416"
)
CLOSED = _account_like(
    _SAVINGS, id=CLOSED_ID, name="Old Checking", subtype="checking", last_four="9981"
)
CLOSED["status"] = "closed"
UNLINK_ACCOUNTS = [
    _account_like(
        _SAVINGS,
        id=UNLINK_IDS[0],
        enrollment_id=UNLINK_ENROLLMENT,
        name="Joint Checking",
        subtype="checking",
        last_four="1200",
    ),
    _account_like(
        _CREDIT,
        id=UNLINK_IDS[1],
        enrollment_id=UNLINK_ENROLLMENT,
        name="Rewards Card",
        last_four="5502",
    ),
]

ACCOUNTS: dict[str, list[dict[str, Any]]] = {
    TOKEN: [_CREDIT, _SAVINGS, CHECKING, CLOSED],
    UNLINK_TOKEN: UNLINK_ACCOUNTS,
}


def _balances(account_id: str, ledger: str | None, available: str | None) -> dict[str, Any]:
    body = copy.deepcopy(sample("teller_balances.json"))
    body.update(account_id=account_id, ledger=ledger, available=available)
    body["links"] = {
        "account": f"{BASE}/accounts/{account_id}",
        "self": f"{BASE}/accounts/{account_id}/balances",
    }
    return body


BALANCES: dict[str, dict[str, Any]] = {
    CREDIT_ID: _balances(CREDIT_ID, "1250.73", "8749.27"),
    SAVINGS_ID: _balances(SAVINGS_ID, "28575.02", "28575.02"),
    CHECKING_ID: _balances(CHECKING_ID, "4210.77", "4009.12"),
    CLOSED_ID: _balances(CLOSED_ID, "0.00", "0.00"),
    UNLINK_IDS[0]: _balances(UNLINK_IDS[0], "10.00", "10.00"),
    UNLINK_IDS[1]: _balances(UNLINK_IDS[1], "0.00", "500.00"),
}

_MERCHANTS = [
    ("WHOLE FOODS MARKET #10233", "Whole Foods Market", "groceries"),
    ("SQ *BLUE BOTTLE COFFEE", "Blue Bottle Coffee", "dining"),
    ("SHELL OIL 57442", "Shell", "fuel"),
    ("AMZN Mktp US*2K4TY8", "Amazon", "shopping"),
    ("PG&E WEB ONLINE", "PG&E", "utilities"),
    ("UBER *TRIP HELP.UBER.COM", "Uber", "transport"),
]


def synthetic_transactions(account_id: str, count: int, newest: date) -> list[dict[str, Any]]:
    """``count`` transactions in Teller's shape, newest first, four a day back from ``newest``:
    card payments (negative) and every fifteenth a payroll deposit (positive); the three newest
    are pending."""
    template = sample("teller_transactions.json")[1]
    out: list[dict[str, Any]] = []
    for i in range(count):
        txn = copy.deepcopy(template)
        txn_id = f"txn_stub{account_id[-6:]}{count - i:06d}"
        if i % 15 == 7:
            amount, kind = f"{1500 + (i % 7) * 10}.00", "deposit"
            description, counterparty, category = "ACME CORP PAYROLL", "Acme Corp", "income"
        else:
            cents = (i * 7919) % 20000 + 100
            amount, kind = f"-{cents // 100}.{cents % 100:02d}", "card_payment"
            description, counterparty, category = _MERCHANTS[i % len(_MERCHANTS)]
        txn.update(
            id=txn_id,
            account_id=account_id,
            date=(newest - timedelta(days=i // 4)).isoformat(),
            amount=amount,
            type=kind,
            description=description,
            status="pending" if i < 3 else "posted",
            running_balance=None,
        )
        txn["details"] = {
            "processing_status": "complete",
            "category": category,
            "counterparty": {"name": counterparty, "type": "organization"},
        }
        txn["links"] = {
            "account": f"{BASE}/accounts/{account_id}",
            "self": f"{BASE}/accounts/{account_id}/transactions/{txn_id}",
        }
        out.append(txn)
    return out


TRANSACTIONS: dict[str, list[dict[str, Any]]] = {
    CREDIT_ID: sample("teller_transactions.json"),
    SAVINGS_ID: [],
    CHECKING_ID: synthetic_transactions(CHECKING_ID, CHECKING_TRANSACTIONS, CHECKING_NEWEST),
    CLOSED_ID: [],
    UNLINK_IDS[0]: [],
    UNLINK_IDS[1]: [],
}

_REQUIRED = {
    "accounts": ("id",),
    "account": ("type",),
    "balances": ("ledger", "available"),
    "transactions": ("amount",),
}


@dataclass
class TellerControl(StubControl):
    """:class:`StubControl` plus scenarios aimed at one kind of request (``name@kind``) and the
    accounts deleted so far (``reset`` brings them back)."""

    deleted: set[str] = field(default_factory=set)
    page_cap: int | None = None
    """The most transactions a page holds, whatever ``count`` asks; None: as asked."""

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.deleted.clear()
            self.page_cap = None

    def record_kind(self, request: Request, kind: str) -> str:
        """Log ``request`` and return the scenario it gets as a ``kind`` request."""
        with self._lock:
            self.requests.append(
                Seen(request.url.path, dict(request.query_params), dict(request.headers))
            )
            scenario, _, target = self.scenario.partition("@")
            if target and target != kind:
                return SUCCESS
            if self.times is not None:
                if self.times <= 0:
                    return SUCCESS
                self.times -= 1
            return scenario


def _token(request: Request) -> str | None:
    """The access token of an HTTP Basic ``Authorization`` header (the username)."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, _password = decoded.partition(":")
    return username or None


def _spoil(body: Any, scenario: str, kind: str) -> Any:
    objects = body if isinstance(body, list) else [body]
    for obj in objects:
        if scenario == "missing":
            for key in _REQUIRED[kind]:
                obj.pop(key, None)
        elif scenario == "bad_amount":
            for key in ("amount", "ledger", "available"):
                if key in obj:
                    obj[key] = "N/A"
    return body


def _page(
    transactions: list[dict[str, Any]], params: dict[str, str], cap: int | None
) -> list[dict[str, Any]] | Response:
    start = 0
    if "from_id" in params:
        ids = [t["id"] for t in transactions]
        if params["from_id"] not in ids:
            return JSONResponse(error_body("bad_request", "Unknown from_id"), status_code=400)
        start = ids.index(params["from_id"]) + 1
    end = len(transactions)
    if "count" in params:
        try:
            count = int(params["count"])
        except ValueError:
            count = -1
        if count < 1:
            return JSONResponse(error_body("bad_request", "Invalid count"), status_code=400)
        end = min(end, start + count)
    if cap is not None:
        end = min(end, start + cap)
    return transactions[start:end]


def create_app() -> Starlette:
    control = TellerControl()
    lock = threading.Lock()

    def owned(token: str, account_id: str) -> dict[str, Any] | None:
        with lock:
            for account in ACCOUNTS[token]:
                if account["id"] == account_id and account_id not in control.deleted:
                    return account
        return None

    async def handle(request: Request, kind: str) -> Response:
        scenario = control.record_kind(request, kind)
        tls = request.scope.get("extensions", {}).get("tls")
        if scenario == "missing_certificate" or (tls is not None and not tls["client_cert_chain"]):
            return JSONResponse(ERRORS["bad_request_missing_certificate"], status_code=400)
        if scenario == "500":
            return JSONResponse(
                error_body("internal_server_error", "Internal server error"), status_code=500
            )
        if scenario == "429":
            return JSONResponse(
                error_body("too_many_requests", "Too many requests"), status_code=429
            )
        if scenario == "slow":
            await control.pause()
        if scenario == "html":
            return HTMLResponse("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>")
        if "teller-version" not in request.headers:
            return JSONResponse(
                error_body("bad_request", "Missing Teller-Version header"), status_code=400
            )
        token = _token(request)
        if token is None or scenario == "401":
            return JSONResponse(error_body("unauthorized", "Missing access token"), status_code=401)
        if token not in ACCOUNTS or scenario == "revoked":
            return JSONResponse(
                error_body("forbidden", "Authorization token is invalid"), status_code=403
            )
        if scenario == "disconnected":
            return JSONResponse(ERRORS["enrollment_disconnected_mfa_required_404"], status_code=404)
        not_found = JSONResponse(
            error_body("not_found", "The requested resource was not found."), status_code=404
        )
        body: Any
        if kind == "accounts":
            with lock:
                body = [a for a in ACCOUNTS[token] if a["id"] not in control.deleted]
        else:
            account_id = request.path_params["account_id"]
            account = owned(token, account_id)
            if account is None or scenario == "gone":
                return not_found
            if kind == "delete":
                with lock:
                    control.deleted.add(account_id)
                return Response(status_code=204)
            if kind == "account":
                body = account
            elif kind == "balances":
                body = BALANCES[account_id]
            else:
                page = _page(TRANSACTIONS[account_id], dict(request.query_params), control.page_cap)
                if isinstance(page, Response):
                    return page
                body = page
        body = _spoil(copy.deepcopy(body), scenario, kind)
        if scenario == "truncated":
            text = json.dumps(body, indent=2)
            return Response(text[: len(text) // 2], media_type="application/json")
        return JSONResponse(body)

    async def accounts(request: Request) -> Response:
        return await handle(request, "accounts")

    async def account(request: Request) -> Response:
        return await handle(request, "delete" if request.method == "DELETE" else "account")

    async def balances(request: Request) -> Response:
        return await handle(request, "balances")

    async def transactions(request: Request) -> Response:
        return await handle(request, "transactions")

    return stub_app(
        [
            Route("/accounts", accounts),
            Route("/accounts/{account_id}", account, methods=["GET", "DELETE"]),
            Route("/accounts/{account_id}/balances", balances),
            Route("/accounts/{account_id}/transactions", transactions),
        ],
        control,
    )

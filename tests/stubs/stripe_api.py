"""A local Stripe: the parts of its v1 REST API Flint calls, and the webhooks it sends, signed
as Stripe signs them.

Objects are built from Stripe's own example objects (``samples/stripe_fixtures3_objects.json``,
from stripe/openapi's fixtures3; provenance in ``samples/SOURCES.md``) with fresh ids and
times: ``POST /v1/customers``, ``GET`` and ``DELETE /v1/customers/{id}`` (deleting one ends its
subscriptions at once, each with a ``customer.subscription.deleted`` event, as Stripe's
reference says), ``POST /v1/checkout/sessions``
(subscription mode), ``GET /v1/checkout/sessions/{id}``, ``POST /v1/billing_portal/sessions``
and ``GET /v1/subscriptions/{id}``. Requests are form-encoded with Stripe's bracket notation
(``line_items[0][price]``) and authenticated with ``Authorization: Bearer`` :data:`SECRET_KEY`.
Errors have Stripe's shape, ``{"error": {"type", "code", "message", "param"}}``: 401 for a
missing or wrong key, 400 ``parameter_missing`` and ``resource_missing`` (a customer or price
that does not exist), 404 ``resource_missing`` for an unknown id, 400 ``idempotency_error`` for
an ``Idempotency-Key`` reused with other parameters (a successful answer is replayed for the
same key and parameters, with ``Idempotent-Replayed: true``), 500 ``api_error``. Subscriptions
have the shape of API versions since 2025-03-31 (the period on the items; an invoice names its
subscription under ``parent.subscription_details``).

What happens at Stripe without an API call is steered from the test through the control: the
customer paying at Checkout (:meth:`StripeControl.complete_checkout`, which emits the events a
real checkout does, all in the same second), cancelling in the portal, a renewal whose payment
fails. Each emitted event is kept in ``control.events``; :func:`signature` signs a body the way
Stripe does (``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}" keyed by the endpoint secret>``).
For trying Flint by hand, ``GET /c/pay/{id}`` is a page whose button completes the checkout and
``POST /_endpoint {"url": ...}`` makes the stub deliver every event it emits there, signed.

Scenarios (:class:`tests.stubs.server.StubControl`, API calls only): ``success``, ``500``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app

SAMPLES = Path(__file__).parent / "samples"
FIXTURES: dict[str, dict[str, Any]] = json.loads(
    (SAMPLES / "stripe_fixtures3_objects.json").read_text()
)
SECRET_KEY = "sk_test_51StubFlint0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
WEBHOOK_SECRET = "whsec_stubFlint0123456789abcdefghijklmnop"
PRICE_ID = str(FIXTURES["price"]["id"])
"""The one recurring price the stub sells (the fixtures' price, 20.00 USD a month)."""
API_VERSION = "2026-10-28.endive"
MONTH = 30 * 24 * 3600


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def signature(payload: bytes | str, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends with ``payload``."""
    timestamp = int(time.time()) if at is None else at
    body = payload.decode() if isinstance(payload, bytes) else payload
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def error(
    status: int, type_: str, message: str, *, code: str | None = None, param: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "message": message}
    if code is not None:
        body["code"] = code
        body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param is not None:
        body["param"] = param
    return JSONResponse({"error": body}, status_code=status, headers=_headers())


def missing(kind: str, value: str, param: str, status: int = 400) -> JSONResponse:
    message = f"No such {kind}: '{value}'"
    return error(status, "invalid_request_error", message, code="resource_missing", param=param)


def required(param: str) -> JSONResponse:
    message = f"Missing required param: {param}."
    return error(400, "invalid_request_error", message, code="parameter_missing", param=param)


def _headers() -> dict[str, str]:
    return {"Request-Id": new_id("req"), "Stripe-Version": API_VERSION}


def decode_form(raw: str) -> dict[str, Any]:
    """Stripe's form encoding back to objects: ``a[b][0][c]=v`` is ``{"a": {"b": [{"c": v}]}}``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


@dataclass
class StripeControl(StubControl):
    """:class:`StubControl` plus Stripe's state and the events it emitted, oldest first."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    portal_sessions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    endpoint: str | None = None
    """Where emitted events are delivered, signed (trying Flint by hand); None: kept only."""
    _replays: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Idempotency keys: the request each was first used with, and the answer to replay."""

    def reset(self) -> None:
        super().reset()
        with self._lock:
            for kept in (self.customers, self.sessions, self.subscriptions, self._replays):
                kept.clear()
            self.portal_sessions.clear()
            self.events.clear()
            self.endpoint = None

    def count_path(self, path: str) -> int:
        """API requests received so far for ``path``."""
        with self._lock:
            return sum(seen.path == path for seen in self.requests)

    # --- what happens at Stripe without an API call ------------------------------------------

    def complete_checkout(self, session_id: str, *, at: int | None = None) -> list[dict[str, Any]]:
        """The customer pays: the subscription starts, its first invoice is paid, the session
        completes. Returns the events, in the order Stripe emits them (one second for all)."""
        now = int(time.time()) if at is None else at
        with self._lock:
            checkout = self.sessions[session_id]
            subscription = _subscription(checkout, now)
            self.subscriptions[subscription["id"]] = subscription
            invoice = _invoice(subscription, now, paid=True, reason="subscription_create")
            subscription["latest_invoice"] = invoice["id"]
            checkout.update(
                status="complete",
                payment_status="paid",
                subscription=subscription["id"],
                invoice=invoice["id"],
                url=None,
            )
            emitted = [
                self._emit("customer.subscription.created", subscription, now),
                self._emit("invoice.paid", invoice, now),
                self._emit("invoice.payment_succeeded", invoice, now),
                self._emit("checkout.session.completed", checkout, now),
            ]
        self._deliver(emitted)
        return emitted

    def update_subscription(
        self, subscription_id: str, *, at: int | None = None, **changes: Any
    ) -> dict[str, Any]:
        """A change made in the portal or the dashboard (``cancel_at_period_end=True``)."""
        now = int(time.time()) if at is None else at
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            previous = {key: subscription.get(key) for key in changes}
            subscription.update(changes)
            event = self._emit("customer.subscription.updated", subscription, now, previous)
        self._deliver([event])
        return event

    def cancel_subscription(self, subscription_id: str, *, at: int | None = None) -> dict[str, Any]:
        """The subscription ends now (cancelled at once, or at its period's end)."""
        now = int(time.time()) if at is None else at
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription.update(status="canceled", canceled_at=now, ended_at=now)
            event = self._emit("customer.subscription.deleted", subscription, now)
        self._deliver([event])
        return event

    def delete_customer(self, customer_id: str) -> dict[str, Any] | None:
        """``DELETE /v1/customers/{id}``: the customer gone, its live subscriptions cancelled
        now; the deleted object Stripe answers, None for an unknown customer."""
        now = int(time.time())
        with self._lock:
            if self.customers.pop(customer_id, None) is None:
                return None
            emitted = []
            for subscription in self.subscriptions.values():
                if subscription.get("customer") == customer_id and subscription.get(
                    "status"
                ) not in (
                    "canceled",
                    "incomplete_expired",
                ):
                    subscription.update(status="canceled", canceled_at=now, ended_at=now)
                    emitted.append(self._emit("customer.subscription.deleted", subscription, now))
        self._deliver(emitted)
        return {"id": customer_id, "object": "customer", "deleted": True}

    def fail_renewal(self, subscription_id: str, *, at: int | None = None) -> list[dict[str, Any]]:
        """A renewal's payment fails: the invoice stays open and the subscription is past
        due while Stripe retries."""
        now = int(time.time()) if at is None else at
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            invoice = _invoice(subscription, now, paid=False, reason="subscription_cycle")
            previous = {"status": subscription["status"]}
            subscription.update(status="past_due", latest_invoice=invoice["id"])
            emitted = [
                self._emit("invoice.payment_failed", invoice, now),
                self._emit("customer.subscription.updated", subscription, now, previous),
            ]
        self._deliver(emitted)
        return emitted

    def _emit(
        self,
        type_: str,
        obj: dict[str, Any],
        created: int,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        shown = {key: value for key, value in obj.items() if not key.startswith("_")}
        data: dict[str, Any] = {"object": copy.deepcopy(shown)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            **copy.deepcopy(FIXTURES["event"]),
            "id": new_id("evt"),
            "api_version": API_VERSION,
            "created": created,
            "data": data,
            "pending_webhooks": 1,
            "type": type_,
        }
        self.events.append(event)
        return event

    def _deliver(self, emitted: list[dict[str, Any]]) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            return

        def post() -> None:
            with httpx.Client(timeout=10) as http:
                for event in emitted:
                    body = json.dumps(event)
                    http.post(
                        endpoint,
                        content=body,
                        headers={
                            "Stripe-Signature": signature(body),
                            "Content-Type": "application/json",
                        },
                    )

        threading.Thread(target=post, daemon=True).start()


def _subscription(checkout: dict[str, Any], now: int) -> dict[str, Any]:
    subscription = copy.deepcopy(FIXTURES["subscription"])
    sub_id = new_id("sub")
    (item,) = copy.deepcopy(subscription["items"]["data"][:1])
    price = {**copy.deepcopy(FIXTURES["price"]), "id": checkout["_price"]}
    item.update(
        id=new_id("si"),
        created=now,
        price=price,
        plan=None,
        subscription=sub_id,
        current_period_start=now,
        current_period_end=now + MONTH,
    )
    subscription.update(
        id=sub_id,
        customer=checkout["customer"],
        created=now,
        start_date=now,
        billing_cycle_anchor=now,
        status="active",
        cancel_at=None,
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        trial_start=None,
        trial_end=None,
        metadata=checkout["_subscription_metadata"],
        items={
            **subscription["items"],
            "data": [item],
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
    )
    return subscription


def _invoice(subscription: dict[str, Any], now: int, *, paid: bool, reason: str) -> dict[str, Any]:
    invoice = copy.deepcopy(FIXTURES["invoice"])
    invoice_id = new_id("in")
    amount = int(FIXTURES["price"]["unit_amount"])
    invoice.update(
        id=invoice_id,
        customer=subscription["customer"],
        subscription=None,
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": subscription["metadata"],
                "subscription": subscription["id"],
            },
        },
        billing_reason=reason,
        created=now,
        number=f"STUB-{secrets.randbelow(10**6):06d}",
        status="paid" if paid else "open",
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        attempt_count=1,
        attempted=True,
        hosted_invoice_url=f"https://invoice.stripe.com/i/{invoice_id}",
    )
    return invoice


def create_app() -> Starlette:
    control = StripeControl()

    def authenticated(request: Request) -> JSONResponse | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            return error(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if key != SECRET_KEY:
            return error(
                401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}****{key[-4:]}"
            )
        return None

    async def api(request: Request, handler: Any) -> Response:
        refused = authenticated(request)
        if refused is not None:
            return refused
        scenario = control.record(request)
        if scenario == "500":
            return error(500, "api_error", "An unknown error occurred", code="api_error")
        params = decode_form((await request.body()).decode()) if request.method == "POST" else {}
        key = request.headers.get("idempotency-key")
        fingerprint = f"{request.method} {request.url.path} {json.dumps(params, sort_keys=True)}"
        if key is not None:
            with control._lock:
                replay = control._replays.get(key)
            if replay is not None:
                if replay[0] != fingerprint:
                    return error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                replayed = {**_headers(), "Idempotency-Key": key, "Idempotent-Replayed": "true"}
                return JSONResponse(replay[1], headers=replayed)
        answer = handler(request, params)
        if isinstance(answer, Response):
            return answer
        if key is None:
            return JSONResponse(answer, headers=_headers())
        with control._lock:  # only answers that did something are kept for replay
            control._replays[key] = (fingerprint, answer)
        return JSONResponse(answer, headers={**_headers(), "Idempotency-Key": key})

    def public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def create_customer(request: Request, params: dict[str, Any]) -> Any:
        customer = copy.deepcopy(FIXTURES["customer"])
        customer.update(
            id=new_id("cus"),
            created=int(time.time()),
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata", {}),
            discount=None,
        )
        with control._lock:
            control.customers[customer["id"]] = customer
        return customer

    def read_customer(request: Request, params: dict[str, Any]) -> Any:
        found = control.customers.get(request.path_params["id"])
        return found or missing("customer", request.path_params["id"], "id", 404)

    def delete_customer(request: Request, params: dict[str, Any]) -> Any:
        customer_id = request.path_params["id"]
        deleted = control.delete_customer(customer_id)
        return deleted or missing("customer", customer_id, "id", 404)

    def create_session(request: Request, params: dict[str, Any]) -> Any:
        if params.get("mode") != "subscription":
            message = "The stub sells subscriptions only (mode=subscription)."
            return error(
                400, "invalid_request_error", message, code="parameter_invalid_string", param="mode"
            )
        items = params.get("line_items")
        if not items:
            return required("line_items")
        price = items[0].get("price")
        if price != PRICE_ID:
            return missing("price", str(price), "line_items[0][price]")
        customer = params.get("customer")
        if customer is not None and customer not in control.customers:
            return missing("customer", customer, "customer")
        now = int(time.time())
        session = copy.deepcopy(FIXTURES["checkout.session"])
        session_id = "cs_test_" + secrets.token_urlsafe(40).replace("-", "a").replace("_", "b")
        session.update(
            id=session_id,
            object="checkout.session",
            mode="subscription",
            status="open",
            payment_status="unpaid",
            customer=customer,
            customer_email=params.get("customer_email"),
            client_reference_id=params.get("client_reference_id"),
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            metadata=params.get("metadata", {}),
            created=now,
            expires_at=now + 24 * 3600,
            subscription=None,
            invoice=None,
            payment_intent=None,
            amount_subtotal=int(FIXTURES["price"]["unit_amount"]),
            amount_total=int(FIXTURES["price"]["unit_amount"]),
            currency="usd",
            url=f"{str(request.base_url).rstrip('/')}/c/pay/{session_id}",
            _price=price,
            _subscription_metadata=(params.get("subscription_data") or {}).get("metadata", {}),
        )
        with control._lock:
            control.sessions[session_id] = session
        return public(session)

    def read_session(request: Request, params: dict[str, Any]) -> Any:
        session_id = request.path_params["id"]
        found = control.sessions.get(session_id)
        return public(found) if found else missing("checkout.session", session_id, "id", 404)

    def create_portal(request: Request, params: dict[str, Any]) -> Any:
        customer = params.get("customer")
        if not customer:
            return required("customer")
        if customer not in control.customers:
            return missing("customer", customer, "customer")
        portal = copy.deepcopy(FIXTURES["billing_portal.session"])
        portal.update(
            id=new_id("bps"),
            customer=customer,
            created=int(time.time()),
            livemode=False,
            flow=None,
            return_url=params.get("return_url"),
            url=f"{str(request.base_url).rstrip('/')}/p/session/{secrets.token_urlsafe(24)}",
        )
        with control._lock:
            control.portal_sessions.append(portal)
        return portal

    def read_subscription(request: Request, params: dict[str, Any]) -> Any:
        found = control.subscriptions.get(request.path_params["id"])
        return found or missing("subscription", request.path_params["id"], "id", 404)

    def route(path: str, handler: Any, method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return await api(request, handler)

        return Route(path, endpoint, methods=[method])

    async def pay_page(request: Request) -> Response:
        session_id = request.path_params["id"]
        if session_id not in control.sessions:
            return HTMLResponse("<h1>No such checkout</h1>", status_code=404)
        if request.method == "POST":
            control.complete_checkout(session_id)
            target = str(control.sessions[session_id]["success_url"])
            return HTMLResponse(
                f'<h1>Paid</h1><p><a href="{target.replace("{CHECKOUT_SESSION_ID}", session_id)}">'
                "Back to the shop</a></p>"
            )
        return HTMLResponse(
            "<h1>Stub Checkout</h1><p>Flint premium, 20.00 USD a month.</p>"
            '<form method="post"><button>Pay</button></form>'
        )

    async def set_endpoint(request: Request) -> JSONResponse:
        control.endpoint = (await request.json()).get("url")
        return JSONResponse({"endpoint": control.endpoint})

    routes = [
        route("/v1/customers", create_customer, "POST"),
        route("/v1/customers/{id}", read_customer, "GET"),
        route("/v1/customers/{id}", delete_customer, "DELETE"),
        route("/v1/checkout/sessions", create_session, "POST"),
        route("/v1/checkout/sessions/{id}", read_session, "GET"),
        route("/v1/billing_portal/sessions", create_portal, "POST"),
        route("/v1/subscriptions/{id}", read_subscription, "GET"),
        Route("/c/pay/{id}", pay_page, methods=["GET", "POST"]),
        Route("/_endpoint", set_endpoint, methods=["POST"]),
    ]
    return stub_app(routes, control)

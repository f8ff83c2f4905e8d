"""Every route of the app in one table: the scope an API key needs for it, and how to call it as
its owner would (which kind of thing each of its ids names, and a body to send).

The authorization tests walk the app's router and look every route up here, so a route added
later fails them until it is added: tests/users/test_api_key_scopes.py (a key of each scope)
and tests/authz/ (another user's ids, and no or bad tokens). A route's ids are found in the
route itself (`id_locations`: every path parameter, and each query, header or body field that
holds a UUID, a custom asset's symbol or an `...Id`); each must be named here with its kind.

Scopes: `public` routes take no credential (each says why below), `session` ones refuse every
API key (they guard the account itself); `read`, `write`, `trade` are the keys' scopes.

Templates (bodies, queries, headers, raw contents) write an id as "{kind}" (`{portfolio}`) and
are filled with one value per kind (`Route.request`): the owner's own ids, or someone else's
for one kind. Headers are sent only when their own location is the one tested (an
`Idempotency-Key` changes what the other ids' answers are).
"""

from __future__ import annotations

import re
import types
import typing
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, RootModel

from flint.app.routing import app_routes
from flint.kit.symbols import normalize_any_symbol, normalize_custom_symbol

# --- kinds of ids ---------------------------------------------------------------------------
USER = "user"
ACCOUNT = "account"  # a linked brokerage account
PORTFOLIO = "portfolio"
TRADE = "trade"  # a filled trade
UNKNOWN_TRADE = "unknownTrade"  # a trade left `unknown` (what resolve takes)
PREVIEW = "preview"  # an unused trade preview
ORDER = "order"  # the broker's id of a trade's order
ALERT = "alert"
REPORT = "report"  # a completed report
NOTIFICATION = "notification"
KEY = "key"  # an API key's id
JOB = "job"  # an import job of the portfolio
HELD_LOT = "lot"  # a lot (a buy entered) of the portfolio
TRANSACTION = "transaction"  # a ledger row entered by hand (a deposit) of the portfolio
SIGN_IN = "signIn"  # a sign-in of the owner's other device
SYMBOL = "symbol"  # a custom asset's symbol
IDEMPOTENCY = "idempotency"  # an Idempotency-Key the owner used
LISTED = "listed"
"""A listed symbol: the same market for everyone, not a user's data (not cross-checked)."""

ONCE = frozenset({IDEMPOTENCY})
"""Kinds tried under one prefix only: the two serve one operation, so an Idempotency-Key sent
under /api/v1 is the sender's own under /api afterwards."""
UUID_KINDS = frozenset(
    {USER, ACCOUNT, PORTFOLIO, TRADE, UNKNOWN_TRADE, PREVIEW, ALERT, REPORT, NOTIFICATION}
    | {KEY, JOB, HELD_LOT, TRANSACTION, SIGN_IN}
)
"""Kinds whose unknown values (and other users') answer 404."""
KINDS = UUID_KINDS | {SYMBOL, ORDER, IDEMPOTENCY, LISTED}


def nobody() -> dict[str, str]:
    """A value of each kind that exists nowhere (fresh on every call)."""
    tag = uuid.uuid4().hex[:8].upper()
    values = {kind: str(uuid.uuid4()) for kind in UUID_KINDS}
    values.update(
        {SYMBOL: f"NB:X{tag}", ORDER: f"ord-{tag.lower()}", IDEMPOTENCY: f"key-{tag.lower()}"}
    )
    values[LISTED] = "MSFT"
    return values


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the /api/v1 or /api prefix
    params: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    content: str | None = None

    async def send(
        self, client: httpx.AsyncClient, prefix: str, headers: Mapping[str, str] = {}
    ) -> httpx.Response:
        """Send it under `prefix` (`/api/v1`, `/api`) with `headers` added to its own."""
        sent: dict[str, Any] = {"params": self.params, "headers": {**self.headers, **headers}}
        if self.content is not None:
            sent["content"] = self.content.encode()
        elif self.json is not None:
            sent["json"] = self.json
        return await client.request(self.method, prefix + self.path, **sent)


@dataclass(frozen=True, eq=False)
class Route:
    scope: str
    method: str
    path: str
    ids: Mapping[str, str] = field(default_factory=dict)
    """Each id the route takes, by location (`path.portfolioId`, `query.accountId`,
    `body.assets.symbol`, `header.Idempotency-Key`, `content.symbol` in a raw body): its kind."""
    body: Any = None
    """A JSON template; none: `{}` for the methods that take a body."""
    bodies: Mapping[str, Any] = field(default_factory=dict)
    """The body to send when testing one location (execute's `previewId` replaces the order)."""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    content: tuple[str, str] | None = None
    """A raw body: (media type, template)."""
    undo: str | None = None
    """A route that creates under a name the caller picks: the path to DELETE after it did."""
    own: int | None = None
    """What the owner's own call answers when it is not a success (the owner's data as the
    authorization walk leaves it: a filled trade cannot be cancelled)."""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    def request(self, values: Mapping[str, str], testing: str | None = None) -> Request:
        def by_location(match: re.Match[str]) -> str:
            return values[self.ids[f"path.{match.group(1)}"]]

        headers = {
            name: fill(template, values)
            for name, template in self.headers.items()
            if testing == f"header.{name}"
        }
        path = PARAM.sub(by_location, self.path)
        params = {name: fill(template, values) for name, template in self.query.items()}
        if self.content is not None:
            media, template = self.content
            headers["content-type"] = media
            return Request(self.method, path, params, headers, content=fill(template, values))
        body = self.bodies.get(testing or "", self.body)
        if body is None and self.method in {"POST", "PUT", "PATCH"}:
            body = {}
        return Request(self.method, path, params, headers, fill(body, values))


PARAM = re.compile(r"\{(\w+)\}")


def fill(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        return PARAM.sub(lambda match: values[match.group(1)], template)
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, dict):
        return {name: fill(item, values) for name, item in template.items()}
    return template


ROUTES_TEXT = """
public  POST   /auth/register                          # signing up
public  POST   /auth/login                             # signing in: the password is the credential
public  POST   /auth/token                             # the same, as the docs' OAuth2 form
public  POST   /auth/refresh                           # the refresh token is the credential
session POST   /auth/logout
session POST   /auth/logout-all
session GET    /auth/sessions
session DELETE /auth/sessions
session DELETE /auth/sessions/{sessionId}              path.sessionId=signIn
read    GET    /auth/me
session POST   /auth/change-password
public  POST   /auth/reset-password                    # a forgotten password
public  POST   /auth/reset-password/confirm            # the emailed reset token is the credential
session GET    /auth/2fa
session POST   /auth/2fa/setup
session GET    /auth/2fa/qr.svg
session POST   /auth/2fa/enable
session POST   /auth/2fa/disable
public  POST   /auth/2fa/verify                        # the sign-in's mfaToken and a code
read    GET    /users/me
write   PATCH  /users/me
session DELETE /users/me
read    GET    /users/{userId}                         path.userId=user
session POST   /api-keys
session GET    /api-keys
session DELETE /api-keys/{keyId}                       path.keyId=key
write   POST   /watchlist/add                          body.userId=user
read    GET    /watchlist/{userId}                     path.userId=user
write   DELETE /watchlist/{userId}/{asset}             path.userId=user path.asset=listed
read    GET    /market/real-time/{symbol}              path.symbol=listed
read    GET    /market/historical/{symbol}             path.symbol=listed
read    GET    /market/search
write   POST   /accounts/connect                       body.reconnect=account
write   POST   /accounts/link
read    GET    /accounts
read    GET    /accounts/{accountId}                   path.accountId=account
write   POST   /accounts/{accountId}/sync              path.accountId=account
write   DELETE /accounts/{accountId}                   path.accountId=account
trade   POST   /trades/preview                         body.accountId=account
                                                       header.Idempotency-Key=idempotency
trade   POST   /trades/execute                         body.accountId=account body.previewId=preview
                                                       header.Idempotency-Key=idempotency
read    GET    /trades                                 query.accountId=account
read    GET    /trades/{tradeId}                       path.tradeId=trade
read    GET    /trades/{tradeId}/events                path.tradeId=trade
trade   POST   /trades/{tradeId}/resolve               path.tradeId=unknownTrade
                                                       body.providerOrderId=order
trade   DELETE /trades/{tradeId}                       path.tradeId=trade
write   POST   /portfolio/                             body.accountId=account
                                                       body.assets.symbol=symbol
read    GET    /portfolio/
read    GET    /portfolio/{portfolioId}                path.portfolioId=portfolio
write   PUT    /portfolio/{portfolioId}                path.portfolioId=portfolio
                                                       body.assets.symbol=symbol
                                                       body.assets.lotId=lot
write   PATCH  /portfolio/{portfolioId}                path.portfolioId=portfolio
write   PUT    /portfolio/{portfolioId}/follow         path.portfolioId=portfolio
                                                       body.accountId=account
write   DELETE /portfolio/{portfolioId}/follow         path.portfolioId=portfolio
write   DELETE /portfolio/{portfolioId}                path.portfolioId=portfolio
write   POST   /portfolio/{portfolioId}/transactions   path.portfolioId=portfolio body.symbol=symbol
read    GET    /portfolio/{portfolioId}/transactions   path.portfolioId=portfolio
                                                       query.symbol=symbol
read    GET    /portfolio/{portfolioId}/transactions/{transactionId}  path.portfolioId=portfolio
                                                       path.transactionId=transaction
write   PUT    /portfolio/{portfolioId}/transactions/{transactionId}  path.portfolioId=portfolio
                                                       path.transactionId=transaction
                                                       body.symbol=symbol
write   DELETE /portfolio/{portfolioId}/transactions/{transactionId}  path.portfolioId=portfolio
                                                       path.transactionId=transaction
read    GET    /portfolio/{portfolioId}/performance    path.portfolioId=portfolio
read    GET    /portfolio/{portfolioId}/performance/chart  path.portfolioId=portfolio
write   POST   /portfolio/{portfolioId}/import         path.portfolioId=portfolio
                                                       content.symbol=symbol
read    GET    /portfolio/{portfolioId}/imports        path.portfolioId=portfolio
read    GET    /portfolio/{portfolioId}/imports/{jobId}  path.portfolioId=portfolio path.jobId=job
read    GET    /portfolio/{portfolioId}/export         path.portfolioId=portfolio
write   POST   /portfolio/import/ghostfolio
write   POST   /assets                                 body.symbol=symbol
read    GET    /assets
read    GET    /assets/{symbol}                        path.symbol=symbol
write   PUT    /assets/{symbol}                        path.symbol=symbol
write   DELETE /assets/{symbol}                        path.symbol=symbol
write   PUT    /assets/{symbol}/prices                 path.symbol=symbol
read    GET    /assets/{symbol}/prices                 path.symbol=symbol
write   POST   /reports/                               body.portfolioId=portfolio
read    GET    /reports/user/{userId}                  path.userId=user
read    GET    /reports/{reportId}                     path.reportId=report
read    GET    /reports/{reportId}/download            path.reportId=report
write   DELETE /reports/{reportId}                     path.reportId=report
read    GET    /notifications
write   POST   /notifications/read-all
read    GET    /notifications/preferences
write   PUT    /notifications/preferences
write   POST   /notifications/{notificationId}/read    path.notificationId=notification
write   POST   /alerts
read    GET    /alerts
read    GET    /alerts/{alertId}                       path.alertId=alert
write   PATCH  /alerts/{alertId}                       path.alertId=alert
write   DELETE /alerts/{alertId}                       path.alertId=alert
session POST   /billing/checkout-session
session POST   /billing/portal-session
read    GET    /billing/subscription
public  POST   /billing/webhook                        # Stripe's, checked by its signature
public  POST   /webhooks/snaptrade                     # SnapTrade's, checked by its signature
"""
"""Each route: its scope, and each id it takes (`location=kind`); a public one says why."""

ORDER_BODY = {"accountId": "{account}", "asset": "AAPL", "action": "buy", "quantity": "1"}
IDEMPOTENT = {"Idempotency-Key": "{idempotency}"}
LOT = {
    "symbol": "{symbol}",
    "quantity": "1",
    "purchasePrice": "300000",
    "purchaseDate": "2024-02-01",
}
CALLS: dict[str, dict[str, Any]] = {
    "POST /watchlist/add": {"body": {"userId": "{user}", "asset": "MSFT"}},
    "GET /market/search": {"query": {"query": "apple"}},
    "POST /accounts/connect": {  # the sandbox's links need no repair
        "body": {"provider": "sandbox", "reconnect": "{account}"},
        "own": 422,
    },
    "POST /trades/preview": {"body": ORDER_BODY, "headers": IDEMPOTENT},
    "POST /trades/execute": {
        "body": ORDER_BODY,
        "bodies": {"body.previewId": {"previewId": "{preview}"}},
        "headers": IDEMPOTENT,
    },
    "GET /trades": {"query": {"accountId": "{account}"}},
    "POST /trades/{tradeId}/resolve": {  # the owner's order is their filled trade's
        "body": {"placed": True, "providerOrderId": "{order}"},
        "own": 422,
    },
    "DELETE /trades/{tradeId}": {"own": 409},  # filled: nothing to cancel
    "POST /portfolio/": {"body": {"name": "Following", "assets": [LOT], "accountId": "{account}"}},
    "PUT /portfolio/{portfolioId}": {
        "body": {"name": "Renamed", "assets": [LOT | {"lotId": "{lot}"}]}
    },
    "PATCH /portfolio/{portfolioId}": {"body": {"name": "Renamed again"}},
    "PUT /portfolio/{portfolioId}/follow": {"body": {"accountId": "{account}"}},
    "POST /portfolio/{portfolioId}/transactions": {
        "body": {"date": "2024-07-01", "type": "buy", "symbol": "{symbol}", "quantity": "1"}
        | {"price": "310000"}
    },
    "GET /portfolio/{portfolioId}/transactions": {"query": {"symbol": "{symbol}"}},
    "PUT /portfolio/{portfolioId}/transactions/{transactionId}": {  # the deposit, a buy now
        "body": {"date": "2024-07-01", "type": "buy", "symbol": "{symbol}", "quantity": "1"}
        | {"price": "310000"}
    },
    "POST /portfolio/{portfolioId}/import": {
        "content": (
            "text/csv",
            "date,symbol,type,quantity,price\n2024-07-02,{symbol},buy,1,310000\n",
        )
    },
    "POST /assets": {  # the owner's symbol is taken
        "body": {"symbol": "{symbol}", "name": "A house"},
        "undo": "/assets/{symbol}",
        "own": 409,
    },
    "DELETE /assets/{symbol}": {"own": 409},  # the owner's ledgers name it
    "PUT /assets/{symbol}": {"body": {"name": "Renamed", "assetClass": "real_estate"}},
    "PUT /assets/{symbol}/prices": {"body": [{"date": "2024-06-03", "price": "310000"}]},
    "POST /reports/": {
        "body": {"type": "transactions", "format": "csv", "portfolioId": "{portfolio}"}
    },
}
"""How to call a route beyond its ids (`Route`'s fields): a body, a query, headers."""


def _parse(text: str) -> list[Route]:
    """A line a route (an indented line goes on with the ids of the one above)."""
    rows: list[list[str]] = []
    for line in text.strip().splitlines():
        words = line.split("#", 1)[0].split()
        if line[0].isspace():
            rows[-1] += words
        else:
            rows.append(words)
    kinds = {pair.split("=")[1] for row in rows for pair in row[3:]}
    assert kinds <= KINDS, f"no such kind of id: {kinds - KINDS}"
    return [
        Route(
            scope,
            method,
            path,
            dict(pair.split("=") for pair in ids),
            **CALLS.get(f"{method} {path}", {}),
        )
        for scope, method, path, *ids in rows
    ]


ROUTES = _parse(ROUTES_TEXT)
TABLE: dict[tuple[str, str], Route] = {route.key: route for route in ROUTES}

OUTSIDE: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/metrics"): "its own check: from loopback, or with the metrics bearer token",
    ("GET", "/openapi.json"): "the API's description",
    ("GET", "/api/openapi.json"): "the API's description under /api",
    ("GET", "/docs"): "the docs page",
    ("GET", "/docs/oauth2-redirect"): "the docs' sign-in redirect",
    ("GET", "/redoc"): "the docs page",
    ("GET", "/api/docs"): "the docs page of the /api paths",
    ("GET", "/api/redoc"): "the docs page of the /api paths",
    ("GET", "/static/docs"): "the docs pages' scripts and styles",
    ("GET", "/"): "a redirect to the docs",
    ("GET", "/reset-password"): "the page a reset email links to (the token is in the link)",
    ("GET", "/billing/success"): "where Stripe sends the browser back",
    ("GET", "/billing/cancel"): "where Stripe sends the browser back",
    ("GET", "/billing/return"): "where Stripe's portal sends the browser back",
}
"""The routes outside /api (and /api's documents): public, each for the reason given."""

PREFIXES = ("/api/v1", "/api")
WEBSOCKETS = {"/market/ws"}
"""WebSocket routes under both prefixes: they take an access token in their first message."""


def split(path: str) -> tuple[str, str] | None:
    """(prefix, path in the table) of an API path; None outside /api."""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            return prefix, path.removeprefix(prefix)
    return None


def api_routes(app: FastAPI) -> Iterator[tuple[str, Route, APIRoute]]:
    """Every HTTP operation under /api/v1 and /api, as (prefix, its row, the route)."""
    outside = {path for _, path in OUTSIDE}
    for path, route in app_routes(app):
        where = split(path)
        if where is None or path in outside or not isinstance(route, APIRoute):
            continue
        for method in sorted(route.methods or ()):
            yield where[0], TABLE.get((method, where[1])) or Route("?", method, where[1]), route


# --- ids a route takes, found in the route ----------------------------------------------------

ID_NAME = re.compile(r"(Id|_id|-Key)$")


def id_locations(route: APIRoute) -> set[str]:
    """Where `route` takes an id: every path parameter; query and header parameters and body
    fields (nested too) that hold a UUID or a custom asset's symbol, or are named `...Id`."""
    found: set[str] = set()
    for dependant in _dependants(route.dependant):
        found |= {f"path.{param.alias}" for param in dependant.path_params}
        for where, params in (
            ("query", dependant.query_params),
            ("header", dependant.header_params),
        ):
            for param in params:
                if _holds_id(param.alias, param.field_info.annotation, param.field_info.metadata):
                    found.add(f"{where}.{param.alias}")
        for param in dependant.body_params:
            found |= set(_body_ids("body", param.field_info.annotation, frozenset()))
    return found


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _leaves(annotation: Any) -> Iterator[tuple[Any, list[Any]]]:
    """The types inside an annotation (through Annotated, unions and containers), each with
    the metadata wrapped around it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        for leaf, more in _leaves(inner):
            yield leaf, [*metadata, *more]
    elif origin in (typing.Union, types.UnionType, list, set, frozenset, tuple, dict):
        for argument in typing.get_args(annotation):
            yield from _leaves(argument)
    else:
        yield annotation, []


def _holds_id(name: str, annotation: Any, metadata: list[Any]) -> bool:
    if ID_NAME.search(name):
        return True
    for leaf, more in _leaves(annotation):
        checks = {getattr(item, "func", None) for item in [*metadata, *more]}
        if leaf is uuid.UUID or checks & {normalize_any_symbol, normalize_custom_symbol}:
            return True
    return False


def _body_ids(prefix: str, annotation: Any, seen: frozenset[type]) -> Iterator[str]:
    for leaf, _ in _leaves(annotation):
        if not isinstance(leaf, type) or not issubclass(leaf, BaseModel) or leaf in seen:
            continue
        if issubclass(leaf, RootModel):
            yield from _body_ids(prefix, leaf.model_fields["root"].annotation, seen | {leaf})
            continue
        for name, info in leaf.model_fields.items():
            where = f"{prefix}.{info.alias or name}"
            if _holds_id(info.alias or name, info.annotation, info.metadata):
                yield where
            yield from _body_ids(where, info.annotation, seen | {leaf})

"""The SnapTrade stub's app: partner auth, the endpoint wrapper, and where routes come from.

Routes are built by the route factories (one per module: users and connections, account data,
orders, checked orders), then those in :data:`ROUTES`; each takes the :class:`Stub` and returns
Starlette routes, made with :meth:`Stub.route` so that every operation is served at its
canonical root path and at the legacy ``/api/v1`` one. To serve more of SnapTrade's API, write
such a factory in a module of this package and add it to :data:`ROUTES` (or pass it to
:func:`create_app` as ``extra``).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.stubs.contract import Contract, checked, fault, spec_path
from tests.stubs.server import StubControl, stub_app
from tests.stubs.snaptrade.common import (
    CLIENT_ID,
    CONSUMER_KEY,
    DEPRECATION,
    FEATURE_NOT_ENABLED,
    LEGACY,
    MAX_SKEW,
    SIGNATURE_REFUSED,
    SIGNED_PREFIX,
    UNVERIFIABLE_DATA,
    USER_REFUSED,
    canonical_signature,
    dumps,
    refusal,
    sample_error,
)
from tests.stubs.snaptrade.state import Account, SnapTradeState, User

SERVER = "https://api.snaptrade.com"
"""The spec's only server."""


@dataclass
class Call:
    """What a handler gets: the request, its parsed body and the signed-in user."""

    request: Request
    body: Any
    user: User | None
    scenario: str
    account: Account | None = None


Result = Response | tuple[int, Any]
Handler = Callable[[Call], Awaitable[Result]]


class Stub:
    """The state, the control, and the wrapper every SnapTrade operation goes through."""

    def __init__(self) -> None:
        self.control = StubControl()
        self.state = SnapTradeState()

    def authenticate(self, request: Request, raw_body: bytes) -> Response | None:
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
        if path.startswith(LEGACY + "/"):
            path = path[len(LEGACY) :]
        query = request.scope.get("query_string", b"").decode("latin-1")
        try:
            expected = canonical_signature(CONSUMER_KEY, SIGNED_PREFIX + path, query, raw_body)
        except ValueError:
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        sent = request.headers.get("signature", "")
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return JSONResponse(SIGNATURE_REFUSED, status_code=401)
        return None

    def signed_in(self, request: Request) -> User | None:
        user = self.state.users.get(request.query_params.get("userId", ""))
        secret = request.query_params.get("userSecret", "")
        if user is None or not hmac.compare_digest(user.secret.encode(), secret.encode()):
            return None
        return user

    async def _transport(self, request: Request, scenario: str) -> Response | None:
        """The injected transport faults (none is in the spec)."""
        if scenario == "500":
            return sample_error(500)
        if scenario == "429":
            fault(request)
            detail = "Request was throttled. Expected available in 1 second."
            return JSONResponse({"detail": detail}, 429, headers={"Retry-After": "0"})
        if scenario == "slow":
            await self.control.pause()
        if scenario == "html":
            fault(request)
            return HTMLResponse("<!DOCTYPE html><html><body>Maintenance</body></html>")
        if scenario == "feature_403":  # documented for some operations, given by any
            fault(request)
            return JSONResponse(FEATURE_NOT_ENABLED, status_code=403)
        if scenario == "unverifiable_data":  # the spec's 400FailedRequestResponse example
            fault(request)
            return JSONResponse(UNVERIFIABLE_DATA, status_code=400)
        return None

    def endpoint(
        self, handler: Handler, *, user_scoped: bool = True, account: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            response = await self._handle(request, handler, user_scoped, account)
            if request.url.path.startswith(LEGACY + "/"):
                response.headers["Deprecation"] = DEPRECATION
            return response

        return route

    async def _handle(
        self, request: Request, handler: Handler, user_scoped: bool, account: bool
    ) -> Response:
        scenario = self.control.record(request)
        raw_body = await request.body()
        injected = await self._transport(request, scenario)
        if injected is not None:
            return injected
        refused = self.authenticate(request, raw_body)
        if refused is not None:
            fault(request)  # SnapTrade's real answer, though most operations do not list a 401
            return refused
        user = None
        if user_scoped:
            user = self.signed_in(request)
            if user is None or scenario == "revoked":
                fault(request)
                return JSONResponse(USER_REFUSED, status_code=401)
        try:
            body = json.loads(raw_body, parse_float=Decimal) if raw_body else None
        except ValueError:
            return refusal(400, "The request body is not valid JSON")
        call = Call(request, body, user, scenario)
        if account:
            assert user is not None
            found = self.state.account_of(user.user_id, request.path_params["account_id"])
            if found is None:
                return sample_error(404)
            call.account = found
        result = await handler(call)
        if isinstance(result, Response):
            return result
        status, payload = result
        text = dumps(payload)
        if scenario == "truncated":
            fault(request)
            text = text[: len(text) // 2]
        return Response(text, status, media_type="application/json")

    def route(
        self,
        path: str,
        handler: Handler,
        method: str,
        *,
        user_scoped: bool = True,
        account: bool = False,
    ) -> list[Route]:
        """``path`` (the spec's, e.g. ``/accounts/{account_id}``) at the root and under the
        legacy ``/api/v1``."""
        wrapped = self.endpoint(handler, user_scoped=user_scoped, account=account)
        return [Route(prefix + path, wrapped, methods=[method]) for prefix in ("", LEGACY)]


RouteFactory = Callable[[Stub], list[Route]]


def _factories() -> list[RouteFactory]:
    from tests.stubs.snaptrade import data, impact, orders, users

    return [users.routes, data.routes, orders.routes, impact.routes]


ROUTES: list[RouteFactory] = []
"""Extra route factories every app gets (besides users, data, orders and impact)."""


def create_app(extra: Sequence[RouteFactory] = ()) -> Starlette:
    """A fresh stub (state ``app.state.snaptrade``, spec checks ``app.state.contract``)."""
    stub = Stub()
    routes: list[Route] = []
    for factory in (*_factories(), *ROUTES, *extra):
        routes.extend(factory(stub))
    app = stub_app(routes, stub.control)
    app.state.snaptrade = stub.state
    app.state.stub = stub
    contract = Contract(spec_path("snaptrade-api.yaml"), SERVER, prefix=LEGACY)
    return checked(app, contract)

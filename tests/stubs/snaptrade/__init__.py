"""A local SnapTrade: a stateful fake of the partner API as its OpenAPI document
(``tests/stubs/specs/snaptrade-api.yaml``) describes it, and by default only that.

Modules: :mod:`.common` (constants, samples, signing), :mod:`.state` (users, connections,
accounts, orders), :mod:`.app` (partner auth, the endpoint wrapper, :func:`create_app` and the
route factories), :mod:`.users`, :mod:`.data`, :mod:`.orders` and :mod:`.impact` (checked
orders: ``/symbols/{query}``, ``/trade/impact``, ``/trade/{tradeId}``) (the operations), and
:mod:`.webhooks` (SnapTrade's webhooks, signed and delivered to Flint as SnapTrade sends them).
To serve more operations, add a route factory (see :mod:`.app`).

Spec checks: every request the stub receives and every answer it gives is validated against
the spec with openapi-core (:mod:`tests.stubs.contract`); violations are collected in
``app.state.contract`` and the tests' fixtures fail on any.

Paths: every operation is served at the spec's canonical root path (the spec's only server is
``https://api.snaptrade.com``) and at the legacy ``/api/v1`` prefix, whose answers carry
``Deprecation: @1781222400`` as the spec says.

Partner auth is verified the way SnapTrade documents it and its SDKs compute it (independently of
the adapter): ``clientId`` must be :data:`CLIENT_ID`; ``timestamp`` within five minutes of now;
``Signature`` = base64(HMAC-SHA256(:data:`CONSUMER_KEY`, canonical)), canonical being the
compact, key-sorted JSON of ``{"content": <parsed body, null when empty or {}>, "path":
"/api/v1" + <the operation's path>, "query": <raw query string as received>}`` (the SDKs sign
``"/api/v1%s" % path`` whatever the host). Any failure gets SnapTrade's 401 ``{"detail":
"Unable to verify signature sent", "status_code": 401, "code": "1076"}``. User-scoped calls
also need ``userId``/``userSecret``; a wrong pair gets the 1083 401.

Users: ``POST /snapTrade/registerUser {userId}`` gives a random ``userSecret`` (a second time:
400 code 1010); ``POST /snapTrade/resetUserSecret {userId, userSecret}`` rotates it (a wrong
pair: 401); ``DELETE /snapTrade/deleteUser?userId=`` deletes the user and its connections.
Scenarios ``register_lost`` (the user is created, then a 500 is answered) and
``register_timeout`` (created, then the answer waits ``delay``): registration that fails after
creating the user.

Connections: ``POST /snapTrade/login`` answers ``{redirectURI, sessionId}``; ``GET
/_portal?sessionId=`` "connects" a brokerage and redirects to the login's ``customRedirect``
with ``?status=SUCCESS&authorizationId=<id>``; a login with ``reconnect`` (a connection id of
the user) makes the portal repair that connection (enabled again, same id) instead. Tests may
skip the portal: ``POST /_connect
{"userId", "broker": "ROBINHOOD"|"COINBASE", "type": "trade"|"read", "disabled": false,
"listsOrders": true}`` -> ``{"authorizationId"}`` (or :meth:`SnapTradeState.connect`).
``GET /authorizations/{id}``; ``DELETE /connection/{id}`` answers 200
``DeleteConnectionConfirmation`` and removes the connection and its accounts, keeping it in
``state.deleted_connections`` for the ``CONNECTION_DELETED`` webhook that follows (the old
``DELETE /authorizations/{id}`` is gone from the spec and from the stub).

Accounts (ROBINHOOD: one account copied from the samples; COINBASE: an empty crypto account):
account, balances, ``/positions/all`` (with ``data_freshness``), activities (seven synthetic
UniversalActivity rows; a WITHDRAWAL of +50.00 on purpose).

Orders: ``POST /trade/place`` executes Market orders at once at :data:`QUOTES`, leaves the
others PENDING, refuses an unknown symbol, a BUY beyond the buying power (400) and trading on a
read-only connection (403). Order records are the spec's AccountOrderRecord: no
``client_order_id`` (the stub keeps what was sent for the tests, in
:meth:`SnapTradeState.orders_placed`, and never serves it). ``GET /accounts/{id}/orders`` is
the daily cache (:meth:`SnapTradeState.new_day` refreshes it) unless ``state.realtime``; a
connection made with ``lists_orders=False`` answers it, and ``recentOrders``, with the spec's
501 ``{"error": ...}``. ``GET /accounts/{id}/recentOrders`` is real-time, the last 24 hours
(executed only unless ``only_executed=false``), ``{"orders": [...]}``; ``state.recent_orders =
False`` makes it the 403 feature-not-enabled. ``POST /accounts/{id}/orders/details`` finds an
order placed through SnapTrade (real-time; 404 for others, such as one placed by hand with
:meth:`SnapTradeState.place_by_hand`). Cancel turns a PENDING order CANCELED and refuses (400)
one that is no longer open.

Scenarios (:class:`tests.stubs.server.StubControl`): ``success``; transport ``500``, ``429``,
``slow``, ``html``, ``truncated``; ``revoked``; ``missing``; ``insufficient_funds``;
``lost_response`` (the order is recorded, then a 500 is returned) and
``lost_response_timeout`` (recorded, then the answer waits ``delay``); ``null_units`` (one more
position whose ``units`` is null); ``register_lost``, ``register_timeout``; ``feature_403``
(any call gets the spec's 403 "Feature is not enabled", code 1141) and ``unverifiable_data``
(the spec's 400 "Unable to verify data sent", code 1076).

Samples (tests/stubs/samples) are reconstructed from passiv/snaptrade-sdks api.yaml (MIT,
Konfig Inc.): each operation's schema filled with the spec's own examples; none is a captured
response (their provenance is in the shared reference SOURCES.md).
"""

from tests.stubs.snaptrade.app import ROUTES, Call, Stub, create_app
from tests.stubs.snaptrade.common import (
    CLIENT_ID,
    CONSUMER_KEY,
    QUOTES,
    canonical_signature,
    sample,
)
from tests.stubs.snaptrade.state import Account, Connection, ImpactState, SnapTradeState, User

__all__ = [
    "CLIENT_ID",
    "CONSUMER_KEY",
    "QUOTES",
    "ROUTES",
    "Account",
    "Call",
    "Connection",
    "ImpactState",
    "SnapTradeState",
    "Stub",
    "User",
    "canonical_signature",
    "create_app",
    "sample",
]

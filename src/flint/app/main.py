"""create_app(): settings, runtime, middleware, routers (under /api/v1 and /api), error handlers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from limits.aio.storage import Storage

from flint import __version__, webhooks
from flint.accounts.router import router as accounts_router
from flint.accounts.webhook_router import router as accounts_webhooks_router
from flint.alerts.router import router as alerts_router
from flint.app.docs import STATIC, document_security, install_docs
from flint.app.edge import Edge
from flint.app.methods import AllowedMethods
from flint.app.metrics import flush_request_counts
from flint.app.metrics import router as metrics_router
from flint.app.middleware import Answers, BodySizeLimit, TrustedHosts
from flint.app.ops import router as ops_router
from flint.app.problems import document_problems, install_error_handlers
from flint.app.ratelimit import ApiRateLimit, Subject
from flint.app.routing import guard_includes, index_routes, prepare_routes, serve_lean
from flint.app.runtime import build_runtime, settle_heap, warm_process
from flint.app.sentry import init_sentry
from flint.auth.closing_router import router as closing_router
from flint.auth.pages import router as auth_pages
from flint.auth.router import router as auth_router
from flint.auth.service import AuthConfig
from flint.auth.sessions_router import router as sessions_router
from flint.auth.twofactor_router import router as two_factor_router
from flint.billing.pages import router as billing_pages
from flint.billing.router import router as billing_router
from flint.config import Settings, get_settings
from flint.errors import Unauthorized
from flint.jobs import warm_sending
from flint.kit.heap import collector_paused
from flint.kit.logging import configure_logging
from flint.market.router import router as market_router
from flint.market.ws import redact_query_tokens
from flint.market.ws import router as market_stream_router
from flint.metrics import mark_process_dead
from flint.notifications.router import router as notifications_router
from flint.portfolio.assets.router import router as assets_router
from flint.portfolio.ghostfolio_router import GHOSTFOLIO_PATH
from flint.portfolio.ghostfolio_router import router as ghostfolio_router
from flint.portfolio.import_router import IMPORT_MAX_BYTES, IMPORT_PATH
from flint.portfolio.import_router import router as import_router
from flint.portfolio.ledger_router import router as ledger_router
from flint.portfolio.router import router as portfolio_router
from flint.reports.router import router as reports_router
from flint.runtime import Runtime
from flint.trades.router import router as trades_router
from flint.users.api import SECURITY, declare_scopes, get_current_user_id
from flint.users.keys_router import router as api_keys_router
from flint.users.router import router as users_router
from flint.watchlist.router import router as watchlist_router

API_ROUTERS: list[APIRouter] = [
    auth_router,
    sessions_router,
    two_factor_router,
    users_router,
    closing_router,
    api_keys_router,
    watchlist_router,
    market_router,
    accounts_router,
    trades_router,
    portfolio_router,
    ledger_router,
    import_router,
    ghostfolio_router,
    assets_router,
    reports_router,
    notifications_router,
    alerts_router,
    billing_router,
    accounts_webhooks_router,
]
WEBSOCKET_ROUTERS: list[APIRouter] = [market_stream_router]

RATE_LIMIT_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

DESCRIPTION = """
Flint is a self-hostable backend for personal finance and investing.

* Every operation lives under `/api/v1` and is served again, unchanged, under `/api`
  (`/api/auth/login` is `/api/v1/auth/login`); [/api/docs](/api/docs) shows those paths.
* JSON is camelCase; request bodies also accept snake_case names.
* Errors are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`,
  and an `errors` list for validation failures. Another user's resources answer 404.
* Sign in with **Authorize** (email as username) or `POST /api/v1/auth/login`, then send
  `Authorization: Bearer <token>`. An account with two-factor sign-in on signs in with
  `POST /api/v1/auth/login`, then `POST /api/v1/auth/2fa/verify` with a code.
* Scripts use an API key (`POST /api/v1/api-keys`) as `X-API-Key` or `Authorization: Bearer
  flint_…`. Each operation names the scope a key needs in `x-flint-scope`: `read`, `write`,
  `trade`, or `session` (no key: sign in).
"""


def _token_subject(runtime: Runtime) -> Subject:
    """The user a bearer token names, verified by the same issuer (and its memory of verified
    tokens) the routes authenticate with."""
    tokens = runtime.get(AuthConfig).tokens

    def subject(token: str) -> str | None:
        try:
            return str(tokens.verify(token).user_id)
        except Unauthorized:
            return None

    return subject


def _operation_id(route: APIRoute) -> str:
    tag = str(route.tags[0]) if route.tags else "flint"
    return f"{tag}-{route.name}".replace("_", "-")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    sentry_on = init_sentry(settings, "api")
    redact_query_tokens()
    runtime = build_runtime(settings, "api")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            with collector_paused():  # what starting makes lives as long as the process
                await runtime.start()
                warm_process()
                if settings.prepare_routes:
                    prepare_routes(app)
                    await anyio.to_thread.run_sync(warm_sending)  # where sends run
                if settings.freeze_heap:
                    settle_heap()
            yield
        finally:
            await runtime.aclose()
            flush_request_counts()
            mark_process_dead()

    app = FastAPIOffline(
        title="Flint API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # install_docs serves the pages, for both documents
        redoc_url=None,
        static_url=STATIC,
        generate_unique_id_function=_operation_id,
        swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        # FastAPI's own OpenTelemetry hooks: Flint reports through Prometheus and Sentry, and
        # the hooks looked up providers and the environment on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    document_problems(app)
    document_security(app)
    app.state.runtime = runtime
    app.state.sessionmaker = runtime.sessions
    app.state.read_sessionmaker = runtime.readers
    app.state.request_read_sessionmaker = runtime.request_readers

    install_error_handlers(app)
    declare_scopes(API_ROUTERS, get_current_user_id, SECURITY)
    app.include_router(ops_router)
    app.include_router(metrics_router)
    app.include_router(auth_pages)
    app.include_router(billing_pages)
    install_docs(app, API_ROUTERS, _operation_id)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api/v1")
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api", include_in_schema=False)  # /api/openapi.json
    for router in WEBSOCKET_ROUTERS:  # not in OpenAPI, which has no words for them
        app.include_router(router, prefix="/api/v1")
        app.include_router(router, prefix="/api")
    guard_includes(app)
    serve_lean(app)
    index_routes(app)

    app.add_middleware(Answers)
    app.add_middleware(AllowedMethods, routes=lambda: app.routes)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        overrides=[
            (IMPORT_PATH, IMPORT_MAX_BYTES),
            (GHOSTFOLIO_PATH, IMPORT_MAX_BYTES),
            (webhooks.PATHS, webhooks.MAX_BYTES),
        ],
    )
    if settings.rate_limits_enabled:
        app.add_middleware(
            ApiRateLimit,
            storage=runtime.get(Storage),
            user=settings.rate_limit_user,
            ip=settings.rate_limit_ip,
            signup=settings.rate_limit_signup,
            subject=_token_subject(runtime),
        )
    if settings.cors_origins:  # outside the limits, so a browser can read a 429 too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After", *RATE_LIMIT_HEADERS],
        )
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(
        Edge,
        valid_request_id=lambda value: bool(REQUEST_ID.fullmatch(value)),
        tag_sentry=sentry_on,
    )
    return app

"""The one place a process is put together: `build_runtime(settings, role)` for the API, a
Celery worker, a performance process and the command line.

It is also where features that must not know each other are wired: the features below offer
hooks, and only this module fills them in:

* quotes: the symbols to keep fresh come from watchlists and price alerts, and every batch of
  fresh quotes goes to the price alerts (`flint.market.QuoteFeed`);
* accounts: a synced or unlinked account is told to the portfolios that follow it
  (`flint.accounts.AccountListener`, implemented by `flint.portfolio.Followers`);
* profiles: a user's profile lists their linked accounts (`flint.users.Profiles`);
* plans: billing counts what a plan limits through the features that own it (`flint.billing.
  Plans.counters`: account links, watchlist items, portfolios, price alerts, PDF reports).
* API keys: a key's user must be active by the principals' cached state (`flint.users.ApiKeys`).
* rate limits: one `limits` storage (Redis, falling back to memory) counts the API limits,
  the login throttle, the password-reset limits and the two-factor failure budget.
* sign-ins: the principals refuse the access tokens of sign-ins the auth feature ended
  (`flint.users.Principals`), and the quote stream closes their connections (`QuoteHub`).

Building opens no connection: engines, caches and vendor clients connect on first use.
"""

from __future__ import annotations

import asyncio
import gc
from datetime import timedelta
from functools import partial

from cashews import Cache
from limits.aio.storage import Storage
from sqlalchemy.orm import configure_mappers

from flint.accounts import closing as accounts_closing
from flint.accounts.api import Accounts, summaries
from flint.accounts.service import count_connections
from flint.alerts.evaluation import listener as alert_listener
from flint.alerts.service import count_alerts
from flint.alerts.service import watched_symbols as alerted_symbols
from flint.analytics import ENABLED as ANALYTICS_ENABLED
from flint.app import performance
from flint.auth.closing import Closing
from flint.auth.service import AuthConfig, ResetMail, ended_sessions
from flint.auth.throttle import LoginThrottle, ResetThrottle
from flint.auth.twofactor import FailureBudget, TwoFactorConfig
from flint.billing import service as billing_service
from flint.billing.api import Limit, Plans
from flint.billing.service import Billing
from flint.brokerage.api import AccountProviders, credential_box
from flint.config import Settings
from flint.db import create_engine, create_sessionmaker
from flint.jobs import prepare_broker
from flint.kit import calendar
from flint.kit.cache import create_cache
from flint.kit.crypto import CredentialBox
from flint.kit.ratelimit import make_storage
from flint.kit.secrets import load_or_create_key
from flint.kit.time import utcnow
from flint.market.api import MarketData, QuoteFeed
from flint.market.providers.factory import build_market
from flint.market.stream import QuoteHub, create_broadcast
from flint.notifications.api import ProfileSwitches
from flint.portfolio.api import Followers
from flint.portfolio.computing import Computer, InProcess, PerformanceService
from flint.portfolio.service import count_portfolios
from flint.portfolio.workers import PerformancePool
from flint.reports import service as reports_service
from flint.reports.service import RenderContext, count_pdf_reports
from flint.reports.storage import ReportStore, build_store
from flint.runtime import Role, Runtime
from flint.trades.context import TradingContext
from flint.users.api import (
    ApiKeys,
    Auth0Users,
    Auth0Verifier,
    Principals,
    Profiles,
    TokenIssuer,
)
from flint.watchlist.service import count_items as count_watchlist
from flint.watchlist.service import watched_symbols as watchlisted_symbols

PLAN_COUNTERS = {
    Limit.CONNECTIONS: count_connections,
    Limit.WATCHLIST: count_watchlist,
    Limit.PORTFOLIOS: count_portfolios,
    Limit.ALERTS: count_alerts,
    Limit.PDF_REPORTS: count_pdf_reports,
}
"""How many of each thing a plan limits a user holds: each counted by the feature owning it."""


def warm_process() -> None:
    """Work out now what a process's first request or task would otherwise: the NYSE calendar
    of recent years (`flint.kit.calendar.warm`) and SQLAlchemy's mapper configuration. The API
    calls it as it starts, a worker before its pool starts (its child processes inherit what
    it made): a fresh worker's first history plan took 0.30 s instead of 0.10."""
    calendar.warm(utcnow().date())
    configure_mappers()


def settle_heap() -> None:
    """Move everything the start-up made (modules, models, routes, the runtime's parts: about
    230,000 objects the collector tracks) out of the garbage collector's reach.

    Python's full collection walks every tracked object, however old. With Flint's start-up
    heap each took 120-140 ms on a small machine, all that time holding up every request
    in the process: an authenticated read at 32 connections on PostgreSQL, whose driver makes
    enough garbage for one every second or so, had a p99 of 140-160 ms, about one such pause.
    Frozen (`gc.freeze`, for objects that live as long as the process), they are never walked
    again; what requests make is still collected as before. A worker does the same before its
    pool's processes are forked (they inherit the frozen heap): each task's full collections
    walked the worker's start-up heap too."""
    gc.collect()
    gc.freeze()


def build_runtime(settings: Settings, role: Role) -> Runtime:
    """What a process of ``role`` shares: the API gets everything; a worker and the command
    line what tasks use; a performance process only a read-only database and the packaged
    instruments."""
    settings.ensure_data_dir()
    if role == "performance":
        return performance.build(settings)
    prepare_broker(settings)
    engine = create_engine(settings.resolved_database_url, echo=settings.database_echo)
    runtime = Runtime(settings, role, engine, create_sessionmaker(engine))
    if settings.mixpanel_token is not None:  # `flint.analytics.track` sends only then
        runtime.sessions.configure(info={ANALYTICS_ENABLED: True})
    cache = runtime.add(create_cache(settings.redis_url), kind=Cache)
    runtime.add_closer(cache.close)
    market = build_market(settings, cache)
    runtime.add(market, close=market.aclose)
    runtime.add(
        QuoteFeed(
            sources=(watchlisted_symbols, alerted_symbols),
            listeners=(alert_listener(runtime.sessions),),
        )
    )
    providers = AccountProviders(settings, market)
    runtime.add(providers, close=providers.aclose)
    box = runtime.add(credential_box(settings), kind=CredentialBox)
    accounts = runtime.add(Accounts(providers, box, listeners=(Followers(market),)))
    runtime.add(
        ResetMail(
            ttl=timedelta(minutes=settings.reset_token_minutes),
            public_url=settings.resolved_public_url,
            box=box,
        )
    )
    runtime.add(Profiles(ProfileSwitches(), accounts=summaries))
    runtime.add(TradingContext(accounts, market, runtime.sessions, engine, settings))
    store = runtime.add(build_store(settings), kind=ReportStore)
    runtime.add(RenderContext(settings, market, store))
    runtime.add(Plans.from_settings(settings, PLAN_COUNTERS))
    billing = runtime.add(Billing.from_settings(settings))
    runtime.add_closer(billing.aclose)
    # Closing an account: Stripe first (a charge for an account that is gone is the worst
    # outcome), then the providers, then the reports' files once the rows are gone.
    runtime.add(
        Closing(
            farewells=(
                partial(billing_service.let_go, billing=billing),
                partial(accounts_closing.let_go, ctx=accounts),
                partial(reports_service.let_go, store=store),
            )
        )
    )
    if role == "api":
        _api(runtime, cache, market)
    return runtime


def _api(runtime: Runtime, cache: Cache, market: MarketData) -> None:
    """What only the API serves: sign-in, the quote stream and the performance computers."""
    settings = runtime.settings
    secret = (
        settings.jwt_secret.get_secret_value()
        if settings.jwt_secret
        else load_or_create_key(settings.data_dir / "jwt.key")
    )
    tokens = TokenIssuer(secret, timedelta(minutes=settings.access_token_minutes))
    principals = runtime.add(
        Principals(
            tokens,
            cache,
            runtime.engine,
            settings.principal_cache_seconds,
            ended_sessions=ended_sessions,
            auth0=_auth0(runtime, cache),
        )
    )
    runtime.add(ApiKeys(cache, runtime.engine, settings.principal_cache_seconds, principals))
    runtime.add(
        AuthConfig(
            tokens=tokens,
            refresh_ttl=timedelta(days=settings.refresh_token_days),
            principals=principals,
            refresh_grace=timedelta(seconds=settings.refresh_grace_seconds),
        )
    )
    limits = runtime.add(
        make_storage(settings.redis_url, namespace=settings.rate_limit_namespace), kind=Storage
    )
    runtime.add(
        ResetThrottle(
            limits,
            per_email=settings.password_reset_max_per_email,
            per_ip=settings.password_reset_max_per_ip,
        )
    )
    runtime.add(
        LoginThrottle(
            limits,
            per_pair=settings.login_max_failures_per_pair,
            per_ip=settings.login_max_failures_per_ip,
            per_email=settings.login_max_failures_per_email,
            window_minutes=settings.login_failure_window_minutes,
            known_days=settings.login_known_address_days,
        )
    )
    runtime.add(
        TwoFactorConfig(
            box=runtime.get(CredentialBox),
            failures=FailureBudget(limits, window_minutes=settings.login_failure_window_minutes),
        )
    )
    hub = QuoteHub(
        market,
        runtime.sessions,
        create_broadcast(settings.redis_url, settings.stream_channel),
        poll_seconds=settings.stream_poll_seconds,
        queue_size=settings.stream_queue_size,
        max_symbols=settings.stream_max_symbols,
        ping_seconds=settings.stream_ping_seconds,
        on_quotes=runtime.get(QuoteFeed).tell,
        signed_in=principals.signed_in,
        session_check_seconds=settings.stream_session_check_seconds,
    )
    runtime.add(hub, close=hub.stop)
    runtime.on_start(hub.start)
    answers = PerformanceService(
        market,
        cache,
        _computer(runtime, market),
        runtime.sessions,
        runtime.readers,
        settings.risk_free_rate,
        inline_bars=settings.performance_inline_bars,
    )
    runtime.add(answers, close=answers.close)


def _auth0(runtime: Runtime, cache: Cache) -> Auth0Users | None:
    """Auth0's tokens are accepted when the tenant is configured; otherwise nothing is built and
    no request goes to any host."""
    settings = runtime.settings
    if not (settings.auth0_domain and settings.auth0_audience):
        return None
    verifier = Auth0Verifier(
        settings.auth0_domain, settings.auth0_audience, base_url=settings.auth0_base_url
    )
    runtime.add(verifier, close=verifier.aclose)
    return Auth0Users(
        verifier,
        cache,
        runtime.engine,
        runtime.sessions,
        settings.principal_cache_seconds,
        only=settings.auth0_only,
    )


def _computer(runtime: Runtime, market: MarketData) -> Computer:
    settings = runtime.settings
    budget = settings.performance_budget_seconds
    if not settings.performance_workers:
        return InProcess(runtime.readers, market, budget)
    pool = PerformancePool(
        settings.performance_workers,
        partial(performance.build, settings),
        budget=budget,
        niceness=settings.performance_niceness,
    )
    runtime.add(pool, close=pool.close)
    warming: list[asyncio.Task[None]] = []

    def warm() -> None:  # start the processes without holding up start-up
        warming.append(asyncio.create_task(pool.warm()))

    def stop_warming() -> None:
        for task in warming:
            task.cancel()

    runtime.on_start(warm)
    runtime.add_closer(stop_warming)
    return pool

"""One settings object for the whole service, read from FLINT_* variables or a .env file."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flint.kit.files import private_dir

if TYPE_CHECKING:
    from flint.kit.http import VendorPolicy

ProviderName = Literal["simulated", "alpha_vantage", "yahoo"]
PlanName = Literal["free", "premium"]
LimitName = Literal["connections", "watchlist", "portfolios", "alerts", "pdf_reports"]
"""What plans limit (`flint.billing.plans.Limit` holds the same names)."""
LimitValue = Annotated[int, Field(ge=0)] | None


def _one_rate_limit(value: str) -> str:
    """`limits` notation, one window (`600/minute`): a typo stops start-up, not traffic."""
    from limits import parse_many

    if len(parse_many(value)) != 1:  # raises ValueError on garbage
        raise ValueError("one rate limit, such as 600/minute")
    return value


RateLimit = Annotated[str, AfterValidator(_one_rate_limit)]


class Auth0Settings(BaseSettings):
    """Sign-in with Auth0 (docs/auth0.md): off unless the tenant's domain and API are set."""

    auth0_domain: str | None = None
    """The tenant's domain (`your-tenant.eu.auth0.com`, or its custom domain): with
    `auth0_audience`, Auth0's RS256 access tokens are accepted beside Flint's own."""
    auth0_audience: str | None = None
    """The Identifier of the API registered in the Auth0 dashboard (the tokens' `aud`)."""
    auth0_only: bool = False
    """Only Auth0 signs users in: local register, login, refresh and password reset answer 403
    and Flint's own access tokens are refused. Needs the domain and audience."""
    auth0_base_url: str | None = None
    """Where the JWKS and `/userinfo` are fetched; default `https://{auth0_domain}` (a test
    points it at a local stub; the tokens' issuer stays `https://{auth0_domain}/`)."""

    @field_validator("auth0_domain", "auth0_audience", "auth0_base_url")
    @classmethod
    def _blank_auth0_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _auth0_complete(self) -> Auth0Settings:
        if bool(self.auth0_domain) != bool(self.auth0_audience):
            raise ValueError("FLINT_AUTH0_DOMAIN and FLINT_AUTH0_AUDIENCE go together")
        if self.auth0_only and not self.auth0_domain:
            raise ValueError("FLINT_AUTH0_ONLY needs FLINT_AUTH0_DOMAIN and FLINT_AUTH0_AUDIENCE")
        return self


class EdgeSettings(BaseSettings):
    """What the HTTP edge answers and how much (docs/security.md): hosts, proxies, rate limits."""

    allowed_hosts: list[str] = ["*"]
    """Host names answered (`*.example.com` covers subdomains), others get 400; `*`: any."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose `X-Forwarded-For`/`-Proto` are believed (uvicorn's `forwarded_allow_ips`),
    for the client address the limits count and the scheme HSTS depends on."""

    rate_limits_enabled: bool = True
    rate_limit_user: RateLimit = "600/minute"
    """Requests of one signed-in user (a valid bearer token), from all their addresses."""
    rate_limit_ip: RateLimit = "1200/minute"
    """Requests from one client address without a valid bearer token."""
    rate_limit_signup: RateLimit = "20/hour"
    """Registrations and password-reset requests from one client address."""
    rate_limit_namespace: str = Field("flint-limits", pattern=r"^[A-Za-z0-9_.:\-]{1,100}$")
    """Prefix of every rate-limit key in Redis (API limits, login throttle, reset limits,
    two-factor budget), so deployments can share one Redis."""


class ObservabilitySettings(BaseSettings):
    """Error tracking, product analytics and metrics (docs/operations.md): off unless set."""

    metrics_token: SecretStr | None = None
    """`GET /metrics` answers loopback callers; others must send `Authorization: Bearer <this>`.
    Unset: only loopback may read the metrics."""
    sentry_dsn: str | None = None
    sentry_environment: str | None = None  # default: `env`
    sentry_release: str | None = None  # default: `flint@<version>`
    sentry_traces_sample_rate: float = Field(0.0, ge=0.0, le=1.0)
    mixpanel_token: SecretStr | None = None
    mixpanel_api_host: str = "api.mixpanel.com"
    mixpanel_events_url: str | None = None
    """Overrides `mixpanel_api_host` (a proxy, a test endpoint)."""
    mixpanel_send_attempts: int = Field(4, ge=1, le=20)
    mixpanel_retry_seconds: float = Field(5.0, ge=0)
    """The first retry's delay; each next one doubles."""

    @field_validator("mixpanel_token", "metrics_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class MarketVendorSettings(BaseSettings):
    """The market-data vendors' accounts and budgets (`flint.market.providers`)."""

    alpha_vantage_api_key: SecretStr | None = None
    alpha_vantage_base_url: str = "https://www.alphavantage.co"
    alpha_vantage_plan: Literal["free", "premium"] = "free"
    """What the key is paid for: `free` asks only TIME_SERIES_DAILY with compact output (the
    latest 100 sessions; longer history is left to the next provider), `premium` the adjusted
    series and full output."""
    alpha_vantage_rate_limits: str | None = None
    """Client-side budget, `limits` windows separated by `;`; default the plan's:
    `1/second;5/minute;25/day` (free), `75/minute` (premium)."""
    yahoo_base_url: str = "https://query1.finance.yahoo.com"
    yahoo_cookie_url: str = "https://fc.yahoo.com"
    """Where the cookie for Yahoo's crumb comes from, when the chart asks for one."""
    yahoo_rate_limits: str = "60/minute;1500/hour"


class MessagingSettings(BaseSettings):
    """Email (SMTP) and SMS (Twilio); without them messages are written as files."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["auto", "starttls", "tls", "none"] = "auto"
    """auto: STARTTLS when the server offers it, and required when a username is set (the
    password never goes in clear); starttls: always required; tls: implicit TLS (port 465);
    none: plain, refused with a username."""
    smtp_timeout_seconds: float = 10.0
    email_from: str = "Flint <no-reply@flint.localhost>"

    twilio_account_sid: str | None = None
    """Send SMS through Twilio's REST API; unset writes them as files under
    data_dir/sms-outbox (so `make run` needs no keys)."""
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    """The sender: an E.164 number of the account, or a Messaging Service SID (`MG…`)."""
    twilio_base_url: str = "https://api.twilio.com"

    @model_validator(mode="after")
    def _twilio_complete(self) -> MessagingSettings:
        if self.twilio_account_sid and not (self.twilio_auth_token and self.twilio_from_number):
            raise ValueError(
                "FLINT_TWILIO_ACCOUNT_SID needs FLINT_TWILIO_AUTH_TOKEN and "
                "FLINT_TWILIO_FROM_NUMBER"
            )
        return self

    @property
    def email_backend(self) -> Literal["smtp", "file"]:
        """Without SMTP the emails are written as .eml files under data_dir/outbox."""
        return "smtp" if self.smtp_host else "file"

    @property
    def sms_backend(self) -> Literal["twilio", "file"]:
        """Without a Twilio account the text messages are written under data_dir/sms-outbox."""
        return "twilio" if self.twilio_account_sid else "file"


class Settings(
    EdgeSettings, ObservabilitySettings, Auth0Settings, MarketVendorSettings, MessagingSettings
):
    """Embedded defaults run Flint with no servers and no keys; each field names its variable."""

    model_config = SettingsConfigDict(
        env_prefix="FLINT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- server -------------------------------------------------------------------------------
    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path(".flint")
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    demo: bool = False
    """`flint run` also makes the demo user (`flint demo`) and prints its credentials."""
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    cors_origins: list[str] = []
    prepare_routes: bool = True
    """Once started, the API builds every route's request handling (`flint.app.routing.
    prepare_routes`) rather than leaving each router's to its first request. Off in the tests,
    whose one process builds an app per test and uses few of its routes."""
    freeze_heap: bool = True
    """Once started, the API moves its start-up objects out of the garbage collector's reach
    (`flint.app.runtime.settle_heap`), and so does a worker before its pool starts. Off in the
    tests, whose one process builds many apps (and runs its workers in threads)."""

    # --- storage ------------------------------------------------------------------------------
    database_url: str | None = None
    """`postgresql+asyncpg://…` switches to PostgreSQL; unset means SQLite under data_dir."""
    database_echo: bool = False
    redis_url: str | None = None
    """Cache, rate limits and pub/sub go to Redis when set; in-process otherwise."""

    # --- background jobs ----------------------------------------------------------------------
    broker_url: str | None = None
    """Celery broker (e.g. `amqp://guest:guest@127.0.0.1:5672//`); unset means a server-less
    transport on the SQLite file `data_dir/broker.db`."""
    result_backend: str | None = None
    task_queue: str = Field("flint", pattern=r"^[A-Za-z0-9_.\-]{1,100}$")
    """The queue Flint's tasks go to, so several deployments can share one broker."""

    # --- auth ---------------------------------------------------------------------------------
    jwt_secret: SecretStr | None = None
    """HS256 key; unset means one is generated once into data_dir/jwt.key."""
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(30, ge=1, le=365)
    refresh_grace_seconds: int = Field(10, ge=0, le=60)
    """A refresh token presented again this soon after its rotation gets the same new pair
    (two tabs refreshing at once); later, it ends its sign-in as a replay. 0: no grace."""
    reset_token_minutes: int = Field(30, ge=5, le=24 * 60)
    password_reset_max_per_email: int = Field(3, ge=1)
    """Password-reset requests for one email per hour (each mails a live link), then 429."""
    password_reset_max_per_ip: int = Field(20, ge=1)
    """Password-reset requests from one address per hour, then 429."""
    principal_cache_seconds: int = Field(60, ge=0, le=3600)
    """How long a user's sign-in state (active, token version) is cached for token checks;
    changes made through Flint drop it at once. 0 checks the database on every request."""
    login_max_failures_per_pair: int = Field(5, ge=1)
    """Failed sign-ins for one email from one address per window, then 429 for that pair."""
    login_max_failures_per_ip: int = Field(20, ge=1)
    """Failed sign-ins from one address (any emails) per window, then 429 for the address."""
    login_max_failures_per_email: int = Field(20, ge=1)
    """Failed sign-ins for one email from all addresses per window; past it the email is not
    locked, its attempts from addresses it has not signed in from lately wait a doubling delay
    (1 s, 2 s, 4 s, ... at most the window). Until this version: 5, then a 15-minute lock."""
    login_failure_window_minutes: int = Field(15, ge=1)
    login_known_address_days: int = Field(30, ge=0)
    """An address the account signed in from this lately skips the per-email delay; 0: none."""
    public_url: str | None = None
    """Base address used in links sent to users (password reset); defaults to host and port."""

    # --- market data ------------------------------------------------------------------------
    market_providers: Annotated[list[ProviderName], NoDecode] = ["simulated"]
    """Asked in this order; on error, timeout, throttling or garbage the next one answers.
    As a variable: `FLINT_MARKET_PROVIDERS=alpha_vantage,yahoo,simulated`."""
    quote_ttl_seconds: float = Field(15.0, ge=0.5, le=3600)
    quote_refresh_seconds: float = Field(60.0, ge=5, le=86400)
    """How often the worker refreshes every watched symbol's quote (a beat task)."""
    search_limit_max: int = Field(50, ge=1, le=50)
    vendor_connect_timeout: float = Field(5.0, gt=0)
    vendor_read_timeout: float = Field(10.0, gt=0)
    vendor_retry_attempts: int = Field(3, ge=1, le=10)
    vendor_breaker_threshold: int = Field(5, ge=1)
    vendor_breaker_recovery_seconds: float = Field(30.0, gt=0)

    # --- quote stream (WebSocket) -------------------------------------------------------------
    stream_poll_seconds: float = Field(5.0, ge=0)
    """How often each API process re-reads the quotes its WebSocket clients subscribe to (through
    the quote cache) and publishes the changed ones; 0 turns the poller off."""
    stream_queue_size: int = Field(100, ge=1, le=100_000)
    """Messages waiting for one client; a client that lets its queue fill up is disconnected."""
    stream_max_symbols: int = Field(100, ge=1, le=1000)
    stream_ping_seconds: float = Field(20.0, ge=0)
    """Interval of the application-level `{"type": "ping"}`; 0 sends none (protocol pings are
    uvicorn's, every 20 s)."""
    stream_session_check_seconds: float = Field(5.0, ge=0.1, le=300)
    """How often each API process asks whether its WebSocket clients' sign-ins are still alive
    (through the shared cache and the database); an ended one's connections close with 4401."""
    stream_channel: str = Field("flint:quotes", pattern=r"^[A-Za-z0-9_.:\-]{1,100}$")
    """The Redis pub/sub channel quotes are fanned out on, so deployments can share one Redis."""

    @field_validator("market_providers", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # --- linked accounts and trading -----------------------------------------------------------
    sandbox_database_url: str | None = None
    """Where the built-in sandbox institution keeps its accounts, positions and orders (it is
    a separate institution, so a separate database); default `data_dir/sandbox.db`."""
    snaptrade_client_id: str | None = None
    snaptrade_consumer_key: SecretStr | None = None
    snaptrade_base_url: str = "https://api.snaptrade.com"
    snaptrade_redirect_url: str | None = None
    """Where SnapTrade's connection portal sends the user back to (your app's page)."""
    teller_certificate_path: Path | None = None
    """Teller's client certificate (PEM) for mutual TLS; with the key, enables Teller."""
    teller_private_key_path: Path | None = None
    teller_base_url: str = "https://api.teller.io"
    teller_version: str = "2020-10-12"
    risk_free_rate: float = Field(0.0, ge=-0.1, le=1.0)
    """Annual risk-free rate for Sharpe, Sortino and alpha (0.04 = 4 %)."""
    performance_workers: int = Field(1, ge=0, le=64)
    """Processes the API computes portfolio performance in (`flint.portfolio.workers`), so the
    event loop stays free; 0 computes in the API process (in a thread)."""
    performance_budget_seconds: float = Field(30.0, gt=0, le=600)
    """How long one performance computation may take in a worker: past it the worker is
    stopped (and replaced) and the request answers 503 ``/problems/performance-budget``."""
    performance_niceness: int = Field(15, ge=0, le=19)
    """How much lower than the API's the performance processes' CPU priority is (``nice``):
    on a machine the API shares, its requests come first; 0 where the processes have cores of
    their own."""
    performance_inline_bars: int = Field(10_000, ge=0)
    """At most this many missing daily closes are fetched while a performance request waits;
    more (a fresh import's history) are stored in the background and the answer says so."""
    trade_wait_seconds: float = Field(5.0, ge=0, le=30)
    """How long `POST /trades/execute` waits for the broker's answer before replying 202."""
    trade_send_window_seconds: float = Field(30.0, gt=0, le=3600)
    """How long after a trade was sent another delivery of its job waits before asking the
    broker for the order (the first worker may still be sending it); keep it above the
    broker's longest answer (`vendor_read_timeout` and its retries)."""
    credentials_keys: SecretStr | None = None
    """Fernet keys encrypting provider credentials at rest, comma-separated, newest first (so
    a key can be rotated); unset means one is generated once into data_dir/credentials.key."""

    # --- reports ------------------------------------------------------------------------------
    report_store: Literal["local"] = "local"
    """Where rendered reports are kept: `local` is files under data_dir/reports."""

    # --- price alerts ----------------------------------------------------------------------
    alerts_max_per_user: int = Field(100, ge=1, le=10_000)
    """Price alerts one user may keep (whatever the plan: a plan's limit is a lower cap)."""

    # --- billing (Stripe) and plan limits -------------------------------------------------------
    stripe_secret_key: SecretStr | None = None
    """Enables billing (`sk_test_…` for Stripe's test mode); unset, every user has
    `default_plan` and the billing endpoints but `GET /billing/subscription` answer 503."""
    stripe_webhook_secret: SecretStr | None = None
    """The signing secret (`whsec_…`) of the endpoint registered for /api/v1/billing/webhook."""
    stripe_premium_price_id: str | None = None
    """The recurring Price (`price_…`) a premium subscription is bought at."""
    stripe_api_base: str = "https://api.stripe.com"
    stripe_success_url: str | None = None
    """Where Checkout sends the user after paying; default `PUBLIC_URL/billing/success`."""
    stripe_cancel_url: str | None = None
    """Where Checkout sends a user who gives up; default `PUBLIC_URL/billing/cancel`."""
    stripe_portal_return_url: str | None = None
    """Where the customer portal's "return" link goes; default `PUBLIC_URL/billing/return`."""
    default_plan: PlanName = "premium"
    """Everyone's plan while billing is off, so a self-hosted install is not held to the free
    plan's limits; with billing on, a user without a subscription is on `free`."""
    plan_limits: dict[PlanName, dict[LimitName, LimitValue]] = {}
    """Changes to the plans' limits, JSON: `{"free": {"watchlist": 50}, "premium":
    {"portfolios": 20}}`; a number caps, null lifts the cap; limits not named keep their
    defaults (`flint.billing.plans.DEFAULT_LIMITS`)."""

    @field_validator(
        "database_url",
        "redis_url",
        "broker_url",
        "result_backend",
        "smtp_host",
        "public_url",
        "sandbox_database_url",
        "snaptrade_client_id",
        "snaptrade_redirect_url",
        "twilio_account_sid",
        "twilio_from_number",
        "stripe_premium_price_id",
        "stripe_success_url",
        "stripe_cancel_url",
        "stripe_portal_return_url",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator(
        "stripe_secret_key",
        "stripe_webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _stripe_complete(self) -> Settings:
        if self.stripe_secret_key and not (
            self.stripe_webhook_secret and self.stripe_premium_price_id
        ):
            raise ValueError(
                "FLINT_STRIPE_SECRET_KEY needs FLINT_STRIPE_WEBHOOK_SECRET and "
                "FLINT_STRIPE_PREMIUM_PRICE_ID"
            )
        return self

    # --- derived ------------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'flint.db').resolve()}"

    @property
    def resolved_sandbox_database_url(self) -> str:
        if self.sandbox_database_url:
            return self.sandbox_database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sandbox.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def billing_enabled(self) -> bool:
        """Stripe is configured: plans are bought, and a user without one is on `free`."""
        return self.stripe_secret_key is not None

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def vendor_policy(self, rate_limits: str = "") -> VendorPolicy:
        """The timeouts, retries and circuit breaker every vendor client gets from settings,
        with that vendor's rate limits (``limits`` notation; empty: unlimited)."""
        from flint.kit.http import VendorPolicy  # httpx and friends only where vendors are

        return VendorPolicy(
            connect_timeout=self.vendor_connect_timeout,
            read_timeout=self.vendor_read_timeout,
            attempts=self.vendor_retry_attempts,
            breaker_threshold=self.vendor_breaker_threshold,
            breaker_recovery=self.vendor_breaker_recovery_seconds,
            rate_limits=rate_limits,
        )

    def ensure_data_dir(self) -> Path:
        """The data dir, created owner-only (0700) when missing."""
        return private_dir(self.data_dir)


@lru_cache
def get_settings() -> Settings:
    return Settings()

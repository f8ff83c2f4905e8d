"""The account providers this server offers, built from settings once per process.

Each adapter is one entry of `ADAPTERS`: its name, what it needs configured, and how it is
built. ``sandbox`` needs nothing; ``snaptrade`` needs `FLINT_SNAPTRADE_CLIENT_ID` and
`FLINT_SNAPTRADE_CONSUMER_KEY`; ``teller`` needs `FLINT_TELLER_CERTIFICATE_PATH` and
`FLINT_TELLER_PRIVATE_KEY_PATH`. Providers are built (and their modules imported) on first use,
so a process that never links anything opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flint.brokerage.types import AccountProvider
from flint.config import Settings
from flint.errors import ValidationFailed
from flint.kit.crypto import CredentialBox, load_or_create_fernet_key, parse_keys
from flint.market.api import MarketData


@dataclass(frozen=True)
class Adapter:
    name: str
    needs: str
    """The settings it needs, as the refusal names them ("" for none)."""
    configured: Callable[[Settings], bool]
    build: Callable[[Settings, MarketData], AccountProvider]


def _sandbox(settings: Settings, market: MarketData) -> AccountProvider:
    from flint.brokerage.sandbox import SandboxProvider

    return SandboxProvider(settings.resolved_sandbox_database_url, market)


def _snaptrade(settings: Settings, market: MarketData) -> AccountProvider:
    from flint.brokerage.snaptrade import SnapTradeProvider

    assert settings.snaptrade_client_id
    assert settings.snaptrade_consumer_key
    return SnapTradeProvider(
        settings.snaptrade_client_id,
        settings.snaptrade_consumer_key.get_secret_value(),
        base_url=settings.snaptrade_base_url,
        policy=settings.vendor_policy(),
    )


def _teller(settings: Settings, market: MarketData) -> AccountProvider:
    from flint.brokerage.teller import TellerProvider

    assert settings.teller_certificate_path
    assert settings.teller_private_key_path
    return TellerProvider(
        certificate=settings.teller_certificate_path,
        private_key=settings.teller_private_key_path,
        base_url=settings.teller_base_url,
        version=settings.teller_version,
        # Teller's own default policy: its first transactions call after enrolment can time
        # out while data loads, and it asks clients to wait a few seconds and retry.
    )


ADAPTERS = (
    Adapter("sandbox", "", lambda settings: True, _sandbox),
    Adapter(
        "snaptrade",
        "FLINT_SNAPTRADE_CLIENT_ID and FLINT_SNAPTRADE_CONSUMER_KEY",
        lambda s: bool(s.snaptrade_client_id and s.snaptrade_consumer_key),
        _snaptrade,
    ),
    Adapter(
        "teller",
        "FLINT_TELLER_CERTIFICATE_PATH and FLINT_TELLER_PRIVATE_KEY_PATH",
        lambda s: bool(s.teller_certificate_path and s.teller_private_key_path),
        _teller,
    ),
)


def credential_box(settings: Settings) -> CredentialBox:
    if settings.credentials_keys is not None:
        return CredentialBox(parse_keys(settings.credentials_keys.get_secret_value()))
    return CredentialBox([load_or_create_fernet_key(settings.data_dir / "credentials.key")])


class AccountProviders:
    def __init__(self, settings: Settings, market: MarketData) -> None:
        self.settings = settings
        self.market = market
        self._adapters = {adapter.name: adapter for adapter in ADAPTERS}
        self._built: dict[str, AccountProvider] = {}

    @property
    def available(self) -> list[str]:
        return [a.name for a in ADAPTERS if a.configured(self.settings)]

    def get(self, name: str, *, field: str = "body.provider") -> AccountProvider:
        """The provider called ``name``; 422 for an unknown or unconfigured one."""
        adapter = self._adapters.get(name)
        if adapter is None:
            detail = f"Unknown provider {name!r}; use one of: {', '.join(self.available)}."
            raise ValidationFailed.at(field, detail)
        if not adapter.configured(self.settings):
            detail = f"{name} is not configured on this server (it needs {adapter.needs})."
            raise ValidationFailed.at(field, detail)
        if name not in self._built:
            self._built[name] = adapter.build(self.settings, self.market)
        return self._built[name]

    async def aclose(self) -> None:
        for provider in self._built.values():
            await provider.aclose()
        self._built.clear()

"""The account providers this server offers, built from settings once per process.

``sandbox`` is always there. ``snaptrade`` needs `FLINT_SNAPTRADE_CLIENT_ID` and
`FLINT_SNAPTRADE_CONSUMER_KEY`; ``teller`` needs `FLINT_TELLER_CERTIFICATE_PATH` and
`FLINT_TELLER_PRIVATE_KEY_PATH`. Providers are built on first use, so a process that never
links anything opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from flint.brokerage.types import AccountProvider
from flint.config import Settings
from flint.errors import ValidationFailed
from flint.kit.crypto import CredentialBox, load_or_create_fernet_key, parse_keys
from flint.market.service import MarketData

KNOWN = ("sandbox", "snaptrade", "teller")
NEEDS = {
    "snaptrade": "FLINT_SNAPTRADE_CLIENT_ID and FLINT_SNAPTRADE_CONSUMER_KEY",
    "teller": "FLINT_TELLER_CERTIFICATE_PATH and FLINT_TELLER_PRIVATE_KEY_PATH",
}


def credential_box(settings: Settings) -> CredentialBox:
    if settings.credentials_keys is not None:
        return CredentialBox(parse_keys(settings.credentials_keys.get_secret_value()))
    return CredentialBox([load_or_create_fernet_key(settings.data_dir / "credentials.key")])


class AccountProviders:
    def __init__(self, settings: Settings, market: MarketData) -> None:
        self.settings = settings
        self.market = market
        self._built: dict[str, AccountProvider] = {}
        self._factories: dict[str, Callable[[], AccountProvider]] = {"sandbox": self._sandbox}
        if settings.snaptrade_client_id and settings.snaptrade_consumer_key:
            self._factories["snaptrade"] = self._snaptrade
        if settings.teller_certificate_path and settings.teller_private_key_path:
            self._factories["teller"] = self._teller

    @property
    def available(self) -> list[str]:
        return [name for name in KNOWN if name in self._factories]

    def get(self, name: str, *, field: str = "body.provider") -> AccountProvider:
        """The provider called ``name``; 422 for an unknown or unconfigured one."""
        if name not in self._factories:
            if name in KNOWN:
                detail = f"{name} is not configured on this server (it needs {NEEDS[name]})."
            else:
                detail = f"Unknown provider {name!r}; use one of: {', '.join(self.available)}."
            raise ValidationFailed.at(field, detail)
        if name not in self._built:
            self._built[name] = self._factories[name]()
        return self._built[name]

    async def aclose(self) -> None:
        for provider in self._built.values():
            await provider.aclose()
        self._built.clear()

    def _sandbox(self) -> AccountProvider:
        from flint.brokerage.sandbox import SandboxProvider

        return SandboxProvider(self.settings.resolved_sandbox_database_url, self.market)

    def _snaptrade(self) -> AccountProvider:
        from flint.brokerage.snaptrade import SnapTradeProvider

        assert self.settings.snaptrade_client_id
        assert self.settings.snaptrade_consumer_key
        return SnapTradeProvider(
            self.settings.snaptrade_client_id,
            self.settings.snaptrade_consumer_key.get_secret_value(),
            base_url=self.settings.snaptrade_base_url,
            policy=self.settings.vendor_policy(),
        )

    def _teller(self) -> AccountProvider:
        from flint.brokerage.teller import TellerProvider

        assert self.settings.teller_certificate_path
        assert self.settings.teller_private_key_path
        return TellerProvider(
            certificate=self.settings.teller_certificate_path,
            private_key=self.settings.teller_private_key_path,
            base_url=self.settings.teller_base_url,
            version=self.settings.teller_version,
            # Teller's own default policy: its first transactions call after enrolment can
            # time out while data loads, and it asks clients to wait a few seconds and retry.
        )

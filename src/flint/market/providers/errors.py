"""Failures of a market-data vendor, as opposed to facts about a symbol.

An unknown symbol is an answer (``types.SymbolNotFound``); these say the vendor could not give
one. The classes are the kit's vendor errors (:mod:`flint.kit.vendor_errors`), shared with the
vendor HTTP client and with other vendor adapters; they are named here for the market feature.
"""

from __future__ import annotations

from flint.kit.vendor_errors import (
    ProviderError,
    ProviderGarbage,
    ProviderThrottled,
    ProviderUnavailable,
)

__all__ = ["ProviderError", "ProviderGarbage", "ProviderThrottled", "ProviderUnavailable"]

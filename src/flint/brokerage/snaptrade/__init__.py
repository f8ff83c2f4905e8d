"""``snaptrade``: brokerage accounts, holdings, activities and trading through SnapTrade.

The provider (:mod:`.provider`) signs and sends through the client (:mod:`.client`), reads
SnapTrade's JSON with :mod:`.mapping`, keeps the order rules in :mod:`.orders`, the checked
orders (preview with ``/trade/impact``, place with ``/trade/{tradeId}``) in :mod:`.impact` and
the user registration in :mod:`.users`; each module's docstring holds its part of the
conventions. The paths, bodies and answers follow SnapTrade's OpenAPI spec (``tests/stubs/specs/
snaptrade-api.yaml``), which the tests check every exchange against.
"""

from flint.brokerage.snaptrade.client import DEFAULT_BASE_URL, USER_ID, USER_SECRET, signature
from flint.brokerage.snaptrade.provider import AUTHORIZATION_ID, SnapTradeProvider

__all__ = [
    "AUTHORIZATION_ID",
    "DEFAULT_BASE_URL",
    "USER_ID",
    "USER_SECRET",
    "SnapTradeProvider",
    "signature",
]

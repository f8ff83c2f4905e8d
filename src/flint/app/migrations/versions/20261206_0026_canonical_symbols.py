"""Listed symbols as the market names them: ``BRK.B`` rows become ``BRK-B``

The market has always read ``BRK.B`` as the universe's ``BRK-B`` (Yahoo's spelling), but a
ledger, a watchlist and an alert kept the spelling a request used: ``BRK.B`` and ``BRK-B`` in
one portfolio were two positions (selling five of them, bought as two and three, was refused),
and a watchlist could hold Berkshire twice. New rows are kept under the market's name; this
renames the rows kept before. A watchlist that holds both spellings keeps the older item.

``DASHED`` is the packaged universe's symbols with a dash as of this revision (no listed symbol
has a point): ``X.Y`` is renamed when ``X-Y`` is one of them. Custom assets (``MY:HOUSE``) are
never renamed.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 10:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DASHED = frozenset(
    {
        "AAVE-USD",
        "ADA-USD",
        "ALGO-USD",
        "APT-USD",
        "ARB-USD",
        "ASTER-USD",
        "ATOM-USD",
        "AVAX-USD",
        "BCH-USD",
        "BF-B",
        "BFUSD-USD",
        "BGB-USD",
        "BNB-USD",
        "BNSOL-USD",
        "BONK-USD",
        "BRK-B",
        "BTC-USD",
        "BUIDL-USD",
        "CBBTC-USD",
        "COAI-USD",
        "CRO-USD",
        "DAI-USD",
        "DOGE-USD",
        "DOT-USD",
        "ENA-USD",
        "ETC-USD",
        "ETH-USD",
        "EZETH-USD",
        "FLR-USD",
        "GT-USD",
        "HASH-USD",
        "HBAR-USD",
        "HTX-USD",
        "HYPE-USD",
        "ICP-USD",
        "IP-USD",
        "JITOSOL-USD",
        "JLP-USD",
        "KAS-USD",
        "KCS-USD",
        "KHYPE-USD",
        "LBTC-USD",
        "LEO-USD",
        "LINK-USD",
        "LSETH-USD",
        "LTC-USD",
        "M-USD",
        "MNT-USD",
        "NEAR-USD",
        "OKB-USD",
        "ONDO-USD",
        "OSETH-USD",
        "PAXG-USD",
        "PENGU-USD",
        "PEPE-USD",
        "PI-USD",
        "POL-USD",
        "PUMP-USD",
        "PYUSD-USD",
        "QNT-USD",
        "RENDER-USD",
        "RETH-USD",
        "RSETH-USD",
        "SEI-USD",
        "SHIB-USD",
        "SKY-USD",
        "SOL-USD",
        "STETH-USD",
        "SUI-USD",
        "SUSDE-USD",
        "SUSDS-USD",
        "SYRUPUSDC-USD",
        "TAO-USD",
        "TON-USD",
        "TRUMP-USD",
        "TRX-USD",
        "UNI-USD",
        "USD1-USD",
        "USDC-USD",
        "USDE-USD",
        "USDF-USD",
        "USDS-USD",
        "USDT-USD",
        "USDT0-USD",
        "USDTB-USD",
        "VET-USD",
        "WBETH-USD",
        "WBNB-USD",
        "WBT-USD",
        "WBTC-USD",
        "WEETH-USD",
        "WETH-USD",
        "WLD-USD",
        "WLFI-USD",
        "WSTETH-USD",
        "XAUT-USD",
        "XLM-USD",
        "XMR-USD",
        "XRP-USD",
        "ZEC-USD",
    }
)
TABLES = ("portfolio_transactions", "alerts", "watchlist_items")


def _renames(bind: sa.engine.Connection) -> dict[str, str]:
    renames: dict[str, str] = {}
    for table in TABLES:
        rows = bind.execute(
            sa.text(f"SELECT DISTINCT symbol FROM {table} WHERE symbol LIKE '%.%'")  # noqa: S608
        )
        for (symbol,) in rows:
            if symbol and ":" not in symbol and symbol.replace(".", "-") in DASHED:
                renames[symbol] = symbol.replace(".", "-")
    return renames


def upgrade() -> None:
    """Rename the rows kept under another spelling of a listed symbol."""
    bind = op.get_bind()
    for old, new in sorted(_renames(bind).items()):
        names = {"old": old, "new": new}
        bind.execute(
            sa.text(
                "DELETE FROM watchlist_items WHERE symbol = :old AND EXISTS (SELECT 1 FROM "
                "watchlist_items AS kept WHERE kept.user_id = watchlist_items.user_id "
                "AND kept.symbol = :new AND kept.added_at <= watchlist_items.added_at)"
            ),
            names,
        )
        bind.execute(
            sa.text(
                "DELETE FROM watchlist_items WHERE symbol = :new AND EXISTS (SELECT 1 FROM "
                "watchlist_items AS kept WHERE kept.user_id = watchlist_items.user_id "
                "AND kept.symbol = :old)"
            ),
            names,
        )
        for table in TABLES:
            bind.execute(
                sa.text(f"UPDATE {table} SET symbol = :new WHERE symbol = :old"),  # noqa: S608
                names,
            )


def downgrade() -> None:
    """Nothing to undo: either spelling names the same instrument."""

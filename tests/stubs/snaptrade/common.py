"""The SnapTrade stub's constants, samples and small helpers (see the package docstring)."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, Response

SAMPLES = Path(__file__).parent.parent / "samples"
LEGACY = "/api/v1"
"""The legacy path prefix: still served, with a ``Deprecation`` header (the spec's note)."""
SIGNED_PREFIX = "/api/v1"
"""What the signed ``path`` starts with, whichever prefix the request used (the SDKs sign
``"/api/v1" + <operation path>``)."""
DEPRECATION = "@1781222400"
CLIENT_ID = "FLINT-STUB"
CONSUMER_KEY = "stub-consumer-key-5f0c2b7e"
MAX_SKEW = 300
"""Seconds a request's timestamp may be away from the stub's clock."""
QUOTES = {"AAPL": Decimal("123.45"), "VAB.TO": Decimal("113.15")}
"""What Market orders execute at (the positions samples' prices)."""
RECENT_PAGE = 100
"""Orders ``recentOrders`` answers at most (the spec's "default page size is 100")."""


@functools.cache
def _sample_text(name: str) -> str:
    return (SAMPLES / name).read_text()


_SPACED_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})")


def _rfc3339(value: Any) -> Any:
    """The spec's own examples write some date-times with a space ("2024-06-28 18:42:46+00:00")
    where its ``format: date-time`` (RFC 3339) wants a ``T``: the samples are served with it."""
    if isinstance(value, str):
        return _SPACED_TIME.sub(r"\1T\2", value)
    if isinstance(value, dict):
        return {k: _rfc3339(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rfc3339(v) for v in value]
    return value


def sample(name: str) -> Any:
    """A fresh copy of a sample, numbers as the exact Decimals of their text."""
    return _rfc3339(json.loads(_sample_text(name), parse_float=Decimal))


ERRORS = sample("snaptrade_errors.json")
SIGNATURE_REFUSED = {
    "detail": "Unable to verify signature sent",
    "status_code": 401,
    "code": "1076",
}
USER_REFUSED = {
    "detail": "Invalid userID or userSecret provided",
    "status_code": 401,
    "code": "1083",
}
FEATURE_NOT_ENABLED = {
    "detail": "Feature is not enabled for this customer or this connection",
    "default_code": 1141,
}
"""The spec's 403FeatureNotEnabledResponse example."""
UNVERIFIABLE_DATA = {"default_detail": "Unable to verify data sent", "default_code": 1076}
"""The spec's 400FailedRequestResponse example: a signing or credentials problem."""


def jsonable(value: Any) -> Any:
    """Decimals (exact from the samples) back to JSON numbers with the same text."""
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value))


def fmt(value: Decimal) -> str:
    """A quantity as SnapTrade's order records write it (a decimal string)."""
    return format(value.normalize(), "f")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def refusal(status: int, detail: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "status_code": status}
    if code is not None:
        body["code"] = code
    return JSONResponse(body, status_code=status)


def sample_error(status: int) -> Response:
    return Response(dumps(ERRORS[str(status)]), status, media_type="application/json")


def canonical_signature(consumer_key: str, path: str, query: str, body: bytes) -> str:
    """The stub's own computation of what ``Signature`` must be."""
    content: Any = json.loads(body) if body else None
    if content == {}:
        content = None
    text = json.dumps(
        {"content": content, "path": path, "query": query}, separators=(",", ":"), sort_keys=True
    )
    digest = hmac.new(consumer_key.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


USD = {"id": "87b24961-b51e-4db8-9226-f198f6518a89", "code": "USD", "name": "US Dollar"}


def universal_symbol(symbol: str) -> dict[str, Any]:
    """The order records' ``universal_symbol`` for a symbol the stub trades."""
    if symbol == "VAB.TO":
        found = copy.deepcopy(sample("snaptrade_place_order.json")["universal_symbol"])
        exchange = found.get("exchange")
        # The spec's example is a number, its type a string.
        for key in ("close_time", "start_time"):
            if isinstance(exchange, dict) and isinstance(exchange.get(key), int | Decimal):
                exchange[key] = str(exchange[key])
        return dict(found)
    instrument = sample("snaptrade_positions_all.json")["results"][0]["instrument"]
    return {
        "id": instrument["id"],
        "symbol": instrument["symbol"],
        "raw_symbol": instrument["raw_symbol"],
        "description": instrument["description"],
        "currency": USD,
        "exchange": {"code": "NASDAQ", "mic_code": instrument["exchange"], "name": "NASDAQ"},
        "type": {"code": "cs", "description": "Common Stock", "is_supported": True},
        "figi_code": instrument["figi_instrument"]["figi_code"],
        "figi_instrument": instrument["figi_instrument"],
        "currencies": [USD],
    }


def activities(account_id: str) -> list[dict[str, Any]]:
    """Synthetic activities in SnapTrade's UniversalActivity shape (no sample exists)."""
    rows = [
        ("CONTRIBUTION", "2024-07-25", None, None, None, "1000.00", "Deposit from bank"),
        ("BUY", "2024-07-26", "VAB.TO", "2", "113.15", "-226.30", "Bought 2 VAB.TO"),
        ("DIVIDEND", "2024-08-01", "VAB.TO", None, None, "1.44", "VAB.TO dividend"),
        ("FEE", "2024-08-02", None, None, None, "-4.99", "Gold subscription"),
        ("SELL", "2024-08-05", "AAPL", "-1", "123.45", "123.45", "Sold 1 AAPL"),
        ("WITHDRAWAL", "2024-08-10", None, None, None, "50.00", "Transfer to bank"),
        ("INTEREST", "2024-08-20", None, None, None, "0.07", "Cash interest"),
    ]
    out = []
    for n, (kind, day, symbol, units, price, amount, text) in enumerate(rows, start=1):
        # The spec's UniversalActivity does not let symbol, option_symbol, price and units be
        # null: an activity without them leaves them out.
        optional = {
            "symbol": universal_symbol(symbol) if symbol else None,
            "price": Decimal(price) if price else None,
            "units": Decimal(units) if units else None,
        }
        out.append(
            {
                "id": f"act-{account_id[:8]}-{n}",
                "account": {"id": account_id, "name": "Robinhood Individual"},
                **{k: v for k, v in optional.items() if v is not None},
                "amount": Decimal(amount),
                "currency": USD,
                "type": kind,
                "option_type": "",
                "description": text,
                "trade_date": f"{day}T00:00:00Z",
                "settlement_date": f"{day}T00:00:00Z",
                "fee": Decimal(0),
                "fx_rate": None,
                "institution": "Robinhood",
                "external_reference_id": None,
            }
        )
    return out

"""What travels on the stream: the JSON text frames clients receive, and the quote message as it
crosses the broadcast channel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flint.kit.money import decimal_text
from flint.kit.schema import is_decimal_text
from flint.market.providers.types import Quote


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


PING = _dumps({"type": "ping"})
PONG = _dumps({"type": "pong"})
FAILED = "The message could not be handled now; try again later."
UNREADABLE = "The quote could not be read now; it follows once it can be."
MALFORMED = 'Send JSON objects like {"action": "subscribe", "symbols": ["AAPL"]}.'


def _timestamp(at: datetime) -> str:
    """The same spelling the REST quote uses (pydantic's): ISO 8601 UTC with `Z`."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def quote_message(quote: Quote) -> str:
    """The quote as clients receive it (and as it travels on the channel), spelt as the REST
    quote spells it: the price and the change as decimal strings, the percent a number."""
    return _dumps(
        {
            "type": "quote",
            "symbol": quote.symbol,
            "price": decimal_text(quote.price),
            "change": decimal_text(quote.change),
            "changePercent": float(quote.change_percent),
            "volume": quote.volume,
            "timestamp": _timestamp(quote.timestamp),
        }
    )


def error_message(detail: str, symbol: str | None = None) -> str:
    message: dict[str, Any] = {"type": "error", "detail": detail}
    if symbol is not None:
        message["symbol"] = symbol
    return _dumps(message)


def ready_message(max_symbols: int, ping_seconds: float) -> str:
    return _dumps({"type": "ready", "maxSymbols": max_symbols, "pingSeconds": ping_seconds})


def subscriptions_message(symbols: set[str]) -> str:
    return _dumps({"type": "subscriptions", "symbols": sorted(symbols)})


@dataclass(frozen=True, slots=True)
class Delivery:
    """A quote message with what routing and deduplication need read out of it once."""

    symbol: str
    at: datetime
    price: Decimal
    text: str

    @classmethod
    def of(cls, quote: Quote) -> Delivery:
        return cls(quote.symbol, quote.timestamp, quote.price, quote_message(quote))

    @classmethod
    def decode(cls, text: str) -> Delivery | None:
        """None for anything that is not a well-formed quote message (a shared channel may
        carry garbage; it must not reach clients)."""
        try:
            data = json.loads(text)
            if data.get("type") != "quote":
                return None
            at = datetime.fromisoformat(data["timestamp"])
            price = data["price"]
            if at.tzinfo is None or not isinstance(price, str) or not is_decimal_text(price):
                return None
            return cls(str(data["symbol"]), at, Decimal(price), text)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

"""Product analytics: a handful of named events about what users do, sent to Mixpanel from the
worker, on only when `FLINT_MIXPANEL_TOKEN` is set.

Features call `track` inside their transaction; the event leaves only after the commit (a
rolled-back action is not counted), from a task (`flint.app.analytics_tasks`), so a request
never waits on Mixpanel and a failed send never fails the user's action. The identity sent is
the user's id, nothing else: properties are limited by name (`PROPERTIES`) and by shape (short
lower-case words, booleans), so an email address, an amount of money or a list of symbols
cannot leave even by mistake; anything else is dropped with a log line.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from flint.jobs import enqueue

log = structlog.get_logger("flint.analytics")

Event = Literal[
    "signup",
    "login",
    "account_linked",
    "trade_executed",
    "report_generated",
    "subscription_changed",
]
EVENTS: frozenset[str] = frozenset(Event.__args__)  # type: ignore[attr-defined]

PROPERTIES = frozenset(
    {
        "method",  # login: password, two_factor
        "provider",  # account_linked: sandbox, snaptrade, teller
        "accounts",  # account_linked: how many accounts the link brought
        "side",  # trade_executed: buy, sell
        "order_type",  # trade_executed: market, limit, ...
        "status",  # trade_executed: filled, partially_filled; subscription_changed: active, ...
        "format",  # report_generated: pdf, csv, ...
        "kind",  # report_generated: the report's kind
        "plan",  # subscription_changed: free, premium
    }
)
"""The only property names an event may carry."""

_WORD = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
_MAX_COUNT = 1000

ENABLED = "analytics"
"""The `Session.info` key a runtime sets (through its session maker) when analytics is on."""

TASK = "flint.analytics.send"

Value = str | bool | int


def safe_properties(properties: dict[str, Value]) -> dict[str, Value]:
    """Only allowed names with word, boolean or small-count values; the rest dropped (logged)."""
    kept: dict[str, Value] = {}
    for name, value in properties.items():
        if name in PROPERTIES and _safe_value(value):
            kept[name] = value
        else:
            log.warning("analytics property dropped", property=name)
    return kept


def _safe_value(value: object) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return 0 <= value <= _MAX_COUNT
    return isinstance(value, str) and bool(_WORD.fullmatch(value))


async def track(
    session: AsyncSession,
    user_id: uuid.UUID | str,
    event: Event,
    properties: dict[str, Value] | None = None,
) -> None:
    """Send ``event`` for ``user_id`` once ``session`` commits, when analytics is on."""
    if not session.info.get(ENABLED):
        return
    if event not in EVENTS:
        raise ValueError(f"unknown analytics event {event!r}")
    message = {
        "event": event,
        "distinct_id": str(user_id),
        "properties": safe_properties(properties or {}),
        "time": round(time.time(), 3),
        "insert_id": uuid.uuid4().hex,  # Mixpanel drops a resent duplicate by this id
    }
    enqueue(session, TASK, json.dumps(message))

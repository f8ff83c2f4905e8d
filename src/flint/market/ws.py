"""The quote stream's WebSocket route: accept, authenticate, then hand the socket to the hub.

`/api/v1/market/ws` (and `/api/market/ws`). The protocol, all JSON text frames:

* Authenticate with `?token=<access token>` or, better (URLs end up in logs, though Flint
  redacts uvicorn's), a first message `{"action": "auth", "token": "…"}` within 5 s. A missing,
  invalid or expired token, or a signed-out session, closes the socket with code 4401. The
  handshake is always accepted first so that the client sees 4401, not an HTTP 403.
* An open connection is closed with 4401 within `FLINT_STREAM_SESSION_CHECK_SECONDS` (5) of its
  sign-in ending (signing out, a replayed refresh token, a password reset, a deactivated user),
  whichever API process ended it. The token's own expiry does not close it.
* The server then sends `{"type": "ready", "maxSymbols": 100, "pingSeconds": 20}`.
* `{"action": "subscribe" | "unsubscribe", "symbols": ["AAPL", …]}`: each newly subscribed
  symbol's current quote is sent at once, then `{"type": "subscriptions", "symbols": [all]}`.
  A connection holds at most `maxSymbols`; a subscribe that would pass it adds nothing.
* Quotes: `{"type": "quote", "symbol", "price", "change", "changePercent", "volume",
  "timestamp"}`, numbers as JSON numbers, the timestamp ISO 8601 UTC (as the REST quote). Never
  the same quote twice, never one older than the last one sent for that symbol.
* `{"type": "error", "detail": …, "symbol"?: …}` for invalid or unknown symbols and malformed
  messages; the connection stays open.
* Liveness: uvicorn sends protocol pings (every 20 s, `--ws-ping-interval`) and drops peers that
  do not answer; the server also sends `{"type": "ping"}` every `pingSeconds`, which browser
  code can see. A client may send `{"action": "ping"}` and gets `{"type": "pong"}`.
* A client too slow to read its queue is closed with 1013; on shutdown clients get 1012.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, WebSocket

from flint.errors import Unauthorized
from flint.market.stream import CLOSE_UNAUTHORIZED, QuoteHub
from flint.users.api import AccessClaims, Principals, PrincipalsDep
from flint.web import part

router = APIRouter(prefix="/market", tags=["market"])


@router.websocket("/ws", name="quote_stream")
async def quote_stream(
    websocket: WebSocket,
    hub: Annotated[QuoteHub, Depends(part(QuoteHub))],
    principals: PrincipalsDep,
    token: Annotated[str | None, Query(description="An access token.")] = None,
) -> None:
    await websocket.accept()
    if token is None:
        token = await _first_message_token(websocket, hub.auth_timeout)
    claims = await _claims(principals, token) if token else None
    if claims is None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await websocket.close(CLOSE_UNAUTHORIZED, "a valid access token is needed")
        return
    await hub.serve(websocket, session=claims)


async def _first_message_token(websocket: WebSocket, within: float) -> str | None:
    """The token of an `auth` message sent first, within ``within`` seconds; else None."""
    try:
        message = await asyncio.wait_for(websocket.receive(), within)
    except TimeoutError:
        return None
    text = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("action") == "auth":
        token = data.get("token")
        return token if isinstance(token, str) else None
    return None


async def _claims(principals: Principals, token: str) -> AccessClaims | None:
    try:
        return await principals.claims(token)
    except Unauthorized:
        return None


class RedactQueryTokens(logging.Filter):
    """uvicorn logs every WebSocket's path with its query string; a `?token=` must not end up
    in the logs with it."""

    PATTERN = re.compile(r"((?:^|[?&])token=)[^&\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATTERN.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


_REDACT = RedactQueryTokens()


def redact_query_tokens() -> None:
    """Install the filter on uvicorn's logger (once, however many apps are created)."""
    logger = logging.getLogger("uvicorn.error")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)

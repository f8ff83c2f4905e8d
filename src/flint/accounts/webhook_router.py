"""SnapTrade's webhook: the route SnapTrade delivers its events to (`flint.accounts.webhooks`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from flint.accounts import webhooks
from flint.accounts.deps import AccountsDep
from flint.errors import problem_responses
from flint.web import SessionDep
from flint.webhooks import WebhookReceived

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post(
    "/snaptrade",
    summary="SnapTrade's webhook (called by SnapTrade, not by users)",
    description="Register this URL in SnapTrade's dashboard (Webhooks). The body is SnapTrade's "
    "event, checked against its `Signature` header (HMAC-SHA256 with "
    "`FLINT_SNAPTRADE_CONSUMER_KEY`) and its `eventTimestamp` (at most 300 s from now): "
    "anything else is 400 and nothing is kept. `CONNECTION_BROKEN` marks the link broken "
    "and tells the user to reconnect; `CONNECTION_FIXED` and `CONNECTION_DELETED` update it; "
    "`ACCOUNT_HOLDINGS_UPDATED` and `TRADES_PLACED` (`TRADE_DETECTION`, `TRADE_UPDATE`) sync "
    "it; `NEW_ACCOUNT_AVAILABLE` links the new account. Other events are acknowledged and "
    "ignored. Each `webhookId` is handled once, by a worker, whatever the number of "
    "deliveries; the answer comes at once. On a server without SnapTrade: 503.",
    responses=problem_responses(400, 413, 503),
)
async def snaptrade_webhook(
    request: Request, session: SessionDep, accounts: AccountsDep
) -> WebhookReceived:
    body = await request.body()  # the raw bytes: the signature is over what they say
    await webhooks.receive(session, accounts, body, request.headers.get("signature"))
    return WebhookReceived()

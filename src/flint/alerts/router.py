from __future__ import annotations

from fastapi import APIRouter, status

from flint.alerts import service
from flint.alerts.deps import OwnedAlert
from flint.alerts.models import Alert
from flint.alerts.schemas import CONDITIONS_DOC, AlertIn, AlertOut, AlertPatch, Alerts
from flint.billing.api import PlansDep
from flint.errors import problem_responses
from flint.market.api import MarketDep
from flint.users.api import CurrentUserId
from flint.web import SessionDep, SettingsDep

router = APIRouter(prefix="/alerts", tags=["alerts"])


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        alert_id=alert.id,
        symbol=alert.symbol,
        condition=alert.condition,
        threshold=alert.threshold,
        state=alert.state,
        last_price=alert.last_price,
        last_change_percent=alert.last_change_percent,
        last_checked_at=alert.last_quote_at,
        last_fired_at=alert.last_fired_at,
        created_at=alert.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a price alert",
    description=f"{CONDITIONS_DOC}\n\nAlerts are checked on every quote refresh (every "
    "`FLINT_QUOTE_REFRESH_SECONDS`, and as the live stream polls). An alert fires once, "
    "notifying you as your preferences for `price_alert` say (in the app, by email, by SMS), "
    "and re-arms only after its condition has stopped holding, so a price hovering above a "
    "level notifies once per crossing. An alert whose condition already holds when created "
    "fires at the next check. Beyond your plan's alerts (`GET /billing/subscription`): 403 "
    "`/plan-limit`; beyond `FLINT_ALERTS_MAX_PER_USER` (100), whatever the plan: 409.",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_alert(
    body: AlertIn,
    user_id: CurrentUserId,
    session: SessionDep,
    market: MarketDep,
    plans: PlansDep,
    settings: SettingsDep,
) -> AlertOut:
    alert = await service.create(
        session, market, plans, user_id, body, limit=settings.alerts_max_per_user
    )
    return alert_out(alert)


@router.get("", summary="Your price alerts, newest first", responses=problem_responses(401))
async def list_alerts(user_id: CurrentUserId, session: SessionDep) -> Alerts:
    return Alerts(
        alerts=[alert_out(alert) for alert in await service.list_alerts(session, user_id)]
    )


@router.get("/{alertId}", summary="One price alert", responses=problem_responses(401, 404, 422))
async def read_alert(alert: OwnedAlert) -> AlertOut:
    return alert_out(alert)


@router.patch(
    "/{alertId}",
    summary="Change a price alert's condition or threshold, or pause it",
    description="Only the fields sent change. A new condition or threshold (checked as when "
    "created, against the condition the alert ends with: 422 at `body.threshold`) re-arms the "
    "alert, and one that already holds fires at the next check. `paused: true` keeps the alert "
    "and its last price but never fires it; `paused: false` re-arms it the same way.",
    responses=problem_responses(400, 401, 404, 422),
)
async def amend_alert(alert: OwnedAlert, body: AlertPatch, session: SessionDep) -> AlertOut:
    return alert_out(await service.amend(session, alert, body))


@router.delete(
    "/{alertId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a price alert",
    responses=problem_responses(401, 404, 422),
)
async def delete_alert(alert: OwnedAlert, session: SessionDep) -> None:
    await service.delete(session, alert)

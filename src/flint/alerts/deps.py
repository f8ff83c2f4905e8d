"""The caller's price alert, or 404: the one place the alert routes check ownership."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.alerts import service
from flint.alerts.models import Alert
from flint.users.api import CurrentUserId
from flint.web import SessionDep


async def owned_alert(
    session: SessionDep,
    user_id: CurrentUserId,
    alert_id: Annotated[uuid.UUID, Path(alias="alertId")],
) -> Alert:
    return await service.get(session, user_id, alert_id)


OwnedAlert = Annotated[Alert, Depends(owned_alert)]

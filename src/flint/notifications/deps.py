"""The caller's notification, or 404: the one place the notification routes check ownership."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.notifications import inbox
from flint.notifications.models import Notification
from flint.users.api import CurrentUserId
from flint.web import SessionDep


async def owned_notification(
    session: SessionDep,
    user_id: CurrentUserId,
    notification_id: Annotated[uuid.UUID, Path(alias="notificationId")],
) -> Notification:
    return await inbox.get(session, user_id, notification_id)


OwnedNotification = Annotated[Notification, Depends(owned_notification)]

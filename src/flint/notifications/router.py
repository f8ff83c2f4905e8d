from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from flint.errors import problem_responses
from flint.notifications import inbox, preferences
from flint.notifications.deps import OwnedNotification
from flint.notifications.kinds import Channel
from flint.notifications.preferences import Preferences
from flint.notifications.schemas import (
    ChannelsOut,
    MarkedRead,
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
)
from flint.users.api import CurrentUserId
from flint.web import ReadsDep, SessionDep

router = APIRouter(prefix="/notifications", tags=["notifications"])


def notification_out(row: Any) -> NotificationOut:
    """From a `Notification` or an inbox row (`inbox.page`): the same attributes."""
    return NotificationOut(
        notification_id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        data=row.data,
        read=row.read_at is not None,
        read_at=row.read_at,
        created_at=row.created_at,
    )


def preferences_out(prefs: Preferences) -> PreferencesOut:
    return PreferencesOut(
        phone_number=prefs.phone_number,
        channels={
            kind: ChannelsOut(email=Channel.EMAIL in chosen, sms=Channel.SMS in chosen)
            for kind, chosen in prefs.channels.items()
        },
    )


@router.get(
    "",
    summary="Your notifications, newest first",
    description="Every notification is here, whatever else was sent. `unread=true` lists only "
    "unread ones; page with `limit` and the `nextCursor` of the previous page.",
    responses=problem_responses(401, 422),
)
async def list_notifications(
    user_id: CurrentUserId,
    reads: ReadsDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NotificationPage:
    found = await inbox.page(reads, user_id, unread=unread, limit=limit, cursor=cursor)
    return NotificationPage(
        notifications=[notification_out(row) for row in found.rows],
        unread_count=found.unread,
        next_cursor=found.next_cursor,
    )


@router.post(
    "/read-all",
    summary="Mark every notification read",
    responses=problem_responses(401),
)
async def read_all(user_id: CurrentUserId, session: SessionDep) -> MarkedRead:
    marked = await inbox.mark_all_read(session, user_id)
    return MarkedRead(marked=marked, unread_count=await inbox.unread_count(session, user_id))


@router.get(
    "/preferences",
    summary="Which channels each kind of notification takes",
    responses=problem_responses(401),
)
async def read_preferences(user_id: CurrentUserId, session: SessionDep) -> PreferencesOut:
    return preferences_out(await preferences.load(session, user_id))


@router.put(
    "/preferences",
    summary="Choose the channels of each kind of notification",
    description="Replaces your choices: kinds left out go back to their defaults (email on, "
    "SMS off). In-app is always on. SMS needs `phoneNumber` in E.164 form (`+14155552671`). "
    "Password resets (`security`) always go by email and never by SMS.",
    responses=problem_responses(400, 401, 422),
)
async def replace_preferences(
    body: PreferencesIn, user_id: CurrentUserId, session: SessionDep
) -> PreferencesOut:
    channels = {
        kind: frozenset(
            channel
            for channel, on in ((Channel.EMAIL, choice.email), (Channel.SMS, choice.sms))
            if on
        )
        for kind, choice in body.channels.items()
    }
    prefs = await preferences.replace(session, user_id, channels, body.phone_number)
    return preferences_out(prefs)


@router.post(
    "/{notificationId}/read",
    summary="Mark a notification read",
    description="Idempotent: reading it again keeps the first `readAt`.",
    responses=problem_responses(401, 404, 422),
)
async def read_one(notification: OwnedNotification, session: SessionDep) -> NotificationOut:
    return notification_out(await inbox.mark_read(session, notification))

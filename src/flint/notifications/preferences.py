"""Which channels each kind of notification takes for one user, and where SMS go.

Stored as one row per user (kinds it does not name take the defaults), so a new kind needs no
migration and a user who never chose anything has no row at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import ValidationFailed
from flint.notifications.kinds import (
    CHOOSABLE,
    DEFAULT_CHANNELS,
    FIXED_CHANNELS,
    Channel,
    NotificationKind,
)
from flint.notifications.models import NotificationPreference

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
"""ASCII digits: Python's ``\\d`` also takes other scripts' digits (Arabic-Indic ones, say),
which no carrier reads."""
E164_RULE = "an E.164 number: +, the country code and the number, 15 digits at most"
_SEPARATORS = re.compile(r"[\s\-().]")
PHONE_PATTERN = r"^[\s().-]*\+[\s().-]*[1-9](?:[\s().-]*[0-9]){1,14}[\s().-]*$"
"""What `normalize_phone` takes, as the documents state it: `E164` with `_SEPARATORS` anywhere."""
_CHANNEL_NAMES = frozenset(channel.value for channel in Channel)


def normalize_phone(raw: str) -> str:
    """``+1 (415) 555-2671`` → ``+14155552671``; ValueError naming the rule otherwise."""
    number = _SEPARATORS.sub("", raw)
    if not E164.fullmatch(number):
        raise ValueError(f"must be {E164_RULE}, e.g. +14155552671")
    return number


@dataclass(frozen=True)
class Preferences:
    channels: Mapping[NotificationKind, frozenset[Channel]]
    phone_number: str | None

    def for_kind(self, kind: NotificationKind) -> frozenset[Channel]:
        fixed = FIXED_CHANNELS.get(kind)
        if fixed is not None:
            return fixed
        chosen = self.channels.get(kind, DEFAULT_CHANNELS[kind])
        # A phone number removed later silences SMS rather than failing every delivery.
        return chosen if self.phone_number else chosen - {Channel.SMS}


def _from_row(row: NotificationPreference | None) -> Preferences:
    stored = row.channels if row is not None else {}
    channels: dict[NotificationKind, frozenset[Channel]] = {}
    for kind in CHOOSABLE:
        names = stored.get(kind.value)
        if names is None:
            channels[kind] = DEFAULT_CHANNELS[kind]
        else:
            channels[kind] = frozenset(Channel(name) for name in names if name in _CHANNEL_NAMES)
    channels.update(FIXED_CHANNELS)
    return Preferences(channels, row.phone_number if row is not None else None)


async def load(session: AsyncSession, user_id: uuid.UUID) -> Preferences:
    return _from_row(await session.get(NotificationPreference, user_id))


async def replace(
    session: AsyncSession,
    user_id: uuid.UUID,
    channels: Mapping[NotificationKind, frozenset[Channel]],
    phone_number: str | None,
) -> Preferences:
    """Replace the user's choices: kinds not named go back to their defaults. Refused (422,
    nothing changed) when a fixed kind is asked to change or SMS is chosen with no number."""
    for kind, chosen in channels.items():
        fixed = FIXED_CHANNELS.get(kind)
        if fixed is not None and chosen != fixed:
            names = " and ".join(sorted(channel.value for channel in fixed))
            raise ValidationFailed.at(
                f"body.channels.{kind.value}",
                f"{kind.value} notifications always go by {names} (and in-app); "
                "they cannot be changed.",
            )
    merged = {kind: channels.get(kind, DEFAULT_CHANNELS[kind]) for kind in CHOOSABLE}
    wants_sms = sorted(kind.value for kind, chosen in merged.items() if Channel.SMS in chosen)
    if wants_sms and phone_number is None:
        raise ValidationFailed.at(
            "body.phoneNumber",
            f"SMS is chosen for {', '.join(wants_sms)}: a phone number is required.",
            "required when SMS is chosen for any kind",
        )
    row = await session.get(NotificationPreference, user_id)
    if row is None:
        row = NotificationPreference(user_id=user_id)
        session.add(row)
    row.channels = {kind.value: sorted(c.value for c in chosen) for kind, chosen in merged.items()}
    row.phone_number = phone_number
    await session.flush()
    return _from_row(row)


def switches(prefs: Preferences) -> tuple[bool, bool]:
    """Whether any kind the user chooses goes by email, and by SMS: the profile's two
    switches (``GET /users/me``'s ``preferences.notifications``)."""
    chosen = [prefs.for_kind(kind) for kind in CHOOSABLE]
    return any(Channel.EMAIL in c for c in chosen), any(Channel.SMS in c for c in chosen)


async def switch_all(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    email: bool | None,
    sms: bool | None,
    at: str,
) -> Preferences:
    """Email, SMS or both on or off for every kind the user chooses at once (None: each kind
    as it is): the profile's switches. SMS on needs the phone number the preferences keep
    (422 at ``{at}.sms``, nothing changed); security notices stay as they always are."""
    prefs = await load(session, user_id)
    if sms and prefs.phone_number is None:
        raise ValidationFailed.at(
            f"{at}.sms",
            "SMS needs a phone number first: PUT /notifications/preferences with phoneNumber.",
        )
    channels: dict[NotificationKind, frozenset[Channel]] = {}
    for kind in CHOOSABLE:
        chosen = set(prefs.channels[kind])
        for channel, on in ((Channel.EMAIL, email), (Channel.SMS, sms)):
            if on is True:
                chosen.add(channel)
            elif on is False:
                chosen.discard(channel)
        channels[kind] = frozenset(chosen)
    return await replace(session, user_id, channels, prefs.phone_number)


class ProfileSwitches:
    """The profile's ``preferences.notifications`` (`flint.users.service.Profiles`), read from
    and written to these preferences: one place says where notifications go."""

    async def read(self, session: AsyncSession, user_id: uuid.UUID) -> tuple[bool, bool]:
        return switches(await load(session, user_id))

    async def write(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        email: bool | None,
        sms: bool | None,
        at: str,
    ) -> None:
        await switch_all(session, user_id, email=email, sms=sms, at=at)

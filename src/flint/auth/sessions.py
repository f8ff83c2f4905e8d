"""The account's sign-ins as the devices they are: each begins with a password (or a code), is
kept alive by exchanging its refresh tokens, and ends by signing out, by being ended from
another device, or when its newest refresh token expires.

A sign-in is a refresh-token family; `SignIn` (the same id) says where it came from and when
it was last used. Ending one revokes its refresh tokens and, once committed, the access tokens
it gave (their ``fam`` claim), in every process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial

import anyio
import ua_parser
from sqlalchemy import ColumnElement, Select, and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.auth.models import PasswordResetToken, RefreshToken, SignIn, TwoFactorChallenge
from flint.db import after_commit
from flint.errors import NotFound
from flint.kit.time import utcnow
from flint.notifications.api import NotificationKind, notify
from flint.users.api import Principals

USER_AGENT_CHARS = 256
KEEP_EXPIRED = timedelta(days=1)
"""Credentials expired (or sign-ins ended) longer ago than this are deleted by `prune`: none
of them can be used any more, and a refresh token kept a day past its expiry still answers
"expired" rather than "unknown" to a client that comes back late."""


@dataclass(frozen=True)
class Device:
    """Where a sign-in is used from, as the request shows it."""

    user_agent: str | None = None
    ip_address: str | None = None

    @classmethod
    def seen(cls, user_agent: str | None, ip_address: str | None) -> Device:
        """From a request's `User-Agent` (on one line, printable characters only, cut to what
        is kept) and its client's address."""
        printable = "".join(c for c in (user_agent or "") if c.isprintable() or c.isspace())
        agent = " ".join(printable.split())[:USER_AGENT_CHARS] or None
        return cls(user_agent=agent, ip_address=ip_address)


@lru_cache(maxsize=4096)
def described(user_agent: str | None) -> tuple[str | None, tuple[str, ...]]:
    """A User-Agent as a person reads it ("Firefox 133 on Linux"; None when ua-parser knows
    no browser in it) and the key that tells devices apart: the browser, the system and the
    device as ua-parser names them without their versions (an updated browser is the same
    device), else the whole string. The first call loads ua-parser's rules (0.2 s): call it
    off the event loop."""
    if not user_agent:
        return None, ("",)
    found = ua_parser.parse(user_agent)
    browser, system, device = found.user_agent, found.os, found.device
    if browser is None:
        return None, ("", user_agent)
    name = " ".join(filter(None, (browser.family, browser.major)))
    if system is not None:
        name += " on " + " ".join(filter(None, (system.family, system.major)))
    if device is not None and device.family not in ("Other", "Generic Smartphone"):
        name += f" ({device.family})"
    key = (browser.family, system.family if system else "", device.family if device else "")
    return name, key


@dataclass(frozen=True)
class LiveSignIn:
    id: uuid.UUID
    created_at: datetime
    last_active_at: datetime
    expires_at: datetime
    method: str | None
    user_agent: str | None
    ip_address: str | None

    @property
    def device_name(self) -> str | None:
        return described(self.user_agent)[0]


async def begin(
    session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID, method: str, device: Device
) -> None:
    """Record the new sign-in ``family_id`` (its first refresh token is stored beside it), and
    tell the user when it comes from a device none of the account's sign-ins has used."""
    now = utcnow()
    if method != "password_change" and not await _familiar(session, user_id, device):
        await _tell_of_new_device(session, user_id, family_id, device, now)
    session.add(
        SignIn(
            id=family_id,
            user_id=user_id,
            created_at=now,
            last_active_at=now,
            method=method,
            user_agent=device.user_agent,
            ip_address=device.ip_address,
        )
    )


async def _familiar(session: AsyncSession, user_id: uuid.UUID, device: Device) -> bool:
    """Whether the account has signed in from ``device`` before (`described`'s key), or never
    signed in at all (its first sign-in, right after signing up, is no news)."""
    known = await session.execute(
        select(SignIn.user_agent).where(SignIn.user_id == user_id).distinct()
    )
    agents = list(known.scalars())
    if not agents:
        return True

    def seen() -> bool:  # the same browser, system and device, whatever their versions
        key = described(device.user_agent)[1]
        return any(described(agent)[1] == key for agent in agents)

    return await anyio.to_thread.run_sync(seen)


async def _tell_of_new_device(
    session: AsyncSession,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    device: Device,
    now: datetime,
) -> None:
    where = f" from {device.ip_address}" if device.ip_address else ""
    # The User-Agent is the client's own words: quoted as such, never as Flint's.
    said = f'it calls itself "{device.user_agent}"' if device.user_agent else "it did not say"
    name = described(device.user_agent)[0]
    said = f"{name}; {said}" if name else said
    await notify(
        session,
        user_id=user_id,
        kind=NotificationKind.SECURITY,
        title="New sign-in to your Flint account",
        body=(
            f"Your Flint account was signed in to on {now:%Y-%m-%d at %H:%M} UTC{where}, from "
            f"a device it had not seen ({said}). If it was you, there is nothing to do. If "
            "not, sign that session out (your signed-in devices are at /auth/sessions) and "
            "change your password."
        ),
        data={"event": "new_sign_in", "sessionId": str(family_id)},
    )


async def used(session: AsyncSession, family_id: uuid.UUID, device: Device | None) -> None:
    """The sign-in's refresh token was just exchanged (from ``device`` when known)."""
    values: dict[str, object] = {"last_active_at": utcnow()}
    if device is not None and device.ip_address is not None:
        values["ip_address"] = device.ip_address
    await session.execute(update(SignIn).where(SignIn.id == family_id).values(**values))


def _live_head(now: datetime) -> ColumnElement[bool]:
    """The refresh token that keeps a sign-in alive: its newest, neither spent, revoked nor
    expired."""
    return and_(
        RefreshToken.family_id == SignIn.id,
        RefreshToken.used_at.is_(None),
        RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > now,
    )


async def live(session: AsyncSession, user_id: uuid.UUID) -> list[LiveSignIn]:
    """The user's sign-ins still alive, the most recently used first."""
    now = utcnow()
    stmt = (
        select(SignIn, RefreshToken.expires_at)
        .join(RefreshToken, _live_head(now))
        .where(SignIn.user_id == user_id, RefreshToken.user_id == user_id)
        .order_by(SignIn.last_active_at.desc(), SignIn.id)
    )
    found: dict[uuid.UUID, LiveSignIn] = {}
    for sign_in, expires_at in await session.execute(stmt):
        found.setdefault(
            sign_in.id,
            LiveSignIn(
                id=sign_in.id,
                created_at=sign_in.created_at,
                last_active_at=sign_in.last_active_at,
                expires_at=expires_at,
                method=sign_in.method,
                user_agent=sign_in.user_agent,
                ip_address=sign_in.ip_address,
            ),
        )
    live = list(found.values())
    # Each device's name, read here off the event loop (`described` remembers it).
    await anyio.to_thread.run_sync(lambda: [sign_in.device_name for sign_in in live])
    return live


def _alive(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """The ids of the user's live sign-ins."""
    return select(SignIn.id).where(
        SignIn.user_id == user_id,
        exists().where(_live_head(utcnow()), RefreshToken.user_id == user_id),
    )


async def end(
    session: AsyncSession, principals: Principals, user_id: uuid.UUID, sign_in_id: uuid.UUID
) -> None:
    """End the user's live sign-in ``sign_in_id`` (404 for one that is not the user's, or has
    ended already, as for one that never was)."""
    alive = await session.execute(_alive(user_id).where(SignIn.id == sign_in_id))
    if alive.scalar_one_or_none() is None:
        raise NotFound("No such signed-in session.")
    await end_family(session, principals, user_id, sign_in_id)


async def end_others(
    session: AsyncSession, principals: Principals, user_id: uuid.UUID, keep: uuid.UUID | None
) -> int:
    """End every live sign-in of the user but ``keep`` (the caller's); how many ended."""
    others = _alive(user_id)
    if keep is not None:
        others = others.where(SignIn.id != keep)
    ended = list((await session.execute(others)).scalars())
    if ended:
        await _revoke(session, principals, user_id, ended)
    return len(ended)


async def end_family(
    session: AsyncSession, principals: Principals, user_id: uuid.UUID, family_id: uuid.UUID
) -> None:
    """Revoke every refresh token of the sign-in; once committed, its access tokens are
    refused too (`Principals` reads the ended sign-ins again)."""
    await _revoke(session, principals, user_id, [family_id])


async def _revoke(
    session: AsyncSession, principals: Principals, user_id: uuid.UUID, families: list[uuid.UUID]
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.family_id.in_(families),
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow(), successor=None)
    )
    after_commit(session, partial(principals.forget, user_id))


async def prune(session: AsyncSession) -> dict[str, int]:
    """Delete what can no longer be used: refresh tokens expired (and ended) more than
    `KEEP_EXPIRED` ago, the sign-ins left with none, and expired reset links and two-factor
    challenges. A spent refresh token is kept until it expires: presented again before then,
    it is the sign of a stolen token and ends its sign-in."""
    before = utcnow() - KEEP_EXPIRED
    tokens = await session.execute(
        delete(RefreshToken).where(
            RefreshToken.expires_at < before,
            (RefreshToken.revoked_at.is_(None)) | (RefreshToken.revoked_at < before),
        )
    )
    sign_ins = await session.execute(
        delete(SignIn).where(
            SignIn.last_active_at < before,
            ~exists().where(RefreshToken.family_id == SignIn.id),
        )
    )
    resets = await session.execute(
        delete(PasswordResetToken).where(PasswordResetToken.expires_at < before)
    )
    challenges = await session.execute(
        delete(TwoFactorChallenge).where(TwoFactorChallenge.expires_at < before)
    )
    return {
        "refresh_tokens": _count(tokens),
        "sign_ins": _count(sign_ins),
        "password_reset_tokens": _count(resets),
        "two_factor_challenges": _count(challenges),
    }


def _count(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]

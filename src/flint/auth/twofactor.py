"""Two-factor sign-in with TOTP (RFC 6238): setting it up, turning it on and off, and the second
step of signing in.

Where things live, and why:

* The TOTP secret is sealed with the runtime's credential box (`two_factor.sealed_secret`), so
  a copy of the database alone yields no codes. Setup stores it pending; only a valid code
  turns 2FA on, so an authenticator that never got the secret cannot lock its user out.
* Recovery codes are kept as HMAC-SHA-256 digests keyed with that secret: one indexed lookup
  per try, and the digests cannot be searched for the codes without the credentials key.
* The mfaToken that a correct password earns is opaque and kept as a digest, lives five
  minutes and is spent by the verification that succeeds. It is no JWT, so no other route
  takes it as a bearer token.
* A code works once: the newest accepted time step is kept per user, and a code of that step
  or an older one is refused (the update that records it is conditional, so two requests
  racing with one code cannot both pass).
* Five wrong codes per mfaToken, and per user, within the login failure window answer 429
  with Retry-After (counted in the `limits` storage: Redis when configured).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any, cast

import pyotp
import segno
import structlog
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import CursorResult, Result, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.auth.models import RecoveryCode, TwoFactor, TwoFactorChallenge
from flint.auth.passwords import verify_password
from flint.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from flint.kit.crypto import CredentialBox
from flint.kit.secrets import new_token, token_digest
from flint.kit.time import utcnow
from flint.notifications.api import NotificationKind, notify
from flint.users.api import User

log = structlog.get_logger(__name__)

ISSUER = "Flint"
VALID_WINDOW = 1
"""Steps accepted either side of the current one (30 s each): clocks drift, people type slowly."""
CHALLENGE_TTL = timedelta(minutes=5)
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""Lower-case letters and digits without the look-alikes (i, l, o, 0, 1): 10 of them are
about 50 bits."""
MAX_FAILURES = 5

INVALID_CHALLENGE = "The sign-in challenge is invalid, expired or already used; sign in again."
WRONG_CODE = "The code is incorrect."
TOO_MANY = "Too many wrong codes; try again later."


class FailureBudget:
    """Wrong codes allowed per key (a user, an mfaToken) within a moving window."""

    def __init__(
        self, storage: Storage, *, window_minutes: int, failures: int = MAX_FAILURES
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {
            scope: RateLimitItemPerMinute(failures, window_minutes, namespace=f"2fa-{scope}")
            for scope in ("user", "challenge")
        }

    def _keys(
        self, user_id: uuid.UUID, challenge_id: uuid.UUID | None
    ) -> list[tuple[RateLimitItem, str]]:
        keys: list[tuple[RateLimitItem, str]] = [(self._items["user"], str(user_id))]
        if challenge_id is not None:
            keys.append((self._items["challenge"], str(challenge_id)))
        return keys

    async def check(self, user_id: uuid.UUID, challenge_id: uuid.UUID | None = None) -> None:
        """Refuse before looking at the code once either budget is spent."""
        for item, key in self._keys(user_id, challenge_id):
            if not await self._limiter.test(item, key):
                raise TooManyRequests(TOO_MANY, retry_after=await self._retry_after(item, key))

    async def record_failure(
        self, user_id: uuid.UUID, challenge_id: uuid.UUID | None = None
    ) -> None:
        for item, key in self._keys(user_id, challenge_id):
            await self._limiter.hit(item, key)

    async def _retry_after(self, item: RateLimitItem, key: str) -> int:
        stats = await self._limiter.get_window_stats(item, key)
        return math.ceil(stats.reset_time - time.time())


@dataclass
class TwoFactorConfig:
    """What the 2FA rules take from the runtime. `clock` is the time TOTP codes are checked
    against (a test sets it to check the window of accepted steps)."""

    box: CredentialBox
    failures: FailureBudget
    clock: Callable[[], datetime] = utcnow


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class MfaChallenge:
    """What a correct password answers when 2FA is on, instead of tokens."""

    mfa_token: str
    expires_in: int


@dataclass(frozen=True)
class Status:
    enabled: bool
    recovery_codes_left: int


# --- reading and setting up -------------------------------------------------------------------


async def _record(session: AsyncSession, user_id: uuid.UUID) -> TwoFactor | None:
    return await session.get(TwoFactor, user_id)


async def enabled(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether signing in as this user takes a code after the password."""
    stmt = select(TwoFactor.enabled_at).where(TwoFactor.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def status(session: AsyncSession, user_id: uuid.UUID) -> Status:
    record = await _record(session, user_id)
    if record is None or record.enabled_at is None:
        return Status(enabled=False, recovery_codes_left=0)
    left = await session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return Status(enabled=True, recovery_codes_left=left.scalar_one())


def _uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _secret(config: TwoFactorConfig, record: TwoFactor) -> str:
    return config.box.open(record.sealed_secret)["totp"]


async def setup(session: AsyncSession, config: TwoFactorConfig, user: User) -> Enrolment:
    """A new pending secret (replacing one not yet enabled). 2FA stays off until `enable`."""
    record = await _record(session, user.id)
    if record is not None and record.enabled_at is not None:
        raise Conflict("Two-factor sign-in is already on; turn it off before setting it up again.")
    secret = pyotp.random_base32()
    sealed = config.box.seal({"totp": secret})
    if record is None:
        session.add(TwoFactor(user_id=user.id, sealed_secret=sealed))
    else:
        record.sealed_secret, record.last_time_step = sealed, None
    await session.flush()
    log.info("two_factor_setup", user_id=str(user.id))
    return Enrolment(secret=secret, otpauth_uri=_uri(secret, user.email))


async def pending_uri(session: AsyncSession, config: TwoFactorConfig, user: User) -> str:
    """The otpauth URI of the secret waiting to be enabled. Once 2FA is on the secret is never
    shown again: an access token alone must not be enough to copy the second factor."""
    record = await _record(session, user.id)
    if record is None or record.enabled_at is not None:
        raise NotFound("No two-factor setup is waiting to be enabled; start with /auth/2fa/setup.")
    return _uri(_secret(config, record), user.email)


def qr_svg(uri: str) -> bytes:
    """The URI as a QR code (never a Micro QR, which authenticator apps do not read)."""
    out = BytesIO()
    segno.make_qr(uri, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=True)
    return out.getvalue()


def _one_row(result: Result[Any]) -> bool:
    """Whether a conditional UPDATE or DELETE changed its row (the check-and-set of a spend)."""
    return cast(CursorResult[Any], result).rowcount == 1


# --- codes --------------------------------------------------------------------------------------


def _time_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code this is, within the accepted window of `at`; None otherwise."""
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(
            code, for_time=at, valid_window=VALID_WINDOW
        )
    except pyotp.OTPVerificationError:
        return None


async def _spend_time_step(session: AsyncSession, user_id: uuid.UUID, step: int) -> bool:
    """Record `step` as used, only if it is newer than the last one used (atomically)."""
    return _one_row(
        await session.execute(
            update(TwoFactor)
            .where(
                TwoFactor.user_id == user_id,
                or_(TwoFactor.last_time_step.is_(None), TwoFactor.last_time_step < step),
            )
            .values(last_time_step=step)
        )
    )


async def _accept_totp(
    session: AsyncSession, config: TwoFactorConfig, record: TwoFactor, code: str
) -> bool:
    step = _time_step(_secret(config, record), code, config.clock())
    return step is not None and await _spend_time_step(session, record.user_id, step)


def normalize_recovery_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _recovery_digest(secret: str, code: str) -> str:
    message = b"flint-recovery-code:" + normalize_recovery_code(code).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _new_recovery_codes() -> list[str]:
    codes: list[str] = []
    while len(codes) < RECOVERY_CODE_COUNT:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        if code not in codes:
            codes.append(code)
    return codes


async def _accept_recovery_code(
    session: AsyncSession, config: TwoFactorConfig, record: TwoFactor, code: str
) -> bool:
    """Spend the code if it is one of the user's unused ones (atomically: once only)."""
    spent = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == record.user_id,
            RecoveryCode.code_hash == _recovery_digest(_secret(config, record), code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    accepted = _one_row(spent)
    if accepted:
        log.info("two_factor_recovery_code_used", user_id=str(record.user_id))
    return accepted


def is_totp_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


async def _accept_either(
    session: AsyncSession, config: TwoFactorConfig, record: TwoFactor, code: str
) -> bool:
    """A current code or a recovery code, told apart by their shapes (six digits, or not)."""
    accept = _accept_totp if is_totp_code(code) else _accept_recovery_code
    return await accept(session, config, record, code)


# --- turning it on and off ----------------------------------------------------------------------


async def enable(
    session: AsyncSession, config: TwoFactorConfig, user: User, code: str
) -> list[str]:
    """Turn 2FA on with a code of the pending secret; answers the recovery codes, shown once."""
    record = await _record(session, user.id)
    if record is None:
        raise Conflict("There is no two-factor setup to enable; start with /auth/2fa/setup.")
    if record.enabled_at is not None:
        raise Conflict("Two-factor sign-in is already on.")
    if not await _accept_totp(session, config, record, code):
        raise ValidationFailed.at(
            "body.code",
            "The code does not match the secret being set up; check the authenticator's clock.",
            "does not match the secret being set up",
        )
    record.enabled_at = utcnow()
    secret = _secret(config, record)
    codes = _new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_recovery_digest(secret, one)) for one in codes
    )
    await session.flush()
    await _tell(session, user, on=True)
    log.info("two_factor_enabled", user_id=str(user.id))
    return codes


async def disable(
    session: AsyncSession, config: TwoFactorConfig, user: User, *, password: str, code: str
) -> None:
    """Turn 2FA off: it takes the password and a current code or a recovery code, so an access
    token alone cannot remove the second factor. Wrong answers count toward the lockout."""
    record = await _record(session, user.id)
    if record is None or record.enabled_at is None:
        raise Conflict("Two-factor sign-in is not on.")
    await confirm(session, config, user, password=password, code=code, action="disable")
    await _forget(session, user.id)
    await _tell(session, user, on=False)
    log.info("two_factor_disabled", user_id=str(user.id))


async def confirm(
    session: AsyncSession,
    config: TwoFactorConfig,
    user: User,
    *,
    password: str | None,
    code: str | None,
    action: str,
) -> None:
    """What a signed-in person proves before changing the account's security (turning 2FA
    off, closing the account): the password, when the account has one, and a current code or
    a recovery code, when 2FA is on. 422 naming what is missing; 403 when an answer is wrong,
    counted with the wrong codes (five within 15 minutes answer 429 with `Retry-After`), so an
    access token alone cannot guess its way through."""
    record = await _record(session, user.id)
    two_factor = record is not None and record.enabled_at is not None
    if user.has_password and password is None:
        raise ValidationFailed.at("body.password", "The password is required.", "required")
    if two_factor and code is None:
        raise ValidationFailed.at(
            "body.code",
            "Two-factor sign-in is on: send a current code or a recovery code.",
            "required: two-factor sign-in is on",
        )
    await config.failures.check(user.id)
    accepted = not user.has_password or await verify_password(user.hashed_password, password or "")
    if accepted and two_factor and record is not None and code is not None:
        # A right code is spent only with the right password.
        accepted = await _accept_either(session, config, record, code)
    if not accepted:
        await config.failures.record_failure(user.id)
        log.info("security_confirmation_refused", user_id=str(user.id), action=action)
        what = "password or the code" if two_factor else "password"
        raise Forbidden(f"The {what} is incorrect.")


async def _forget(session: AsyncSession, user_id: uuid.UUID) -> None:
    for table in (RecoveryCode, TwoFactorChallenge, TwoFactor):
        await session.execute(delete(table).where(table.user_id == user_id))


async def _tell(session: AsyncSession, user: User, *, on: bool) -> None:
    """A security notice either way: if it was not them, they learn at once."""
    state = "on" if on else "off"
    await notify(
        session,
        user_id=user.id,
        kind=NotificationKind.SECURITY,
        title=f"Two-factor sign-in is {state}",
        body=(
            f"Two-factor sign-in was turned {state} for your Flint account. If it was not you, "
            "reset your password and check your account's security."
        ),
        data={"event": f"two_factor_{'enabled' if on else 'disabled'}"},
    )


# --- the second step of signing in --------------------------------------------------------------


async def challenge(session: AsyncSession, user_id: uuid.UUID) -> MfaChallenge:
    """The mfaToken for a user whose password was right. The user's expired ones go now."""
    now = utcnow()
    await session.execute(
        delete(TwoFactorChallenge).where(
            TwoFactorChallenge.user_id == user_id, TwoFactorChallenge.expires_at <= now
        )
    )
    token = new_token()
    session.add(
        TwoFactorChallenge(
            user_id=user_id, token_hash=token_digest(token), expires_at=now + CHALLENGE_TTL
        )
    )
    await session.flush()
    log.info("two_factor_challenge", user_id=str(user_id))
    return MfaChallenge(mfa_token=token, expires_in=int(CHALLENGE_TTL.total_seconds()))


async def verify(
    session: AsyncSession,
    config: TwoFactorConfig,
    mfa_token: str,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
) -> User:
    """The user whose challenge this code answers; the challenge is spent. The caller issues
    the tokens."""
    found = (
        await session.execute(
            select(TwoFactorChallenge).where(
                TwoFactorChallenge.token_hash == token_digest(mfa_token)
            )
        )
    ).scalar_one_or_none()
    if found is None or found.expires_at <= utcnow():
        raise Unauthorized(INVALID_CHALLENGE)
    await config.failures.check(found.user_id, found.id)
    user = await session.get(User, found.user_id)
    record = await _record(session, found.user_id)
    if user is None or not user.is_active or record is None or record.enabled_at is None:
        raise Unauthorized(INVALID_CHALLENGE)
    if code is not None:
        accepted = await _accept_either(session, config, record, code)
    else:
        accepted = await _accept_recovery_code(session, config, record, recovery_code or "")
    if not accepted:
        await config.failures.record_failure(found.user_id, found.id)
        log.info("two_factor_code_refused", user_id=str(found.user_id))
        raise Unauthorized(WRONG_CODE)
    spent = await session.execute(
        delete(TwoFactorChallenge).where(TwoFactorChallenge.id == found.id)
    )
    if not _one_row(spent):  # a concurrent verify won
        raise Unauthorized(INVALID_CHALLENGE)
    return user

"""Registration, sign-in, refresh-token rotation with reuse detection, and password reset.

Two-factor sign-in is `flint.auth.twofactor`: `login` hands a 2FA account a challenge instead
of tokens, and `complete_login` issues them once a code answers it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from flint import jobs
from flint.analytics import track
from flint.auth import sessions, twofactor
from flint.auth.models import PasswordResetToken, RefreshToken
from flint.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from flint.auth.sessions import Device
from flint.auth.throttle import LoginThrottle, ResetThrottle
from flint.db import after_commit
from flint.errors import Conflict, Unauthorized, ValidationFailed, field_error
from flint.kit.crypto import CredentialBox, CredentialsUnreadable
from flint.kit.secrets import new_token, token_digest
from flint.kit.time import utcnow
from flint.notifications.api import NotificationKind, Secrets, notify
from flint.users.api import Principals, TokenIssuer, User

log = structlog.get_logger(__name__)

INVALID_CREDENTIALS = "The email or password is incorrect."
INVALID_REFRESH = "The refresh token is invalid, expired or already used."
SEND_RESET = "flint.auth.send_password_reset"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str


@dataclass(frozen=True)
class AuthConfig:
    tokens: TokenIssuer
    refresh_ttl: timedelta
    principals: Principals
    """Told after the commit when a sign-in ends, so its access tokens stop working at once."""
    refresh_grace: timedelta
    """How long a just-rotated refresh token still answers the pair it was exchanged for."""


@dataclass(frozen=True)
class ResetMail:
    """What the worker needs to send a reset link: how long it works, where it points, and
    the box that seals its token while the email waits in the outbox."""

    ttl: timedelta
    public_url: str
    box: CredentialBox


def normalize_email(raw: str) -> str:
    """Syntax-check and normalise (Unicode NFC, then lower-cased whole); no DNS lookups.

    Stored lower-case so the database's `lower()` has nothing left to do: SQLite's (and a
    PostgreSQL database with the C locale's) only folds ASCII, which otherwise made "Émile@…"
    impossible to sign in with and let "émile@…" register as a second account.
    """
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            "The email address is not valid.", errors=[field_error("body.email", str(exc))]
        ) from exc
    return result.normalized.lower()


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(func.lower(User.email) == email.lower())
    return (await session.execute(stmt)).scalar_one_or_none()


def _check_password(password: str, email: str, field: str) -> None:
    problem = password_problem(password, email)
    if problem:
        raise ValidationFailed(
            f"The password {problem}.", errors=[field_error(field, f"password {problem}")]
        )


async def register(session: AsyncSession, email: str, password: str) -> User:
    email = normalize_email(email)
    _check_password(password, email, "body.password")
    if await _user_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.")
    user = User(email=email, hashed_password=await hash_password(password))
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists.") from exc
    log.info("user_registered", user_id=str(user.id))
    await track(session, user.id, "signup")
    return user


async def _issue(
    session: AsyncSession,
    config: AuthConfig,
    user: User,
    *,
    family_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    pair: IssuedTokens | None = None,
    began: tuple[str, Device] | None = None,
) -> IssuedTokens:
    """Store ``pair`` (a new one by default) as the newest of the sign-in ``family_id``, or of
    a new sign-in that ``began`` (how, and on what device)."""
    if family_id is None:
        family_id = uuid.uuid4()
        method, device = began or ("password", Device())
        await sessions.begin(session, user.id, family_id, method, device)
    pair = pair or _new_pair(config, user, family_id)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            parent_id=parent_id,
            token_hash=token_digest(pair.refresh_token),
            expires_at=utcnow() + config.refresh_ttl,
        )
    )
    await session.flush()
    return pair


def _new_pair(config: AuthConfig, user: User, family_id: uuid.UUID) -> IssuedTokens:
    return IssuedTokens(
        access_token=config.tokens.issue(user.id, user.token_version, family_id),
        expires_in=int(config.tokens.ttl.total_seconds()),
        refresh_token=new_token(),
    )


async def complete_login(
    session: AsyncSession,
    config: AuthConfig,
    two_factor: twofactor.TwoFactorConfig,
    mfa_token: str,
    *,
    code: str | None,
    recovery_code: str | None,
    throttle: LoginThrottle,
    client_ip: str,
    device: Device | None = None,
) -> IssuedTokens:
    """The second step of a 2FA sign-in: the code answers the login's challenge, then the
    tokens are issued as `login` issues them without 2FA (and the address counts as one the
    account signs in from only now)."""
    user = await twofactor.verify(
        session, two_factor, mfa_token, code=code, recovery_code=recovery_code
    )
    await throttle.record_success(user.email, client_ip)
    user.last_login = utcnow()
    log.info("login_succeeded", user_id=str(user.id), second_factor=True)
    await track(session, user.id, "login", {"method": "two_factor"})
    return await _issue(session, config, user, began=("two_factor", device or Device()))


async def login(
    session: AsyncSession,
    config: AuthConfig,
    throttle: LoginThrottle,
    *,
    email: str,
    password: str,
    client_ip: str,
    device: Device | None = None,
) -> IssuedTokens | twofactor.MfaChallenge:
    key = email.strip().lower()
    await throttle.check(key, client_ip)
    user = await _user_by_email(session, key)
    ok = await verify_password(user.hashed_password if user else None, password)
    if user is None or not ok or not user.is_active:
        await throttle.record_failure(key, client_ip)
        log.info("login_failed", known_user=user is not None)
        raise Unauthorized(INVALID_CREDENTIALS)
    if needs_rehash(user.hashed_password):
        user.hashed_password = await hash_password(password)
    if await twofactor.enabled(session, user.id):  # the tokens wait for /auth/2fa/verify
        return await twofactor.challenge(session, user.id)
    user.last_login = utcnow()
    await throttle.record_success(key, client_ip)
    log.info("login_succeeded", user_id=str(user.id))
    await track(session, user.id, "login", {"method": "password"})
    return await _issue(session, config, user, began=("password", device or Device()))


async def refresh(
    session: AsyncSession, config: AuthConfig, token: str, device: Device | None = None
) -> IssuedTokens:
    """Rotate: the presented token is spent atomically, and the pair it is exchanged for is kept
    sealed with a key only the presented token gives. Presented again within the grace period
    (two tabs refreshing at once) it answers that same pair; later, a spent token is presumed
    stolen and ends its sign-in."""
    now = utcnow()
    record = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
        )
    ).scalar_one_or_none()
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        raise Unauthorized(INVALID_REFRESH)
    if record.used_at is None:
        user = await session.get(User, record.user_id)
        if user is None or not user.is_active:
            raise Unauthorized(INVALID_REFRESH)
        pair = _new_pair(config, user, record.family_id)
        sealed = CredentialBox.keyed_by(token).seal(
            {"accessToken": pair.access_token, "refreshToken": pair.refresh_token}
        )
        spent = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == record.id, RefreshToken.used_at.is_(None))
            .values(used_at=now, successor=sealed)
        )
        if spent.rowcount == 1:  # type: ignore[attr-defined]
            await _forget_successors(session, config, record.family_id, now)
            await sessions.used(session, record.family_id, device)
            return await _issue(
                session, config, user, family_id=record.family_id, parent_id=record.id, pair=pair
            )
        await session.refresh(record)  # spent meanwhile (and committed): when, and for what
    replayed = _successor(config, record, token, now)
    if replayed is not None:
        log.info("refresh_token_replayed_within_grace", user_id=str(record.user_id))
        return replayed
    await _end_sign_in(session, config, record)
    log.warning("refresh_token_reuse", user_id=str(record.user_id))
    raise Unauthorized(INVALID_REFRESH, commit=True)


def _successor(
    config: AuthConfig, record: RefreshToken, token: str, now: datetime
) -> IssuedTokens | None:
    """The pair ``token`` was exchanged for, if that was within the grace period and the
    sign-in goes on; its access token keeps its own expiry."""
    if record.used_at is None or record.successor is None or record.revoked_at is not None:
        return None
    age = now - record.used_at
    if age > config.refresh_grace:
        return None
    try:
        values = CredentialBox.keyed_by(token).open(record.successor)
    except CredentialsUnreadable:
        return None
    return IssuedTokens(
        access_token=values["accessToken"],
        expires_in=max(0, int((config.tokens.ttl - age).total_seconds())),
        refresh_token=values["refreshToken"],
    )


async def _forget_successors(
    session: AsyncSession, config: AuthConfig, family_id: uuid.UUID, now: datetime
) -> None:
    """Drop the sealed pairs of the sign-in whose grace has passed: they will never be opened."""
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.family_id == family_id,
            RefreshToken.successor.is_not(None),
            RefreshToken.used_at <= now - config.refresh_grace,
        )
        .values(successor=None)
    )


async def _end_sign_in(session: AsyncSession, config: AuthConfig, record: RefreshToken) -> None:
    """End the sign-in of ``record`` (`sessions.end_family`)."""
    await sessions.end_family(session, config.principals, record.user_id, record.family_id)


async def ended_sessions(conn: AsyncConnection, user_id: uuid.UUID, since: datetime) -> list[str]:
    """The user's sign-ins (refresh-token families, as the ``fam`` claim spells them) revoked
    since ``since``: what `flint.users.Principals` refuses the access tokens of."""
    stmt = (
        select(RefreshToken.family_id)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at >= since)
        .distinct()
    )
    return [family.hex for family in (await conn.execute(stmt)).scalars()]


async def logout(session: AsyncSession, config: AuthConfig, user: User, token: str) -> None:
    """End the sign-in of the presented refresh token, if it is the caller's: its refresh
    tokens and its access tokens; the user's other sign-ins go on."""
    record = (
        await session.execute(
            select(RefreshToken).where(
                RefreshToken.token_hash == token_digest(token), RefreshToken.user_id == user.id
            )
        )
    ).scalar_one_or_none()
    if record is None:
        raise Unauthorized(INVALID_REFRESH)
    await _end_sign_in(session, config, record)


async def request_password_reset(
    session: AsyncSession, throttle: ResetThrottle, email: str, client_ip: str
) -> None:
    """Count the request against its budgets, then leave the rest to a worker: the answer
    takes the same time whether or not the email has an account (the lookup, the token and
    the email happen in `send_password_reset`)."""
    address = email.strip().lower()
    await throttle.hit(address, client_ip)
    jobs.enqueue(session, SEND_RESET, address)


async def send_password_reset(session: AsyncSession, mail: ResetMail, email: str) -> None:
    """Send a reset link if the account exists (the worker's half of a reset request). Only
    the newest link works: the account's earlier unused ones are spent."""
    user = await _user_by_email(session, email)
    if user is None or not user.is_active:
        log.info("password_reset_unknown_email")
        return
    if not user.has_password:  # Auth0 signs this user in: a reset would add a second way in
        log.info("password_reset_without_password", user_id=str(user.id))
        return
    now = utcnow()
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token()
    session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=token_digest(token), expires_at=now + mail.ttl
        )
    )
    minutes = int(mail.ttl.total_seconds() // 60)
    link = mail.public_url.rstrip("/") + "/reset-password?token=${token}"
    # The token goes by email only: never into the app's list (anyone holding a session could
    # read it there) nor by SMS, and the outbox keeps it sealed, then not at all once sent.
    await notify(
        session,
        user_id=user.id,
        kind=NotificationKind.SECURITY,
        title="Reset your Flint password",
        body=(
            "Someone asked to reset the password of your Flint account; the reset link went "
            f"to {user.email}. If it was not you, ignore it: your password stays as it is."
        ),
        email_body=(
            "Someone asked to reset the password of your Flint account.\n\n"
            f"Reset token: ${{token}}\nLink: {link}\n\n"
            f"The token works once, within {minutes} minutes, until you ask for another. "
            "If it was not you, ignore this email."
        ),
        email_secrets=Secrets({"token": token}, mail.box),
        data={"event": "password_reset"},
    )
    log.info("password_reset_requested", user_id=str(user.id))


async def change_password(
    session: AsyncSession,
    config: AuthConfig,
    two_factor: twofactor.TwoFactorConfig,
    user: User,
    *,
    current: str,
    new: str,
    code: str | None,
    device: Device | None = None,
) -> IssuedTokens:
    """Set a new password for a signed-in user who gives the current one (and a code when
    two-factor sign-in is on): every sign-in of the account ends, the caller's included, whose
    new pair this answers; a security notice tells the user."""
    if not user.has_password:
        raise Conflict(
            "This account signs in with Auth0 and has no Flint password: change it at Auth0."
        )
    await twofactor.confirm(
        session, two_factor, user, password=current, code=code, action="change_password"
    )
    _check_password(new, user.email, "body.newPassword")
    if new == current:
        raise ValidationFailed.at(
            "body.newPassword", "The new password is the current one.", "is the current password"
        )
    await _end_every_sign_in(session, user, utcnow())
    user.hashed_password = await hash_password(new)
    after_commit(session, partial(config.principals.forget, user.id))
    await notify(
        session,
        user_id=user.id,
        kind=NotificationKind.SECURITY,
        title="Your Flint password was changed",
        body=(
            "The password of your Flint account was changed, and every device signed in to it "
            "was signed out. If it was not you, reset your password now and check your "
            "account's security."
        ),
        data={"event": "password_changed"},
    )
    log.info("password_changed", user_id=str(user.id))
    return await _issue(session, config, user, began=("password_change", device or Device()))


async def logout_everywhere(session: AsyncSession, config: AuthConfig, user: User) -> None:
    """End every sign-in of the account, the caller's included: its refresh tokens and access
    tokens stop working on every device (a lost phone's too). API keys stay: they are the
    scripts' credentials, revoked one by one."""
    await _end_every_sign_in(session, user, utcnow())
    after_commit(session, partial(config.principals.forget, user.id))
    log.info("signed_out_everywhere", user_id=str(user.id))


async def _end_every_sign_in(session: AsyncSession, user: User, now: datetime) -> None:
    """Every access token issued before stops working (``token_version``), and every refresh
    token with it; `Principals.forget` must follow the commit."""
    user.token_version += 1
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def confirm_password_reset(session: AsyncSession, token: str, new_password: str) -> uuid.UUID:
    """Set the new password; returns the user's id (whose sign-in state just changed)."""
    now = utcnow()
    record = (
        await session.execute(
            select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
        )
    ).scalar_one_or_none()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise ValidationFailed(
            "The reset token is invalid, expired or already used.",
            errors=[field_error("body.token", "invalid, expired or already used")],
        )
    user = await session.get(User, record.user_id)
    if user is None:
        raise ValidationFailed("The reset token is invalid, expired or already used.")
    _check_password(new_password, user.email, "body.newPassword")
    spent = await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == record.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise ValidationFailed("The reset token is invalid, expired or already used.")
    # Older reset links still in a mailbox must not reopen the account after this reset.
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    user.hashed_password = await hash_password(new_password)
    await _end_every_sign_in(session, user, now)
    log.info("password_reset_completed", user_id=str(user.id))
    return user.id

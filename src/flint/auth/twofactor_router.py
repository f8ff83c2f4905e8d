"""Two-factor sign-in (TOTP): the status, setting it up, turning it on and off, and the second
step of signing in. Every answer says `Cache-Control: no-store`: they carry secrets, recovery
codes or tokens. No API key may touch it (`SESSION`): it guards the account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from flint.auth import service, twofactor
from flint.auth.deps import (
    LOCAL_SIGN_IN,
    AuthDep,
    ThrottleDep,
    TwoFactorDep,
    client_ip,
    device,
    no_store,
)
from flint.auth.schemas import (
    DisableTwoFactor,
    EnableTwoFactor,
    RecoveryCodes,
    TokenPair,
    TwoFactorSetup,
    TwoFactorStatus,
    VerifyTwoFactor,
)
from flint.errors import problem_responses
from flint.users.api import SESSION, CurrentUser
from flint.web import SessionDep

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""For an answer made here rather than by the route's return value (the QR code)."""

router = APIRouter(prefix="/auth/2fa", tags=["auth"], dependencies=[Depends(no_store)])


def _status(state: twofactor.Status) -> TwoFactorStatus:
    return TwoFactorStatus(enabled=state.enabled, recovery_codes_left=state.recovery_codes_left)


@router.get(
    "",
    summary="Your two-factor sign-in status",
    responses=problem_responses(401, 403),
    openapi_extra=SESSION,
)
async def two_factor_status(user: CurrentUser, session: SessionDep) -> TwoFactorStatus:
    return _status(await twofactor.status(session, user.id))


@router.post(
    "/setup",
    summary="Start setting up two-factor sign-in: a new TOTP secret",
    description="Add the secret to an authenticator app (or scan `GET /auth/2fa/qr.svg`), then "
    "send one of its codes to `/auth/2fa/enable`. Until then two-factor sign-in stays off; "
    "setting up again replaces the secret. 409 when it is already on.",
    responses=problem_responses(401, 403, 409),
    openapi_extra=SESSION,
)
async def two_factor_setup(
    user: CurrentUser, session: SessionDep, two_factor: TwoFactorDep
) -> TwoFactorSetup:
    enrolment = await twofactor.setup(session, two_factor, user)
    return TwoFactorSetup(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.get(
    "/qr.svg",
    summary="The secret being set up, as a QR code for an authenticator app",
    description="404 when no setup waits to be enabled: once two-factor sign-in is on, its "
    "secret is never shown again.",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "The QR code (SVG)"},
        **problem_responses(401, 403, 404),
    },
    openapi_extra=SESSION,
)
async def two_factor_qr(
    user: CurrentUser, session: SessionDep, two_factor: TwoFactorDep
) -> Response:
    uri = await twofactor.pending_uri(session, two_factor, user)
    return Response(twofactor.qr_svg(uri), media_type="image/svg+xml", headers=NO_STORE)


@router.post(
    "/enable",
    summary="Turn two-factor sign-in on with a code from the authenticator",
    description="Answers ten recovery codes, each usable once in place of a code; they are "
    "shown only now. Every later sign-in takes a code after the password.",
    responses=problem_responses(400, 401, 403, 409, 422),
    openapi_extra=SESSION,
)
async def two_factor_enable(
    body: EnableTwoFactor, user: CurrentUser, session: SessionDep, two_factor: TwoFactorDep
) -> RecoveryCodes:
    codes = await twofactor.enable(session, two_factor, user, body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/disable",
    summary="Turn two-factor sign-in off",
    description="Takes the password and a current code or a recovery code; a wrong one is a "
    "403, and five within 15 minutes answer 429 with `Retry-After`. The secret and the "
    "recovery codes are deleted.",
    responses=problem_responses(400, 401, 403, 409, 422, 429),
    openapi_extra=SESSION,
)
async def two_factor_disable(
    body: DisableTwoFactor, user: CurrentUser, session: SessionDep, two_factor: TwoFactorDep
) -> TwoFactorStatus:
    await twofactor.disable(session, two_factor, user, password=body.password, code=body.code)
    return _status(await twofactor.status(session, user.id))


@router.post(
    "/verify",
    dependencies=LOCAL_SIGN_IN,
    summary="Sign in, second step: the mfaToken and a code (or a recovery code)",
    description="The mfaToken comes from `/auth/login` and lasts five minutes. Answers the "
    "token pair `/auth/login` gives an account without two-factor sign-in. `code` takes a "
    "current code or a recovery code (`recoveryCode` a recovery code only). Codes of the "
    "previous and the next 30-second step are accepted, each code once; five wrong codes for "
    "one mfaToken, or for one account within 15 minutes, answer 429 with `Retry-After`.",
    responses=problem_responses(400, 401, 403, 422, 429),
)
async def two_factor_verify(
    body: VerifyTwoFactor,
    session: SessionDep,
    config: AuthDep,
    two_factor: TwoFactorDep,
    throttle: ThrottleDep,
    request: Request,
) -> TokenPair:
    tokens = await service.complete_login(
        session,
        config,
        two_factor,
        body.mfa_token,
        code=body.code,
        recovery_code=body.recovery_code,
        throttle=throttle,
        client_ip=client_ip(request),
        device=device(request),
    )
    return TokenPair(
        token=tokens.access_token, expires_in=tokens.expires_in, refresh_token=tokens.refresh_token
    )

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from flint.auth import service, twofactor
from flint.auth.deps import (
    LOCAL_SIGN_IN,
    AuthDep,
    ResetThrottleDep,
    ThrottleDep,
    TwoFactorDep,
    client_ip,
    device,
    no_store,
)
from flint.auth.schemas import (
    ChangePassword,
    LoginRequest,
    Message,
    MfaRequired,
    OAuth2TokenResponse,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    ResetConfirm,
    ResetRequest,
    TokenPair,
)
from flint.db import after_commit
from flint.errors import problem_responses
from flint.users.api import SESSION, CurrentUser, PrincipalsDep, ProfilesDep, UserProfile
from flint.web import SessionDep

router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(no_store)])

RESET_MESSAGE = "If an account exists for that email, a reset link is on its way."


def _challenge(issued: twofactor.MfaChallenge) -> MfaRequired:
    return MfaRequired(mfa_required=True, mfa_token=issued.mfa_token, expires_in=issued.expires_in)


def _pair(tokens: service.IssuedTokens) -> TokenPair:
    return TokenPair(
        token=tokens.access_token, expires_in=tokens.expires_in, refresh_token=tokens.refresh_token
    )


@router.post(
    "/register",
    dependencies=LOCAL_SIGN_IN,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=problem_responses(400, 403, 409, 422),
)
async def register(body: RegisterRequest, session: SessionDep) -> RegisterResponse:
    user = await service.register(session, body.email, body.password)
    return RegisterResponse(user_id=user.id, email=user.email)


@router.post(
    "/login",
    dependencies=LOCAL_SIGN_IN,
    summary="Sign in with email and password",
    description="Wrong passwords and unknown emails get the same 401. More than 5 failures for "
    "one email from one address, or 20 from one address, within 15 minutes answer 429 with "
    "`Retry-After`. Past 20 failures for one email from anywhere, its attempts wait a doubling "
    "delay (429 with `Retry-After`), except from addresses it signed in from lately. "
    "An account with two-factor sign-in on answers `{mfaRequired: true, mfaToken}` instead of "
    "tokens: send the mfaToken with a code to `/auth/2fa/verify`.",
    responses=problem_responses(400, 401, 403, 422, 429),
)
async def login(
    body: LoginRequest,
    session: SessionDep,
    config: AuthDep,
    throttle: ThrottleDep,
    request: Request,
) -> TokenPair | MfaRequired:
    tokens = await service.login(
        session,
        config,
        throttle,
        email=body.email,
        password=body.password,
        client_ip=client_ip(request),
        device=device(request),
    )
    if isinstance(tokens, twofactor.MfaChallenge):
        return _challenge(tokens)
    return _pair(tokens)


@router.post(
    "/token",
    dependencies=LOCAL_SIGN_IN,
    summary="Sign in (OAuth2 password form, used by the docs' Authorize button)",
    description="`username` is the email address. The docs' Authorize button cannot do "
    "two-factor sign-in: an account with it on gets `{mfaRequired: true, mfaToken}` here, and "
    "signs in through `/auth/login` and `/auth/2fa/verify`.",
    responses=problem_responses(401, 403, 422, 429),
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    config: AuthDep,
    throttle: ThrottleDep,
    request: Request,
) -> OAuth2TokenResponse | MfaRequired:
    tokens = await service.login(
        session,
        config,
        throttle,
        email=form.username,
        password=form.password,
        client_ip=client_ip(request),
        device=device(request),
    )
    if isinstance(tokens, twofactor.MfaChallenge):
        return _challenge(tokens)
    return OAuth2TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post(
    "/refresh",
    dependencies=LOCAL_SIGN_IN,
    summary="Exchange a refresh token for a new pair",
    description="Refresh tokens are single-use. Presented again within 10 seconds of its use "
    "(tabs refreshing at once), a token answers the same new pair; later, presenting it ends "
    "the sign-in it came from: every refresh and access token descended from it.",
    responses=problem_responses(400, 401, 403, 422),
)
async def refresh(
    body: RefreshRequest, session: SessionDep, config: AuthDep, request: Request
) -> TokenPair:
    return _pair(await service.refresh(session, config, body.refresh_token, device(request)))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: end the refresh token's sign-in",
    description="The refresh tokens and the access tokens of that sign-in stop working at once "
    "(and the quote streams opened with them close with 4401); the user's other sign-ins go on.",
    responses=problem_responses(400, 401, 403, 422),
    openapi_extra=SESSION,
)
async def logout(
    body: RefreshRequest, session: SessionDep, config: AuthDep, user: CurrentUser
) -> None:
    await service.logout(session, config, user, body.refresh_token)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out everywhere: end every sign-in of the account",
    description="Every refresh token and access token of the account stops working at once, "
    "on every device and this one too (the quote streams opened with them close with 4401); "
    "sign in again with the password. API keys stay (revoke them at `/api-keys`). An Auth0 "
    "token is Auth0's: it works until it expires.",
    responses=problem_responses(401, 403),
    openapi_extra=SESSION,
)
async def logout_all(session: SessionDep, config: AuthDep, user: CurrentUser) -> None:
    await service.logout_everywhere(session, config, user)


@router.get("/me", summary="The signed-in user", responses=problem_responses(401))
async def me(user: CurrentUser, session: SessionDep, profiles: ProfilesDep) -> UserProfile:
    return await profiles.of(session, user)


@router.post(
    "/change-password",
    dependencies=LOCAL_SIGN_IN,
    summary="Change your password (signed in, knowing the current one)",
    description="Takes the current password and, when two-factor sign-in is on, a current "
    "code or a recovery code (`code`). Every sign-in of the account ends, on every device, "
    "and the answer is a new token pair for this one; a security notice is sent. A wrong "
    "password or code is a 403, and five within 15 minutes answer 429 with `Retry-After`. "
    "409 for an account that signs in with Auth0 (it has no Flint password).",
    responses=problem_responses(400, 401, 403, 409, 422, 429),
    openapi_extra=SESSION,
)
async def change_password(
    body: ChangePassword,
    user: CurrentUser,
    session: SessionDep,
    config: AuthDep,
    two_factor: TwoFactorDep,
    request: Request,
) -> TokenPair:
    tokens = await service.change_password(
        session,
        config,
        two_factor,
        user,
        current=body.current_password,
        new=body.new_password,
        code=body.code,
        device=device(request),
    )
    return _pair(tokens)


@router.post(
    "/reset-password",
    dependencies=LOCAL_SIGN_IN,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for a password-reset email",
    description="Answers the same, in the same time, whether or not the email has an account "
    "(a worker looks it up and sends the email). Each new link makes the earlier ones stop "
    "working. More than 3 requests for one email, or 20 from one address, within an hour "
    "answer 429 with `Retry-After`.",
    responses=problem_responses(400, 403, 422, 429),
)
async def reset_password(
    body: ResetRequest, session: SessionDep, throttle: ResetThrottleDep, request: Request
) -> Message:
    await service.request_password_reset(session, throttle, body.email, client_ip(request))
    return Message(message=RESET_MESSAGE)


@router.post(
    "/reset-password/confirm",
    dependencies=LOCAL_SIGN_IN,
    summary="Set a new password with a reset token",
    description="The token works once within 30 minutes; every session of the account ends.",
    responses=problem_responses(400, 403, 422),
)
async def reset_password_confirm(
    body: ResetConfirm, session: SessionDep, principals: PrincipalsDep
) -> Message:
    user_id = await service.confirm_password_reset(session, body.token, body.new_password)
    after_commit(session, lambda: principals.forget(user_id))
    return Message(message="Your password has been changed. Sign in again.")

"""What the sign-in routes take: the token settings, the login and reset throttles and the
two-factor configuration from the runtime, the caller's address, and the headers that keep
their answers out of caches."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from flint.auth.service import AuthConfig
from flint.auth.sessions import Device
from flint.auth.throttle import LoginThrottle, ResetThrottle
from flint.auth.twofactor import TwoFactorConfig
from flint.errors import Forbidden
from flint.web import SettingsDep, part

AuthDep = Annotated[AuthConfig, Depends(part(AuthConfig))]
ThrottleDep = Annotated[LoginThrottle, Depends(part(LoginThrottle))]
TwoFactorDep = Annotated[TwoFactorConfig, Depends(part(TwoFactorConfig))]
ResetThrottleDep = Annotated[ResetThrottle, Depends(part(ResetThrottle))]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def device(request: Request) -> Device:
    """The device a sign-in is made or used from: its User-Agent and address."""
    return Device.seen(request.headers.get("user-agent"), client_ip(request))


def no_store(response: Response) -> None:
    """Answers of the sign-in routes carry tokens or say who is signed in: no cache or proxy
    may keep them (RFC 6749 section 5.1; `Pragma` for HTTP/1.0 caches)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


class LocalSignInDisabled(Forbidden):
    title, slug = "Local sign-in disabled", "local-sign-in-disabled"


def local_sign_in(settings: SettingsDep) -> None:
    """Routes that sign in with a Flint password or token answer 403 when Auth0 is the only
    sign-in (`FLINT_AUTH0_ONLY`)."""
    if settings.auth0_only:
        raise LocalSignInDisabled(
            "This server signs users in with Auth0 only: sign in with Auth0 and send its access "
            "token as `Authorization: Bearer <token>`."
        )


LOCAL_SIGN_IN = [Depends(local_sign_in)]

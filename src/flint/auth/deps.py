"""What the sign-in routes take from the runtime: the token settings, the login throttle and
the two-factor configuration."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from flint.auth.service import AuthConfig
from flint.auth.throttle import LoginThrottle
from flint.auth.twofactor import TwoFactorConfig
from flint.web import part

AuthDep = Annotated[AuthConfig, Depends(part(AuthConfig))]
ThrottleDep = Annotated[LoginThrottle, Depends(part(LoginThrottle))]
TwoFactorDep = Annotated[TwoFactorConfig, Depends(part(TwoFactorConfig))]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"

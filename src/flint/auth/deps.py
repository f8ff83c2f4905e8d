"""What the sign-in routes take from the runtime: the token settings and the login throttle."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from flint.auth.service import AuthConfig
from flint.auth.throttle import LoginThrottle
from flint.web import part

AuthDep = Annotated[AuthConfig, Depends(part(AuthConfig))]
ThrottleDep = Annotated[LoginThrottle, Depends(part(LoginThrottle))]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"

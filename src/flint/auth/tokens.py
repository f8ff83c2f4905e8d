"""Access tokens: short-lived HS256 JWTs with an allow-listed algorithm and required claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from flint.errors import Unauthorized
from flint.kit.time import utcnow

ALGORITHM = "HS256"
ISSUER = "flint"
ACCESS = "access"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_version: int
    jti: str


class TokenIssuer:
    def __init__(self, secret: str, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl

    def issue(self, user_id: uuid.UUID, token_version: int) -> str:
        now = utcnow()
        claims = {
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
            "typ": ACCESS,
            "iss": ISSUER,
            "ver": token_version,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """Decode and check; any defect is the same 401 so the reason never leaks."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat", "jti", "typ", "iss"]},
                leeway=5,
            )
            if claims.get("typ") != ACCESS:
                raise jwt.InvalidTokenError("not an access token")
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                token_version=int(claims.get("ver", 0)),
                jti=str(claims["jti"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized("The access token is invalid or has expired.") from exc

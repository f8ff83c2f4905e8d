"""Access tokens: short-lived HS256 JWTs with an allow-listed algorithm and required claims."""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from flint.errors import Unauthorized
from flint.kit.time import utcnow

ALGORITHM = "HS256"
ISSUER = "flint"
ACCESS = "access"
LEEWAY_SECONDS = 5
VERIFIED_TOKENS = 4096
"""How many verified tokens each process remembers (a few hundred bytes each)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_version: int | None
    """The user's ``token_version`` when issued; None for a token Flint did not issue (Auth0's),
    which a password reset does not end."""
    jti: str
    session: str | None = None
    """The sign-in the token belongs to (its `fam` claim: the refresh-token family, as hex), so
    ending that sign-in ends its access tokens and no other; None in tokens made without."""


class TokenIssuer:
    def __init__(self, secret: str, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS)(self._decode)

    def issue(
        self, user_id: uuid.UUID, token_version: int, session: uuid.UUID | None = None
    ) -> str:
        now = utcnow()
        claims: dict[str, object] = {
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
            "typ": ACCESS,
            "iss": ISSUER,
            "ver": token_version,
        }
        if session is not None:
            claims["fam"] = session.hex
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """Decode and check; any defect is the same 401 so the reason never leaks.

        A client sends the same token on every request for its whole life, so a token that
        verified once is remembered (bounded LRU, keyed by the whole signed string) and only
        its expiry is checked again; a token that fails is never remembered."""
        try:
            claims, expires = self._verified(token)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized("The access token is invalid or has expired.") from exc
        if time.time() > expires + LEEWAY_SECONDS:
            raise Unauthorized("The access token is invalid or has expired.")
        return claims

    def _decode(self, token: str) -> tuple[AccessClaims, float]:
        claims = jwt.decode(
            token,
            self._secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "jti", "typ", "iss"]},
            leeway=LEEWAY_SECONDS,
        )
        if claims.get("typ") != ACCESS:
            raise jwt.InvalidTokenError("not an access token")
        access = AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            token_version=int(claims.get("ver", 0)),
            jti=str(claims["jti"]),
            session=str(claims["fam"]) if claims.get("fam") is not None else None,
        )
        return access, float(claims["exp"])

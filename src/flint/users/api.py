"""The public face of `flint.users`: what other features may import (the modules behind it
are private to the feature, and `make lint` holds them to that)."""

from flint.users.auth0 import Auth0Verifier
from flint.users.auth0_users import Auth0Users
from flint.users.deps import (
    SECURITY,
    CurrentUser,
    CurrentUserId,
    PrincipalsDep,
    ProfilesDep,
    bearer_session,
    get_current_user_id,
    security_schemes,
)
from flint.users.keys import ApiKeys
from flint.users.models import ClosedAuth0User, User
from flint.users.principals import EndedSessions, Principals
from flint.users.schemas import LinkedAccountSummary, UserProfile
from flint.users.scopes import SESSION, TRADING, Scope, declare_scopes
from flint.users.service import AccountSummaries, Profiles, lock_user
from flint.users.tokens import AccessClaims, TokenIssuer

__all__ = [
    "SECURITY",
    "SESSION",
    "TRADING",
    "AccessClaims",
    "AccountSummaries",
    "ApiKeys",
    "Auth0Users",
    "Auth0Verifier",
    "ClosedAuth0User",
    "CurrentUser",
    "CurrentUserId",
    "EndedSessions",
    "LinkedAccountSummary",
    "Principals",
    "PrincipalsDep",
    "Profiles",
    "ProfilesDep",
    "Scope",
    "TokenIssuer",
    "User",
    "UserProfile",
    "bearer_session",
    "declare_scopes",
    "get_current_user_id",
    "lock_user",
    "security_schemes",
]

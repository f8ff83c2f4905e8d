"""Users: the people, their profiles, and who is calling (the bearer token's user).

The public face other features import; the modules behind it are private to this feature.
"""

from flint.users.deps import CurrentUser, CurrentUserId, PrincipalsDep, ProfilesDep
from flint.users.models import User
from flint.users.principals import Principals
from flint.users.schemas import LinkedAccountSummary, UserProfile
from flint.users.service import AccountSummaries, Profiles
from flint.users.tokens import TokenIssuer

__all__ = [
    "AccountSummaries",
    "CurrentUser",
    "CurrentUserId",
    "LinkedAccountSummary",
    "Principals",
    "PrincipalsDep",
    "Profiles",
    "ProfilesDep",
    "TokenIssuer",
    "User",
    "UserProfile",
]

"""What the account routes take from the runtime, and the caller's account or 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.accounts import reading, service
from flint.accounts.models import LinkedAccount
from flint.users.api import CurrentUserId
from flint.web import SessionDep, part

AccountsDep = Annotated[service.Accounts, Depends(part(service.Accounts))]


async def owned_account(
    session: SessionDep,
    user_id: CurrentUserId,
    account_id: Annotated[uuid.UUID, Path(alias="accountId")],
) -> LinkedAccount:
    """The caller's linked account; anyone else's, or an unlinked one, is 404."""
    return await reading.get_account(session, user_id, account_id)


OwnedAccount = Annotated[LinkedAccount, Depends(owned_account)]

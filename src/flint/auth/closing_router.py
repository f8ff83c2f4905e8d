"""Closing one's own account: ``DELETE /users/me`` (the profile's resource; the rules are
`flint.auth.closing`, since they check the password and the second factor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from flint.auth.closing import Closing, close
from flint.auth.deps import AuthDep, TwoFactorDep
from flint.auth.schemas import CloseAccount
from flint.errors import problem_responses
from flint.users.api import SESSION, CurrentUser
from flint.web import SessionDep, part

router = APIRouter(prefix="/users", tags=["users"])

ClosingDep = Annotated[Closing, Depends(part(Closing))]


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Close your account and delete everything Flint keeps of you",
    description="Takes your email address typed out, your password (an account that signs "
    "in with Auth0 has none) and, when two-factor sign-in is on, a current code or a recovery "
    "code. Your links are revoked at the bank or broker and your registration there deleted, "
    "your Stripe subscription ends at once (Stripe keeps its invoices), and every portfolio, "
    "transaction, trade, alert, watchlist item, report, notification and API key is deleted "
    "with the account; every sign-in ends, the quote streams close with 4401, and an email "
    "confirms it. Orders still open at your broker stay open there. It cannot be undone. A "
    "wrong password or code is a 403 (five within 15 minutes answer 429); 503, and nothing "
    "changed here, when a provider or Stripe cannot be reached: ask again.",
    responses=problem_responses(400, 401, 403, 422, 429, 503),
    openapi_extra=SESSION,
)
async def close_account(
    body: CloseAccount,
    user: CurrentUser,
    session: SessionDep,
    closing: ClosingDep,
    config: AuthDep,
    two_factor: TwoFactorDep,
) -> None:
    await close(
        session,
        closing,
        config,
        two_factor,
        user,
        email=body.email,
        password=body.password,
        code=body.code,
    )

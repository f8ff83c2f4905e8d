from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, status

from flint.accounts import reading, service, webhooks
from flint.accounts.deps import AccountsDep, OwnedAccount
from flint.accounts.models import AccountHolding, AccountTransaction, LinkedAccount
from flint.accounts.schemas import (
    AccountDetail,
    Accounts,
    AccountSummary,
    Balances,
    ConnectPortal,
    ConnectRequest,
    HoldingOut,
    LinkRequest,
    LinkResult,
    SyncQueued,
    TransactionOut,
)
from flint.billing.api import PlansDep
from flint.errors import problem_responses
from flint.users.api import CurrentUser, CurrentUserId
from flint.web import SessionDep

router = APIRouter(prefix="/accounts", tags=["accounts"])


def summary(account: LinkedAccount) -> AccountSummary:
    return AccountSummary(
        account_id=account.id,
        provider=account.provider,
        name=account.name,
        type=account.type,
        currency=account.currency,
        institution=account.institution,
        mask=account.mask,
        can_trade=account.can_trade,
        balances=Balances(
            current=account.balance_current,
            available=account.balance_available,
            cash=account.balance_cash,
            buying_power=account.balance_buying_power,
        ),
        last_synced_at=account.last_synced_at,
        sync_error=account.sync_error,
    )


def _holding(row: AccountHolding) -> HoldingOut:
    value: Decimal | None = row.quantity * row.price if row.price is not None else None
    return HoldingOut(
        symbol=row.symbol,
        name=row.name,
        quantity=row.quantity,
        price=row.price,
        value=value,
        cost_basis=row.cost_basis,
        currency=row.currency,
    )


def _transaction(row: AccountTransaction) -> TransactionOut:
    return TransactionOut(
        transaction_id=row.id,
        date=row.date,
        amount=row.amount,
        currency=row.currency,
        description=row.description,
        status=row.status,
        category=row.category,
        type=row.type,
        symbol=row.symbol,
        quantity=row.quantity,
        price=row.price,
    )


@router.post(
    "/connect",
    summary="Start linking at a provider with a hosted portal (SnapTrade)",
    description="Registers you at the provider when needed and returns the portal's URL. "
    "When the portal sends you back with an authorization id, call `POST /accounts/link` "
    "with it as `authCode`. With `reconnect` (an account of a broken connection) the portal "
    "repairs that connection instead: nothing to link afterwards; another user's account is 404.",
    responses=problem_responses(400, 401, 404, 422, 503),
)
async def connect(
    body: ConnectRequest, user: CurrentUser, session: SessionDep, ctx: AccountsDep
) -> ConnectPortal:
    if body.reconnect is not None:
        url = await webhooks.reconnect_portal(
            session, ctx, user.id, body.provider, body.redirect_url, body.reconnect
        )
    else:
        url = await service.connect_url(session, ctx, user.id, body.provider, body.redirect_url)
    return ConnectPortal(provider=body.provider, url=url)


@router.post(
    "/link",
    status_code=status.HTTP_201_CREATED,
    summary="Link accounts with what the institution gave back",
    description="The sandbox links any code: a brokerage account ($100,000 cash unless the "
    "code is like `cash-25000`, a few positions), a checking and a savings account with a "
    "year of transactions. Codes starting with `refuse` are refused, to try that path. A new "
    "connection beyond your plan's (`GET /billing/subscription`) is 403 `/plan-limit`; "
    "linking accounts you hold again (fresh credentials) takes none.",
    responses=problem_responses(400, 401, 403, 422, 503),
)
async def link(
    body: LinkRequest, user: CurrentUser, session: SessionDep, ctx: AccountsDep, plans: PlansDep
) -> LinkResult:
    accounts = await service.link(session, ctx, plans, user.id, body.provider, body.auth_code)
    return LinkResult(
        account_id=accounts[0].id,
        provider=body.provider,
        accounts=[summary(account) for account in accounts],
    )


@router.get("", summary="Your linked accounts", responses=problem_responses(401))
async def list_accounts(user_id: CurrentUserId, session: SessionDep) -> Accounts:
    return Accounts(accounts=[summary(a) for a in await reading.list_accounts(session, user_id)])


@router.get(
    "/{accountId}",
    summary="One account: balances, holdings and a page of transactions (newest first)",
    responses=problem_responses(401, 404, 422),
)
async def read_account(
    account: OwnedAccount,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AccountDetail:
    rows, next_cursor = await reading.transactions_page(session, account, limit, cursor)
    held = await reading.holdings(session, account)
    return AccountDetail(
        **summary(account).model_dump(),
        holdings=[_holding(row) for row in held],
        transactions=[_transaction(row) for row in rows],
        next_cursor=next_cursor,
    )


@router.post(
    "/{accountId}/sync",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sync the account (and the others of its link) from the provider, in the background",
    responses=problem_responses(401, 404, 422),
)
async def sync(account: OwnedAccount, session: SessionDep) -> SyncQueued:
    await service.request_sync(session, account)
    return SyncQueued(account_id=account.id)


@router.delete(
    "/{accountId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlink the account (with the others of its link)",
    description="Revokes the link at the provider where it can, deletes the credentials, "
    "holdings and transactions; trades placed through it stay in your history. 503 (and "
    "nothing changed) when the provider cannot be reached to revoke it.",
    responses=problem_responses(401, 404, 422, 503),
)
async def unlink(account: OwnedAccount, session: SessionDep, ctx: AccountsDep) -> None:
    await service.unlink(session, ctx, account)

"""The caller's portfolio or 404 (the one place the portfolio routes check ownership), and
what the performance routes take from the runtime."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.portfolio import service
from flint.portfolio.computing import PerformanceService
from flint.portfolio.models import Portfolio
from flint.users.api import CurrentUserId
from flint.web import ReadSessionDep, SessionDep, part

PortfolioId = Annotated[uuid.UUID, Path(alias="portfolioId")]


async def owned_portfolio(
    session: SessionDep, user_id: CurrentUserId, portfolio_id: PortfolioId
) -> Portfolio:
    return await service.get(session, user_id, portfolio_id)


async def readable_portfolio(
    session: ReadSessionDep, user_id: CurrentUserId, portfolio_id: PortfolioId
) -> Portfolio:
    """For routes that only read: no write transaction is held while they work (a performance
    request stores the closes it lacks in a short transaction of its own)."""
    return await service.get(session, user_id, portfolio_id)


OwnedPortfolio = Annotated[Portfolio, Depends(owned_portfolio)]
ReadablePortfolio = Annotated[Portfolio, Depends(readable_portfolio)]
PerformanceDep = Annotated[PerformanceService, Depends(part(PerformanceService))]

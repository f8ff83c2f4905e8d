"""Bringing a Ghostfolio export in: one route of its own (the portfolio router is full)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from flint.billing.api import PlansDep
from flint.errors import problem_responses
from flint.market.api import MarketDep
from flint.portfolio import ghostfolio_apply
from flint.portfolio.ghostfolio import Mode
from flint.portfolio.ghostfolio_document import FILE_SCHEMA
from flint.portfolio.ghostfolio_schemas import GhostfolioImport
from flint.portfolio.import_router import IMPORT_MAX_BYTES
from flint.portfolio.schemas import BaseCurrency
from flint.users.api import CurrentUserId
from flint.web import SessionDep, sent_file, upload_body

router = APIRouter(prefix="/portfolio", tags=["portfolio"])

GHOSTFOLIO_PATH = re.compile(r"/api(?:/v1)?/portfolio/import/ghostfolio")
"""Takes files up to 5 MiB, like the CSV import (the body-size middleware's override)."""

DESCRIPTION = """Ghostfolio's export file (its Export button's JSON: `meta`, `accounts`,
`activities`, and in newer versions `assetProfiles` with `marketData`, `platforms`, `tags`)
becomes one portfolio per account (named after it, in its currency), and one more for the
activities without an account; with `portfolios=one`, a single portfolio `name` in
`baseCurrency` (default: the file's user currency). All or nothing: an activity that cannot be
imported is 422 naming it (`activities[N].field`), and nothing is created.

BUY, SELL as such; DIVIDEND and INTEREST as amounts of quantity x unitPrice (a fee on them as
a fee of its own); FEE as a fee of quantity x unitPrice + fee (Ghostfolio's form has the
amount in `fee`; a FEE commented `flint:tax` is a tax); ITEM and MANUAL assets as custom
assets (`GF:NAME`; `GF_MY_HOUSE`, as Flint's own export writes `MY:HOUSE`, back as
`MY:HOUSE`), priced by their `marketData` and their trades' unit prices; other data sources
as listed symbols Flint's market knows. A LIABILITY, tags, platforms and comments are not
imported and are listed in `notImported`. Each account balance becomes a deposit or withdrawal
on its day, so the cash equals the account's balance then (and ends at the last one). Files up
to 5 MiB, sent as the body or as a multipart upload's part `file` (`curl -F
file=@ghostfolio-export.json`). More portfolios than your plan allows (`GET
/billing/subscription`): 403 `/plan-limit`, nothing created.

Ghostfolio's CSV import file is taken too (its columns by Ghostfolio's names: `Date`, `Code`,
`DataSource`, `Currency`, `Price`, `Quantity`, `Action`, `Fee`, `Note`, ...): each row an
activity as above, problems named by line and column (`line 7.Price`).

Importing again (the same file, or a newer export of the same Ghostfolio accounts) adds to the
portfolios the earlier import made (by Ghostfolio account id, or with `portfolios=one` by
`name`) only the activities and balances they lack, and the custom assets' new prices: 200
when nothing was new. See docs/api.md ("Ghostfolio migration")."""


@router.post(
    "/import/ghostfolio",
    status_code=status.HTTP_201_CREATED,
    summary="Import a Ghostfolio export: portfolios, ledgers and custom assets (all or none)",
    description=DESCRIPTION,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": FILE_SCHEMA},
                "text/csv": {"schema": {"type": "string"}},
            }
            | upload_body("The export file (JSON), or Ghostfolio's CSV."),
        }
    },
    responses={
        200: {"model": GhostfolioImport, "description": "Everything had been imported before"},
        **problem_responses(400, 401, 403, 413, 415, 422),
    },
)
async def import_ghostfolio(
    request: Request,
    response: Response,
    user_id: CurrentUserId,
    session: SessionDep,
    market: MarketDep,
    plans: PlansDep,
    portfolios: Annotated[
        Mode, Query(description="`each`: a portfolio per account; `one`: one for all.")
    ] = "each",
    name: Annotated[
        str, Query(min_length=1, max_length=150, description="The portfolio's name (`one`).")
    ] = "Ghostfolio",
    base_currency: Annotated[
        BaseCurrency | None, Query(alias="baseCurrency", description="With `one`.")
    ] = None,
) -> GhostfolioImport:
    done = await ghostfolio_apply.import_file(
        session,
        market,
        plans,
        user_id,
        await sent_file(request, IMPORT_MAX_BYTES),
        mode=portfolios,
        name=name,
        base=base_currency,
    )
    if not ghostfolio_apply.added_anything(done):
        response.status_code = status.HTTP_200_OK
    return done

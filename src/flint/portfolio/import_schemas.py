"""What the background import's routes answer: a job, its outcome, a portfolio's jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from flint.errors import Problem
from flint.kit.schema import ApiModel

ImportStatus = Literal["queued", "running", "done", "failed"]


class ImportSummary(ApiModel):
    """What a finished import added and skipped (the counts of the import's 201; the rows are
    in the ledger, `GET /portfolio/{portfolioId}/transactions`)."""

    preset: str = Field(description="The preset that read the file.", examples=["trading212"])
    added: int = Field(description="Transactions added.", examples=[98000])
    skipped: int = Field(
        description="Rows not added: the portfolio had imported them before.", examples=[2000]
    )
    imported: dict[str, int] = Field(
        description="How many transactions of each type were added.",
        examples=[{"buy": 52000, "sell": 30000, "dividend": 16000}],
    )


class ImportJobOut(ApiModel):
    job_id: uuid.UUID = Field(examples=["5b0e2c7a-9d1f-4e3b-8a6c-1f2e3d4c5b6a"])
    portfolio_id: uuid.UUID = Field(examples=["a3c5e7f9-1b2d-4f6a-8c0e-2b4d6f8a0c1e"])
    status: ImportStatus = Field(
        description="`queued`, `running`, then `done` (see `result`) or `failed` (see "
        "`problem`: nothing was added).",
        examples=["done"],
    )
    preset: str = Field(description="As asked (`auto` included).", examples=["auto"])
    on_duplicate: Literal["skip", "fail"] = Field(examples=["skip"])
    size_bytes: int = Field(description="The file's size.", examples=[3475859])
    created_at: datetime = Field(examples=["2026-12-04T12:00:00Z"])
    started_at: datetime | None = Field(None, examples=["2026-12-04T12:00:01Z"])
    finished_at: datetime | None = Field(None, examples=["2026-12-04T12:00:04Z"])
    result: ImportSummary | None = Field(None, description="Once `done`.")
    problem: Problem | None = Field(
        None,
        description="Once `failed`: the problem document the import would have answered (a "
        "422 naming every bad row, as for a file imported at once).",
        examples=[
            None,
            {
                "type": "/problems/validation-error",
                "title": "Validation failed",
                "status": 422,
                "detail": "The file was not imported: line 7.price: not a number: 'abc'",
                "errors": [
                    {
                        "field": "line 7.price",
                        "message": "not a number: 'abc'",
                        "type": "value_error",
                    }
                ],
            },
        ],
    )


class ImportJobs(ApiModel):
    imports: list[ImportJobOut] = Field(description="Newest first, the last 50.")

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from flint.kit.schema import ApiModel, RequestModel
from flint.kit.symbols import Symbol

ReportType = Literal["portfolio_summary", "performance", "transactions", "tax_lots"]
ReportFormat = Literal["pdf", "html", "csv"]
ReportStatus = Literal["queued", "running", "completed", "failed"]


class ReportIn(RequestModel):
    type: ReportType = Field(description="What the report is about.")
    portfolio_id: uuid.UUID
    start: date | None = Field(
        None, description="First day (default: the portfolio's first transaction)."
    )
    end: date | None = Field(None, description="Last day, not in the future (default: today).")
    format: ReportFormat = Field(
        description="`pdf` (a statement with figures, tables and charts), `html` (the same, "
        "as one self-contained page) or `csv` (the report's main table)."
    )
    benchmark: Symbol = Field("SPY", description="The benchmark the performance is set against.")


class ReportOut(ApiModel):
    report_id: uuid.UUID
    type: ReportType
    format: ReportFormat
    status: ReportStatus
    reason: str | None = Field(None, description="Why the report failed.")
    portfolio_id: uuid.UUID | None = Field(
        None, description="Null once the portfolio has been deleted."
    )
    portfolio_name: str
    start: date | None = None
    end: date
    benchmark: str
    filename: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    download_url: str | None = Field(None, description="Where to fetch the file once completed.")
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None


class Reports(ApiModel):
    reports: list[ReportOut]

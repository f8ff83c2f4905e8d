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
    report_id: uuid.UUID = Field(examples=["1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"])
    type: ReportType
    format: ReportFormat
    status: ReportStatus
    reason: str | None = Field(None, description="Why the report failed.", examples=[None])
    portfolio_id: uuid.UUID | None = Field(
        None,
        description="Null once the portfolio has been deleted.",
        examples=["8f14e45f-ceea-4e7a-9b3d-2c1a6b7e9d10"],
    )
    portfolio_name: str = Field(examples=["Retirement"])
    start: date | None = Field(None, examples=["2024-01-01"])
    end: date = Field(examples=["2024-05-31"])
    benchmark: str = Field(examples=["SPY"])
    filename: str | None = Field(None, examples=["retirement-performance-2024-05-31.pdf"])
    content_type: str | None = Field(None, examples=["application/pdf"])
    size_bytes: int | None = Field(None, examples=[48213])
    download_url: str | None = Field(
        None,
        description="Where to fetch the file once completed.",
        examples=[
            "https://flint.example.com/api/v1/reports/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/download"
        ],
    )
    created_at: datetime = Field(examples=["2024-06-01T06:00:00Z"])
    started_at: datetime | None = Field(None, examples=["2024-06-01T06:00:02Z"])
    completed_at: datetime | None = Field(None, examples=["2024-06-01T06:00:11Z"])


class Reports(ApiModel):
    reports: list[ReportOut]

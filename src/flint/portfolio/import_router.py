"""Importing a file into a portfolio's ledger: at once (a small file: 201 with the rows) or in
the background (a large one, or when asked: 202 with a job to poll), and the jobs."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from flint.errors import problem_responses
from flint.market.api import MarketDep
from flint.portfolio import fingerprints, import_jobs, imports
from flint.portfolio.deps import OwnedPortfolio, ReadablePortfolio
from flint.portfolio.import_schemas import ImportJobOut, ImportJobs
from flint.portfolio.imports import flint_csv
from flint.portfolio.models import ImportJob
from flint.portfolio.router import LEDGER_RULES, transaction_out
from flint.portfolio.schemas import ImportResult
from flint.web import ReadSessionDep, SessionDep, sent_file, upload_body

router = APIRouter(prefix="/portfolio", tags=["portfolio"])

IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_PATH = re.compile(r"/api(?:/v1)?/portfolio/[^/]+/import")
"""The import route takes files up to 5 MiB (the body-size middleware's override)."""
IMPORT_MEDIA_TYPES = (
    "text/csv",
    "application/x-ofx",
    "application/vnd.intu.qfx",
    "application/xml",
)
"""What the import's body may be sent as (it is read by its ``preset``, whatever the type)."""
RESPOND_ASYNC = "respond-async"

DUPLICATES = (
    "A row imported into this portfolio before (by the source's own transaction id where the "
    "format has one, else by its date, symbol, type, quantity, price, fee, amount and currency; "
    "the k-th of a file's equal rows as such) is skipped and counted in `skipped`; with "
    "`onDuplicate=fail` the file is refused (422 naming each such row: `already imported on "
    "<date>`). A transaction you deleted or changed after importing it is not imported again; "
    "rows entered by hand are not matched. 201 with what was added; 200 when every row had been "
    "imported before (nothing added)."
)
BACKGROUND = (
    f"A file over {import_jobs.BACKGROUND_BYTES // 1024} KiB, or any file sent with `Prefer: "
    f"{RESPOND_ASYNC}`, is imported in the background: 202 at once with the job (`Location`: "
    "`/api/v1/portfolio/{portfolioId}/imports/{jobId}`, `Preference-Applied` when asked); poll "
    "it until it is `done` (`result`: the counts) or `failed` (`problem`: the 422 the file "
    "would have had, every bad row named; nothing added). The same rules apply, all rows or none."
)


def job_out(job: ImportJob) -> ImportJobOut:
    return ImportJobOut.model_validate(
        {
            "job_id": job.id,
            "portfolio_id": job.portfolio_id,
            "status": job.status,
            "preset": job.preset,
            "on_duplicate": job.on_duplicate,
            "size_bytes": job.size_bytes,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "result": job.result,
            "problem": job.problem,
        }
    )


def _location(job: ImportJob) -> str:
    return f"/api/v1/portfolio/{job.portfolio_id}/imports/{job.id}"


def wants_async(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header (RFC 7240: comma-separated, parameters after ``;``) asks
    for ``respond-async``."""
    if not prefer:
        return False
    return any(part.split(";", 1)[0].strip().lower() == RESPOND_ASYNC for part in prefer.split(","))


@router.post(
    "/{portfolioId}/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    summary="Import transactions from a file (all rows or none)",
    description="The file is read by its `preset`: "
    + "; ".join(f"`{p.name}`, {p.title}" for p in imports.PRESETS.values())
    + "; `auto` picks the first that recognises the file.\n\n"
    + (flint_csv.__doc__ or "")
    + "\n\nSend the file as the body (`curl --data-binary @trades.csv`, any media type but a "
    "form's), or as a multipart upload's part `file` (`curl -F file=@trades.csv`)."
    + "\n\nEvery bad row is named (`line N`, or the element: `BANKTRANLIST/STMTTRN[5].TRNAMT`). "
    "Files up to 5 MiB. The rows are held to the "
    "rules of `POST /portfolio/{portfolioId}/transactions`: "
    + LEDGER_RULES
    + "\n\n"
    + DUPLICATES
    + "\n\n"
    + BACKGROUND,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media: {"schema": {"type": "string"}} for media in IMPORT_MEDIA_TYPES}
            | upload_body("The file, read by its `preset`."),
        }
    },
    responses={
        200: {"model": ImportResult, "description": "Every row had been imported before"},
        202: {
            "model": ImportJobOut,
            "description": "Imported in the background: poll the job (`Location`)",
        },
        **problem_responses(400, 401, 404, 413, 415, 422),
    },
)
async def import_file(
    portfolio: OwnedPortfolio,
    request: Request,
    response: Response,
    session: SessionDep,
    market: MarketDep,
    preset: Annotated[
        imports.PresetName, Query(description="The file's format (`auto`: recognised).")
    ] = "flint",
    on_duplicate: Annotated[
        fingerprints.OnDuplicate,
        Query(alias="onDuplicate", description="Rows imported before: skipped, or 422."),
    ] = "skip",
    prefer: Annotated[
        str | None,
        Header(description=f"`{RESPOND_ASYNC}`: import in the background whatever the size."),
    ] = None,
) -> ImportResult | JSONResponse:
    data = await sent_file(request, IMPORT_MAX_BYTES)
    asked = wants_async(prefer)
    if asked or len(data) > import_jobs.BACKGROUND_BYTES:
        job = await import_jobs.create(session, portfolio, data, preset, on_duplicate)
        headers = {"Location": _location(job)}
        if asked:
            headers["Preference-Applied"] = RESPOND_ASYNC
        body = job_out(job).model_dump(mode="json", by_alias=True)
        return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED, headers=headers)
    try:  # CPU work (a quarter of a second at most here): in a thread, the loop keeps answering
        parsed = await anyio.to_thread.run_sync(imports.parse, data, preset)
    except imports.ImportRefused as exc:
        raise import_jobs.refused(exc) from exc
    done = await fingerprints.import_rows(
        session, market, portfolio, parsed, parsed.preset, on_duplicate
    )
    if not done.created:
        response.status_code = status.HTTP_200_OK
    return ImportResult(
        transactions=[transaction_out(e) for e in done.created],
        skipped=done.skipped,
        imported=dict(Counter(e.type for e in done.created)),
    )


@router.get(
    "/{portfolioId}/imports",
    summary="The portfolio's imports in the background, newest first",
    responses=problem_responses(401, 404, 422),
)
async def list_imports(portfolio: ReadablePortfolio, session: ReadSessionDep) -> ImportJobs:
    jobs = await import_jobs.recent(session, portfolio)
    return ImportJobs(imports=[job_out(job) for job in jobs])


@router.get(
    "/{portfolioId}/imports/{jobId}",
    summary="An import in the background: its status, then what it added or why it failed",
    responses=problem_responses(401, 404, 422),
)
async def read_import(
    portfolio: ReadablePortfolio, jobId: uuid.UUID, session: ReadSessionDep
) -> ImportJobOut:
    return job_out(await import_jobs.get(session, portfolio, jobId))

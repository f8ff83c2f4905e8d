from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from flint.billing.api import PlansDep
from flint.config import Settings
from flint.errors import problem_responses
from flint.market.api import MarketDep
from flint.reports import content, service
from flint.reports.deps import OwnedReport, StoreDep
from flint.reports.models import Report
from flint.reports.schemas import ReportIn, ReportOut, Reports
from flint.users.api import CurrentUserId
from flint.web import SessionDep, SettingsDep

router = APIRouter(prefix="/reports", tags=["reports"])


def report_out(settings: Settings, report: Report) -> ReportOut:
    return ReportOut.model_validate(
        {
            "report_id": report.id,
            "type": report.type,
            "format": report.format,
            "status": report.status,
            "reason": report.reason,
            "portfolio_id": report.portfolio_id,
            "portfolio_name": report.portfolio_name,
            "start": report.start,
            "end": report.end,
            "benchmark": report.benchmark,
            "filename": report.filename,
            "content_type": report.content_type,
            "size_bytes": report.size_bytes,
            "download_url": service.download_url(settings, report),
            "created_at": report.created_at,
            "started_at": report.started_at,
            "completed_at": report.completed_at,
        }
    )


@router.post(
    "/",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Request a report; a worker renders it",
    description="Answers 202 with the report `queued`; poll `GET /reports/{reportId}` until it "
    "is `completed` (then download it) or `failed` (see `reason`). The owner is emailed when "
    "it is ready. A PDF beyond your plan's (`GET /billing/subscription`; the free plan has "
    "none, CSV and HTML are not limited) is 403 `/plan-limit`.\n\n"
    + (content.__doc__ or "").split("\n\n", 2)[-1],
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def request_report(
    body: ReportIn,
    user_id: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
    market: MarketDep,
    plans: PlansDep,
    response: Response,
) -> ReportOut:
    report = await service.request(session, market, plans, user_id, body)
    response.headers["Location"] = f"/api/v1/reports/{report.id}"
    return report_out(settings, report)


@router.get(
    "/user/{userId}",
    summary="A user's reports, newest first (only your own)",
    responses=problem_responses(401, 404, 422),
)
async def list_reports(
    userId: uuid.UUID,
    caller: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
) -> Reports:
    rows = await service.list_for(session, caller, userId)
    return Reports(reports=[report_out(settings, row) for row in rows])


@router.get(
    "/{reportId}",
    summary="A report's status and metadata, with its download URL once completed",
    responses=problem_responses(401, 404, 422),
)
async def read(report: OwnedReport, settings: SettingsDep) -> ReportOut:
    return report_out(settings, report)


@router.get(
    "/{reportId}/download",
    summary="The report's file (PDF, HTML or CSV)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/pdf": {}, "text/html": {}, "text/csv": {}},
            "description": "The file, as an attachment",
        },
        **problem_responses(401, 404, 409, 422),
    },
)
async def download(report: OwnedReport, store: StoreDep) -> StreamingResponse:
    chunks = await service.download(store, report)
    headers = {"Content-Disposition": f'attachment; filename="{report.filename}"'}
    if report.size_bytes is not None:
        headers["Content-Length"] = str(report.size_bytes)
    return StreamingResponse(chunks, media_type=report.content_type, headers=headers)


@router.delete(
    "/{reportId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a report and its file",
    responses=problem_responses(401, 404, 422),
)
async def delete(report: OwnedReport, session: SessionDep, store: StoreDep) -> None:
    await service.remove(session, store, report)

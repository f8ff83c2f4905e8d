"""The caller's report or 404, and what the report routes take from the runtime."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.reports import service
from flint.reports.models import Report
from flint.reports.storage import ReportStore
from flint.users.api import CurrentUserId
from flint.web import SessionDep, part


async def owned_report(
    reportId: Annotated[uuid.UUID, Path()],
    user_id: CurrentUserId,
    session: SessionDep,
) -> Report:
    return await service.get(session, user_id, reportId)


OwnedReport = Annotated[Report, Depends(owned_report)]
StoreDep = Annotated[ReportStore, Depends(part(ReportStore))]

"""The caller's report or 404, and the report store."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.db import SessionDep
from flint.deps import CurrentUserId, RuntimeDep
from flint.reports import service
from flint.reports.models import Report
from flint.reports.storage import ReportStore, build_store


async def owned_report(
    reportId: Annotated[uuid.UUID, Path()],
    user_id: CurrentUserId,
    session: SessionDep,
) -> Report:
    return await service.get(session, user_id, reportId)


async def get_store(runtime: RuntimeDep) -> ReportStore:
    return build_store(runtime.settings)


OwnedReport = Annotated[Report, Depends(owned_report)]
StoreDep = Annotated[ReportStore, Depends(get_store)]

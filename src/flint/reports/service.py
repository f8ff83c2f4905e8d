"""Reports: requested in the API, rendered by a worker, kept in the report store.

Lifecycle: ``queued`` (the row is committed, then the render job is published) → ``running``
(a worker took it) → ``completed`` (the file is stored; its owner is told) or ``failed`` (with
the reason). The worker works in short transactions: mark running; gather the figures; render
and store with no transaction open (a long SQLite write lock would stall the API); record the
result. Every step is safe to repeat: a completed or failed report is left alone, and a second
rendering overwrites the same key with the same document.

Errors: `ReportFailed` is permanent (the portfolio is gone, the period is empty) and fails the
report at once; `TRANSIENT` errors (the database or market data unreachable, the store's disk)
are retried by the task a few times with backoff before the report fails.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import anyio
import sqlalchemy.exc
import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from flint import jobs
from flint.analytics import track
from flint.billing.api import Limit, Plans
from flint.config import Settings
from flint.db import after_commit
from flint.errors import (
    Conflict,
    FlintError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    field_error,
)
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError
from flint.market.api import MarketData
from flint.notifications.api import NotificationKind, notify
from flint.portfolio.api import (
    Portfolio,
    Window,
    get_portfolio,
    inputs,
    ledger,
    performance_figures,
)
from flint.reports import content
from flint.reports.models import Report
from flint.reports.schemas import ReportIn
from flint.reports.storage import ReportStore
from flint.users.api import User

log = structlog.get_logger(__name__)

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
FINAL = ("completed", "failed")
MAX_ATTEMPTS = 8
RENDER = "flint.reports.render"
"""Deliveries of one report's job before it fails (a job that keeps killing its worker)."""
TRANSIENT: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    ProviderError,
    ServiceUnavailable,
    OSError,
)
"""Failures worth another try: a database hiccup, market data or the store's disk unavailable."""


class ReportFailed(Exception):
    """A report that cannot be made, whatever the number of tries; ``reason`` is for its owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RenderContext:
    settings: Settings
    market: MarketData
    store: ReportStore


# --- the API side -------------------------------------------------------------------------


async def request(
    session: AsyncSession,
    market: MarketData,
    plans: Plans,
    user_id: uuid.UUID,
    body: ReportIn,
) -> Report:
    """Check the request (422 naming each bad field; 404 for a portfolio not the caller's;
    403 for a PDF beyond the plan's), write the report ``queued`` and publish its render job
    after the commit."""
    today = utcnow().date()
    end = body.end or today
    problems: list[tuple[str, str]] = []
    if end > today:
        problems.append(("body.end", f"{end} is in the future (today is {today})"))
    if body.start is not None and body.start > end:
        problems.append(("body.start", f"start {body.start} is after end {end}"))
    if market.instrument(body.benchmark) is None:
        problems.append(("body.benchmark", f"unknown symbol {body.benchmark}"))
    if problems:
        raise ValidationFailed(
            "; ".join(f"{where}: {why}" for where, why in problems),
            errors=[field_error(where, why) for where, why in problems],
        )
    portfolio = await get_portfolio(session, user_id, body.portfolio_id)
    if body.format == "pdf":
        await plans.enforce(session, user_id, Limit.PDF_REPORTS)
    report = Report(
        user_id=user_id,
        portfolio_id=portfolio.id,
        portfolio_name=portfolio.name,
        type=body.type,
        format=body.format,
        start=body.start,
        end=end,
        benchmark=body.benchmark,
        status="queued",
    )
    session.add(report)
    await session.flush()
    jobs.enqueue(session, RENDER, str(report.id))
    return report


async def count_pdf_reports(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(Report.user_id == user_id, Report.format == "pdf")
    return int(await session.scalar(stmt) or 0)


async def get(session: AsyncSession, user_id: uuid.UUID, report_id: uuid.UUID) -> Report:
    report = await session.get(Report, report_id)
    if report is None or report.user_id != user_id:
        raise NotFound(f"No report {report_id}.")
    return report


async def list_for(session: AsyncSession, caller: uuid.UUID, user_id: uuid.UUID) -> list[Report]:
    """The user's reports, newest first; only the user may list them (404 for anyone else)."""
    if user_id != caller:
        raise NotFound(f"No reports for user {user_id}.")
    stmt = (
        select(Report)
        .where(Report.user_id == user_id)
        .order_by(Report.created_at.desc(), Report.id.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def remove(session: AsyncSession, store: ReportStore, report: Report) -> None:
    """Delete the row now and the file once that is committed (a worker still rendering it
    finds the row gone and drops its file)."""
    key = report.storage_key
    await session.delete(report)
    await session.flush()
    if key is not None:
        after_commit(session, lambda: store.delete(key))


async def let_go(session: AsyncSession, store: ReportStore, user_id: uuid.UUID) -> None:
    """Before the user is deleted (their report rows go with them): the files of their
    reports, removed once that is committed."""
    keys = await session.scalars(
        select(Report.storage_key).where(Report.user_id == user_id, Report.storage_key.is_not(None))
    )
    stored = [key for key in keys.all() if key is not None]

    async def remove() -> None:
        for key in stored:
            await store.delete(key)

    if stored:
        after_commit(session, remove)


async def download(store: ReportStore, report: Report) -> AsyncIterator[bytes]:
    """The stored file's bytes: 409 before the report is completed, 404 if the file is gone.
    Checked before streaming starts, so the answer can still be a problem document."""
    if report.status != "completed" or report.storage_key is None:
        raise Conflict(
            f"Report {report.id} is {report.status}"
            + (f" ({report.reason})" if report.reason else "")
            + "; there is nothing to download."
            + (" Poll it until it is completed." if report.status not in FINAL else "")
        )
    if not await store.exists(report.storage_key):
        raise NotFound(f"The file of report {report.id} is no longer stored.")
    return store.open(report.storage_key)


def download_url(settings: Settings, report: Report) -> str | None:
    if report.status != "completed":
        return None
    return f"{settings.resolved_public_url}/api/v1/reports/{report.id}/download"


def filename(report: Report) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", report.portfolio_name.lower()).strip("-")[:60] or "portfolio"
    return f"{slug}-{report.type.replace('_', '-')}-{report.end.isoformat()}.{report.format}"


# --- the worker side ----------------------------------------------------------------------


async def _locked(session: AsyncSession, report_id: uuid.UUID) -> Report | None:
    stmt = select(Report).where(Report.id == report_id).execution_options(populate_existing=True)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def begin(session: AsyncSession, report_id: uuid.UUID) -> str:
    """Mark the report running; returns its status (``running`` means: go on; ``missing``,
    ``completed`` and ``failed`` mean there is nothing to do)."""
    report = await _locked(session, report_id)
    if report is None:
        return "missing"
    if report.status in FINAL:
        return report.status
    now = utcnow()
    if report.attempts >= MAX_ATTEMPTS:
        report.status = "failed"
        report.reason = f"The report could not be made in {report.attempts} attempts."
        report.updated_at = now
        await session.flush()
        return report.status
    report.status = "running"
    report.attempts += 1
    report.started_at = report.started_at or now
    report.updated_at = now
    await session.flush()
    return report.status


@dataclass(frozen=True)
class Prepared:
    """A report ready to render: what it shows, its format and where it will be stored."""

    material: content.Material
    format: str
    key: str


@dataclass(frozen=True)
class Stored:
    key: str
    size: int


async def gather(session: AsyncSession, ctx: RenderContext, report_id: uuid.UUID) -> Prepared:
    """The figures the report shows, from the portfolio feature (raises ReportFailed)."""
    report = await session.get(Report, report_id)
    if report is None:
        raise ReportFailed("The report was deleted.")
    portfolio = await session.get(Portfolio, report.portfolio_id) if report.portfolio_id else None
    if portfolio is None:
        raise ReportFailed("The portfolio was deleted after the report was requested.")
    entries = await ledger(session, portfolio.id)
    if not any(entry.date <= report.end for entry in entries):
        raise ReportFailed(
            f"The portfolio has no transactions on or before {report.end}: there is nothing "
            "to report for this period."
        )
    window = Window(report.start, report.end, report.benchmark, ctx.settings.risk_free_rate)
    try:
        got = await inputs(session, ctx.market, portfolio, entries, window)
    except (ValidationFailed, NotFound) as exc:
        raise ReportFailed(exc.detail) from exc
    material = content.Material(
        type=report.type,
        portfolio_name=portfolio.name,
        base_currency=portfolio.base_currency,
        start=report.start,
        end=report.end,
        benchmark=report.benchmark,
        ledger=entries,
        base_entries=got.entries,
        performance=await anyio.to_thread.run_sync(
            performance_figures, got, window, portfolio.base_currency
        ),
        generated_at=utcnow(),
    )
    return Prepared(material, report.format, f"{report.user_id}/{report.id}.{report.format}")


def _render(material: content.Material, fmt: str) -> bytes:
    # Imported here: only workers render, and ReportLab and Jinja2 would slow every API start.
    from flint.reports import html, pdf

    if fmt == "csv":
        return content.to_csv(material).encode("utf-8")
    document = content.build(material, with_charts=True)
    return pdf.render(document) if fmt == "pdf" else html.render(document)


async def produce(ctx: RenderContext, prepared: Prepared) -> Stored:
    """Render (off the event loop: drawing is CPU work) and store; no transaction is open."""
    data = await anyio.to_thread.run_sync(_render, prepared.material, prepared.format)
    await ctx.store.put(prepared.key, data)
    return Stored(prepared.key, len(data))


async def complete(
    session: AsyncSession, ctx: RenderContext, report_id: uuid.UUID, stored: Stored
) -> str:
    report = await _locked(session, report_id)
    if report is None:  # deleted while it was being rendered
        await ctx.store.delete(stored.key)
        return "missing"
    if report.status in FINAL:
        return report.status
    now = utcnow()
    report.status = "completed"
    report.reason = None
    report.storage_key = stored.key
    report.size_bytes = stored.size
    report.content_type = MEDIA_TYPES[report.format]
    report.filename = filename(report)
    report.completed_at = now
    report.updated_at = now
    await _announce(session, report, ctx.settings)
    await track(
        session, report.user_id, "report_generated", {"kind": report.type, "format": report.format}
    )
    await session.flush()
    log.info("report_completed", report_id=str(report.id), type=report.type, size=stored.size)
    return report.status


async def fail(session: AsyncSession, report_id: uuid.UUID, reason: str) -> str:
    report = await _locked(session, report_id)
    if report is None:
        return "missing"
    if report.status in FINAL:
        return report.status
    report.status = "failed"
    report.reason = reason[:500]
    report.updated_at = utcnow()
    await session.flush()
    log.warning("report_failed", report_id=str(report.id), reason=report.reason)
    return report.status


async def _announce(session: AsyncSession, report: Report, settings: Settings) -> None:
    """The one place a ready report is announced to its owner: in the app, and by the
    channels their preferences choose for reports."""
    user = await session.get(User, report.user_id)
    if user is None or not user.is_active:
        return
    period = f"{report.start or 'the first transaction'} to {report.end}"
    title = content.TITLES[report.type]
    url = download_url(settings, report)
    await notify(
        session,
        user_id=user.id,
        kind=NotificationKind.REPORT,
        title="Your report is ready",
        body=(
            f"Your {title.lower()} of the portfolio {report.portfolio_name!r} "
            f"({period}, {report.format.upper()}) is ready.\n\n"
            f"Download it (signed in): {url}\n\n"
            "It stays available until you delete it.\n"
        ),
        data={"reportId": str(report.id), "downloadUrl": url, "format": report.format},
    )


async def stale(
    session: AsyncSession, *, queued_for: timedelta, running_for: timedelta
) -> list[uuid.UUID]:
    """Reports whose job was lost (a failed publish, a worker gone for good): publish again."""
    now = utcnow()
    stmt = (
        select(Report.id)
        .where(
            or_(
                (Report.status == "queued") & (Report.updated_at < now - queued_for),
                (Report.status == "running") & (Report.updated_at < now - running_for),
            )
        )
        .order_by(Report.updated_at)
        .limit(500)
    )
    return list((await session.execute(stmt)).scalars())


def permanent_reason(exc: BaseException) -> str:
    """What a failed report tells its owner about an error nobody expected."""
    if isinstance(exc, FlintError):
        return exc.detail
    return f"The report could not be made ({type(exc).__name__}); the error was logged."

"""Reports through the API and a real worker: requested (202 queued), rendered, downloaded;
their numbers are the portfolio's own (read back from the PDF, the HTML and the CSV)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from matplotlib import image
from pypdf import PdfReader
from sqlalchemy import select, update

from flint.billing.api import Plans
from flint.config import Settings
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.notifications.models import OutboxMessage
from flint.reports import service, tasks
from flint.reports.models import Report
from flint.reports.schemas import ReportIn
from tests.conftest import IN_CI, Account, assert_problem, error_fields, lose_handoffs
from tests.portfolio.test_performance_api import make_portfolio
from tests.reports.conftest import V1, download, finished, request_report, running_worker

PORTFOLIO = "/api/v1/portfolio"


async def performance_of(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, end: date, **params: str
) -> dict[str, Any]:
    response = await client.get(
        f"{PORTFOLIO}/{portfolio_id}/performance",
        params={"end": end.isoformat(), **params},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pdf_lines(data: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(data))
    return [line.strip() for page in reader.pages for line in page.extract_text().splitlines()]


def shown(quantity: float) -> str:
    """A quantity as the statements print it: exact, grouped, no trailing zeros."""
    return format(Decimal(str(quantity)).normalize(), ",f")


async def report_row(app: FastAPI, report_id: str) -> Report:
    async with app.state.runtime.sessions() as session:
        row = await session.get(Report, uuid.UUID(report_id))
        assert row is not None
        return row


async def ready_emails(app: FastAPI) -> list[OutboxMessage]:
    async with app.state.runtime.sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == "report")
        return list((await session.execute(stmt)).scalars())


@pytest.mark.usefixtures("worker")
async def test_a_pdf_summary_is_rendered_by_the_worker_with_the_portfolios_figures(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    queued = await request_report(client, alice, portfolio_id, end=end.isoformat())
    assert queued["downloadUrl"] is None
    assert queued["portfolioName"] == "Growth"
    assert (queued["start"], queued["end"], queued["benchmark"]) == (None, end.isoformat(), "SPY")

    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report
    assert report["reason"] is None
    assert report["contentType"] == "application/pdf"
    assert report["startedAt"] <= report["completedAt"]
    response = await download(client, alice, report)
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="growth-portfolio-summary-{end.isoformat()}.pdf"'
    )
    assert report["filename"] == f"growth-portfolio-summary-{end.isoformat()}.pdf"
    assert len(response.content) == report["sizeBytes"]
    assert response.content.startswith(b"%PDF-")

    perf = await performance_of(client, alice, portfolio_id, end)
    lines = pdf_lines(response.content)
    assert "Growth" in lines
    assert f"Period {start.isoformat()} to {end.isoformat()}" in " ".join(lines)
    market_value = f"{Decimal(perf['marketValue']):,.2f}"
    assert lines[lines.index("MARKET VALUE") + 1] == market_value
    assert lines[lines.index("COST BASIS") + 1] == f"{Decimal(perf['costBasis']):,.2f}"
    for holding in perf["holdings"]:  # each row: symbol, quantity, avg cost, price, value, ...
        row = lines.index(holding["symbol"])
        assert lines[row + 1] == shown(holding["quantity"])
        assert lines[row + 4] == f"{Decimal(holding['value']):,.2f}"
    assert lines[lines.index("Total") + 1] == market_value
    assert "Value over the period" in lines
    assert any(line.startswith("Generated ") and line.endswith(" UTC by Flint") for line in lines)
    assert any(re.fullmatch(r"Page 1 of \d", line) for line in lines)

    (mail,) = await ready_emails(app)
    assert mail.subject == "Your report is ready"
    assert mail.recipient == alice.email
    assert report["downloadUrl"] in mail.body
    inbox = await client.get("/api/v1/notifications", headers=alice.headers)
    (told,) = [n for n in inbox.json()["notifications"] if n["kind"] == "report"]
    assert told["title"] == "Your report is ready"
    assert told["data"]["downloadUrl"] == report["downloadUrl"]


@pytest.mark.usefixtures("worker")
async def test_page_one_renders_to_an_a4_png(
    client: httpx.AsyncClient, alice: Account, tmp_path: Path
) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        message = "pdftoppm (Debian's poppler-utils) is needed to render page one"
        if IN_CI:
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    portfolio_id, _, end = await make_portfolio(client, alice)
    queued = await request_report(
        client, alice, portfolio_id, type="performance", end=end.isoformat()
    )
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes((await download(client, alice, report)).content)

    command = [pdftoppm, "-png", "-r", "72", "-f", "1", "-l", "1", "-singlefile", pdf]
    await anyio.run_process([*command, tmp_path / "one"], check=True)
    pixels = image.imread(tmp_path / "one.png", format="png")
    height, width = pixels.shape[:2]
    assert width in (595, 596)  # A4 at 72 dpi
    assert abs(height / width - 297 / 210) < 0.01
    assert pixels.std() > 0.05  # text, boxes and tables, not a blank page


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("fmt", ["pdf", "html"])
async def test_markup_in_a_portfolio_name_is_printed_as_text(
    client: httpx.AsyncClient, alice: Account, fmt: str
) -> None:
    name = "<script>alert('x')</script> & <b>Co</b> $1^$"
    day = (utcnow().date() - timedelta(days=10)).isoformat()
    lot = {"symbol": "AAPL", "quantity": "3", "purchasePrice": "180", "purchaseDate": day}
    created = await client.post(
        f"{PORTFOLIO}/", json={"name": name, "assets": [lot]}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    queued = await request_report(client, alice, created.json()["portfolioId"], format=fmt)
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report
    assert report["filename"].startswith("script-alert-x-script-b-co-b-1-portfolio-summary-")
    response = await download(client, alice, report)

    if fmt == "pdf":
        lines = pdf_lines(response.content)
        period = next(i for i, line in enumerate(lines) if line.startswith("Period "))
        assert lines[period - 1] == name  # the title block's subtitle
        assert lines[2] == name  # the page header
        return
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.html"')
    page = response.text
    assert (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt; $1^$" in page
    )
    assert "<script" not in page
    assert "<b>" not in page
    # Self-contained: the charts are inline, nothing is fetched from elsewhere.
    assert page.count('src="data:image/png;base64,') == 2
    assert "http://" not in page
    assert "https://" not in page


TITLES = {
    "portfolio_summary": "Portfolio summary",
    "performance": "Performance report",
    "transactions": "Transaction statement",
    "tax_lots": "Tax lots (FIFO)",
}


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("kind", list(TITLES))
async def test_each_type_is_a_statement_in_pdf_and_html(
    client: httpx.AsyncClient, alice: Account, kind: str
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    sale = {"type": "sell", "symbol": "AAPL", "quantity": "4", "price": "170"}
    sale["date"] = (start + timedelta(days=50)).isoformat()
    added = await client.post(
        f"{PORTFOLIO}/{portfolio_id}/transactions", json=sale, headers=alice.headers
    )
    assert added.status_code == 201, added.text
    window = {"type": kind, "end": end.isoformat()}
    as_pdf = await request_report(client, alice, portfolio_id, format="pdf", **window)
    as_html = await request_report(client, alice, portfolio_id, format="html", **window)
    pdf = await download(client, alice, await finished(client, alice, as_pdf["reportId"]))
    page = (await download(client, alice, await finished(client, alice, as_html["reportId"]))).text

    lines = pdf_lines(pdf.content)
    text = " ".join(lines)
    title = TITLES[kind]
    assert lines[lines.index(title) + 1] == "Growth"  # the title block, after the page header
    assert f"<h1>{title}</h1>" in page
    perf = await performance_of(client, alice, portfolio_id, end)
    market_value = f"{Decimal(perf['marketValue']):,.2f}"
    if kind == "transactions":
        assert lines[lines.index("TRANSACTIONS") + 1] == "4"
        assert "sell AAPL 4 170.00" in text
        assert lines[lines.index("MARKET VALUE AT END") + 1] == market_value
    elif kind == "tax_lots":
        assert "first in, first out (FIFO)" in text
        closed = lines.index("Lots closed in the period") + 9  # past the column names
        assert lines[closed : closed + 5] == [
            "AAPL",
            start.isoformat(),
            sale["date"],
            "4",
            "680.00",  # proceeds, then the cost of 4 of the 10 units bought at 150
        ]
        assert lines[closed + 5] == "600.00"
    else:
        assert market_value in lines
        assert "Holdings on" in text
    for line in ("Notes", "FLINT"):
        assert line in lines
    if kind != "tax_lots":  # its figures are the lots'
        assert market_value in page


def parse_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.usefixtures("worker")
async def test_a_transactions_csv_holds_the_ledger_rows_of_the_period(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    for days, entry in (
        (50, {"type": "sell", "symbol": "AAPL", "quantity": "4", "price": "170", "fee": "1"}),
        (60, {"type": "dividend", "symbol": "AAPL", "amount": "2.5"}),
        (70, {"type": "fee", "amount": "1.25"}),
    ):
        entry["date"] = (start + timedelta(days=days)).isoformat()
        added = await client.post(
            f"{PORTFOLIO}/{portfolio_id}/transactions", json=entry, headers=alice.headers
        )
        assert added.status_code == 201, added.text
    since = start + timedelta(days=20)
    queued = await request_report(
        client,
        alice,
        portfolio_id,
        type="transactions",
        format="csv",
        start=since.isoformat(),
        end=end.isoformat(),
    )
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report
    rows = parse_csv(await download(client, alice, report))

    ledger = (
        await client.get(f"{PORTFOLIO}/{portfolio_id}/transactions", headers=alice.headers)
    ).json()["transactions"]
    expected = [t for t in ledger if since.isoformat() <= t["date"] <= end.isoformat()]
    assert [t["type"] for t in expected] == ["buy", "deposit", "sell", "dividend", "fee"]
    assert len(rows) == len(expected)

    def number(value: str) -> Decimal | None:
        return Decimal(value) if value else None

    for row, entry in zip(rows, expected, strict=True):
        assert (row["date"], row["type"], row["symbol"] or None, row["currency"]) == (
            entry["date"],
            entry["type"],
            entry["symbol"],
            entry["currency"],
        )
        for column in ("quantity", "price", "amount"):
            wanted = entry[column]
            assert number(row[column]) == (None if wanted is None else Decimal(str(wanted)))
        assert (number(row["fee"]) or 0) == Decimal(str(entry["fee"]))


@pytest.mark.usefixtures("worker")
async def test_a_tax_lot_csv_matches_sales_to_the_oldest_lots(
    client: httpx.AsyncClient, alice: Account
) -> None:
    today = utcnow().date()
    end = today - timedelta(days=2)
    first, second, sold = (today - timedelta(days=d) for d in (90, 60, 30))
    lots = [
        {"symbol": "AAPL", "quantity": "10", "purchasePrice": "100", "purchaseDate": str(first)},
        {"symbol": "AAPL", "quantity": "10", "purchasePrice": "120", "purchaseDate": str(second)},
    ]
    created = await client.post(
        f"{PORTFOLIO}/", json={"name": "Lots", "assets": lots}, headers=alice.headers
    )
    portfolio_id = created.json()["portfolioId"]
    sale = {"date": str(sold), "type": "sell", "symbol": "AAPL", "quantity": "15", "price": "130"}
    sale["fee"] = "3"
    added = await client.post(
        f"{PORTFOLIO}/{portfolio_id}/transactions", json=sale, headers=alice.headers
    )
    assert added.status_code == 201, added.text

    queued = await request_report(
        client, alice, portfolio_id, type="tax_lots", format="csv", end=end.isoformat()
    )
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report
    rows = parse_csv(await download(client, alice, report))
    price = (await performance_of(client, alice, portfolio_id, end))["holdings"][0]["price"]

    proceeds = Decimal(15 * 130 - 3)
    assert rows == [
        {
            "status": "open",
            "symbol": "AAPL",
            "acquired": str(second),
            "disposed": "",
            "quantity": "5",
            "cost_basis": "600.00",
            "proceeds": "",
            "market_value": f"{Decimal(price) * 5:.2f}",
            "gain": f"{Decimal(price) * 5 - 600:.2f}",
            "term": "short",
            "currency": "USD",
        },
        {
            "status": "closed",
            "symbol": "AAPL",
            "acquired": str(first),
            "disposed": str(sold),
            "quantity": "10",
            "cost_basis": "1000.00",
            "proceeds": f"{proceeds * 10 / 15:.2f}",
            "market_value": "",
            "gain": f"{proceeds * 10 / 15 - 1000:.2f}",
            "term": "short",
            "currency": "USD",
        },
        {
            "status": "closed",
            "symbol": "AAPL",
            "acquired": str(second),
            "disposed": str(sold),
            "quantity": "5",
            "cost_basis": "600.00",
            "proceeds": f"{proceeds * 5 / 15:.2f}",
            "market_value": "",
            "gain": f"{proceeds * 5 / 15 - 600:.2f}",
            "term": "short",
            "currency": "USD",
        },
    ]


@pytest.mark.usefixtures("worker")
async def test_performance_and_summary_csvs_are_the_performance_endpoints_tables(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    since = start + timedelta(days=10)
    window = {"start": since.isoformat(), "end": end.isoformat(), "format": "csv"}
    series_report = await request_report(client, alice, portfolio_id, type="performance", **window)
    summary_report = await request_report(client, alice, portfolio_id, **window)
    perf = await performance_of(client, alice, portfolio_id, end, start=since.isoformat())

    done = await finished(client, alice, series_report["reportId"])
    series = parse_csv(await download(client, alice, done))
    assert [row["date"] for row in series] == [p["date"] for p in perf["series"]]
    for row, point in zip(series, perf["series"], strict=True):
        assert row["value"] == point["value"]  # money as the API sends it
        assert row["net_flow"] == point["netFlow"]
        assert float(row["cumulative_return"]) == point["cumulativeReturn"]
        assert row["currency"] == perf["baseCurrency"]
        assert (float(row["daily_return"]) if row["daily_return"] else None) == point["dailyReturn"]

    done = await finished(client, alice, summary_report["reportId"])
    holdings = parse_csv(await download(client, alice, done))
    assert [row["symbol"] for row in holdings] == [
        *(h["symbol"] for h in perf["holdings"]),
        "USD",
    ]
    for row, holding in zip(holdings, perf["holdings"], strict=False):
        assert Decimal(row["quantity"]) == Decimal(str(holding["quantity"]))
        assert row["value"] == holding["value"]
        assert float(row["weight"]) == holding["weight"]
    assert sum(Decimal(row["value"]) for row in holdings) == Decimal(perf["marketValue"])
    assert {row["currency"] for row in holdings} == {perf["baseCurrency"]}


async def test_a_report_whose_portfolio_is_deleted_before_it_renders_fails_with_the_reason(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    queued = await request_report(client, alice, portfolio_id, end=end.isoformat())
    deleted = await client.delete(f"{PORTFOLIO}/{portfolio_id}", headers=alice.headers)
    assert deleted.status_code == 204

    async with running_worker(settings):
        report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "failed"
    assert report["reason"] == "The portfolio was deleted after the report was requested."
    assert report["portfolioId"] is None
    assert report["portfolioName"] == "Growth"
    assert report["downloadUrl"] is None
    problem = assert_problem(
        await client.get(f"{V1}/{queued['reportId']}/download", headers=alice.headers), 409
    )
    assert "failed" in problem["detail"]


@pytest.mark.usefixtures("worker")
async def test_an_empty_period_fails_at_once_without_retries(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, _ = await make_portfolio(client, alice)
    before = start - timedelta(days=5)
    queued = await request_report(
        client, alice, portfolio_id, type="performance", end=before.isoformat()
    )
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "failed"
    assert report["reason"] == (
        f"The portfolio has no transactions on or before {before}: there is nothing to report "
        "for this period."
    )
    assert (await report_row(app, queued["reportId"])).attempts == 1
    assert await ready_emails(app) == []


async def test_a_transient_failure_is_retried_until_the_report_is_made(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    blocker = settings.data_dir / "reports"  # a file where the store wants its folder
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")
    portfolio_id, _, end = await make_portfolio(client, alice)
    queued = await request_report(client, alice, portfolio_id, format="csv", end=end.isoformat())
    async with running_worker(settings):
        for _ in range(300):
            row = await report_row(app, queued["reportId"])
            if row.attempts >= 2:
                break
            assert row.status in ("queued", "running")
            await anyio.sleep(0.1)
        assert row.attempts >= 2  # the first try failed on the store and was retried
        blocker.unlink()
        report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report
    assert (settings.data_dir / "reports" / alice.user_id / f"{queued['reportId']}.csv").is_file()


@pytest.mark.usefixtures("worker")
async def test_rendering_a_completed_report_again_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    queued = await request_report(client, alice, portfolio_id, format="csv", end=end.isoformat())
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed"
    before = (await download(client, alice, report)).content

    again = await anyio.to_thread.run_sync(
        lambda: tasks.render.apply(args=[queued["reportId"]]).get()
    )
    assert again == "completed"
    after = (await client.get(f"{V1}/{queued['reportId']}", headers=alice.headers)).json()
    assert after == report
    assert (await download(client, alice, report)).content == before
    assert len(await ready_emails(app)) == 1


async def test_the_sweep_publishes_a_report_whose_job_was_lost(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    runtime = app.state.runtime
    body = ReportIn(type="transactions", portfolio_id=portfolio_id, end=end, format="csv")
    async with runtime.sessions() as session:  # committed without its after-commit publish
        report = await service.request(
            session, runtime.get(MarketData), runtime.get(Plans), uuid.UUID(alice.user_id), body
        )
        await lose_handoffs(session)  # and the message the broker took, lost
        await session.commit()
        report_id = str(report.id)
    async with running_worker(settings):
        assert await anyio.to_thread.run_sync(lambda: tasks.sweep.apply().get()) == 0
        async with runtime.sessions() as session:
            await session.execute(update(Report).values(updated_at=utcnow() - timedelta(minutes=3)))
            await session.commit()
        assert await anyio.to_thread.run_sync(lambda: tasks.sweep.apply().get()) == 1
        done = await finished(client, alice, report_id)
    assert done["status"] == "completed", done


@pytest.mark.usefixtures("worker")
async def test_deleting_a_report_removes_its_row_and_file(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    queued = await request_report(client, alice, portfolio_id, format="csv", end=end.isoformat())
    await finished(client, alice, queued["reportId"])
    stored = settings.data_dir / "reports" / alice.user_id / f"{queued['reportId']}.csv"
    assert stored.is_file()

    deleted = await client.delete(f"{V1}/{queued['reportId']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert not stored.exists()
    assert_problem(await client.get(f"{V1}/{queued['reportId']}", headers=alice.headers), 404)
    listed = await client.get(f"{V1}/user/{alice.user_id}", headers=alice.headers)
    assert listed.json() == {"reports": []}


async def test_reports_are_listed_newest_first_and_download_waits_for_completion(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    first = await request_report(client, alice, portfolio_id, end=end.isoformat())
    second = await request_report(client, alice, portfolio_id, type="tax_lots", format="html")

    listed = await client.get(f"{V1}/user/{alice.user_id}", headers=alice.headers)
    assert listed.status_code == 200
    reports = listed.json()["reports"]
    assert [r["reportId"] for r in reports] == [second["reportId"], first["reportId"]]
    assert reports[0]["end"] == utcnow().date().isoformat()  # the default end is today
    assert {r["status"] for r in reports} == {"queued"}

    problem = assert_problem(
        await client.get(f"{V1}/{first['reportId']}/download", headers=alice.headers), 409
    )
    assert "queued" in problem["detail"]


async def test_another_users_reports_are_404_everywhere(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    report = await request_report(client, alice, portfolio_id, end=end.isoformat())
    report_id = report["reportId"]

    for response in (
        await client.get(f"{V1}/{report_id}", headers=bob.headers),
        await client.get(f"{V1}/{report_id}/download", headers=bob.headers),
        await client.delete(f"{V1}/{report_id}", headers=bob.headers),
        await client.get(f"{V1}/user/{alice.user_id}", headers=bob.headers),
        await client.post(
            f"{V1}/",
            json={"type": "performance", "format": "pdf", "portfolioId": portfolio_id},
            headers=bob.headers,
        ),
    ):
        assert_problem(response, 404)
    mine = await client.get(f"{V1}/user/{bob.user_id}", headers=bob.headers)
    assert mine.json() == {"reports": []}
    theirs = await client.get(f"{V1}/{report_id}", headers=alice.headers)
    assert theirs.json()["status"] == "queued"  # bob's delete changed nothing
    assert_problem(await client.get(f"{V1}/{report_id}"), 401)


@dataclass(frozen=True)
class FromToday:
    """A date ``days`` from the day the test runs (not the day the module was read: the two
    differ when a run crosses midnight, and tomorrow became today)."""

    days: int


def _body(**changes: Any) -> dict[str, Any]:
    today = utcnow().date()
    body: dict[str, Any] = {
        "type": "performance",
        "format": "pdf",
        "start": (today - timedelta(days=30)).isoformat(),
        "end": (today - timedelta(days=1)).isoformat(),
    }
    body.update(changes)
    return {
        k: (today + timedelta(days=v.days)).isoformat() if isinstance(v, FromToday) else v
        for k, v in body.items()
        if v is not None
    }


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"type": "balance_sheet"}, {"body.type"}),
        ({"format": "docx"}, {"body.format"}),
        ({"type": None}, {"body.type"}),
        ({"start": "2024-02-30"}, {"body.start"}),
        ({"start": FromToday(0), "end": FromToday(-1)}, {"body.start"}),
        ({"end": FromToday(1)}, {"body.end"}),
        ({"benchmark": "NOPE-NOPE"}, {"body.benchmark"}),
        ({"color": "blue"}, {"body.color"}),
    ],
)
async def test_bad_requests_are_422_naming_the_field_and_create_nothing(
    client: httpx.AsyncClient, alice: Account, changes: dict[str, Any], fields: set[str]
) -> None:
    portfolio_id, _, _ = await make_portfolio(client, alice)
    response = await client.post(
        f"{V1}/", json={**_body(**changes), "portfolioId": portfolio_id}, headers=alice.headers
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == fields
    listed = await client.get(f"{V1}/user/{alice.user_id}", headers=alice.headers)
    assert listed.json() == {"reports": []}


async def test_a_missing_or_malformed_portfolio_id_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for portfolio in (None, "not-a-uuid"):
        body = _body() if portfolio is None else {**_body(), "portfolioId": portfolio}
        problem = assert_problem(await client.post(f"{V1}/", json=body, headers=alice.headers), 422)
        assert error_fields(problem) == {"body.portfolioId"}
    problem = assert_problem(await client.get(f"{V1}/not-a-uuid", headers=alice.headers), 422)
    assert error_fields(problem) == {"path.reportId"}
